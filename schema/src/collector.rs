//! `Collector`: the state shared by every format's importer — counts, rejections, duplicate
//! detection, pseudonymisation, and the strict-mode rule for the sink.

use std::collections::HashSet;

use crate::catalog::Catalog;
use crate::enrolments::Enrolments;
use crate::fhir_convert;
use crate::fhir_model::Resource;
use crate::field_error::FieldError;
use crate::ids::Pseudonym;
use crate::import::{ImportOptions, Mode};
use crate::observation::Observation;
use crate::pseudonym::PseudonymKey;
use crate::report::{ImportReport, Rejection};

/// Accumulates one file's report and passes accepted observations to the sink.
pub(crate) struct Collector<'a> {
    file: &'a str,
    strict: bool,
    pub(crate) catalog: &'a Catalog,
    key: PseudonymKey,
    enrolled: Option<&'a Enrolments>,
    report: ImportReport,
    /// 128-bit hashes of resource identities (`Observation/{id}` or fullUrl) seen so far.
    seen_entries: HashSet<[u8; 16]>,
    sink: &'a mut dyn FnMut(Observation),
}

impl<'a> Collector<'a> {
    pub(crate) fn new(
        file: &'a str,
        opts: &ImportOptions<'a>,
        sink: &'a mut dyn FnMut(Observation),
    ) -> Self {
        Collector {
            file,
            strict: opts.mode == Mode::Strict,
            catalog: opts.catalog,
            key: PseudonymKey::derive(&opts.pseudonym_key),
            enrolled: opts.enrolled,
            report: ImportReport::default(),
            seen_entries: HashSet::new(),
            sink,
        }
    }

    /// Records a rejected entry.
    pub(crate) fn reject(&mut self, entry: &str, error: FieldError) {
        self.report.rejected.push(Rejection {
            file: self.file.to_string(),
            entry: entry.to_string(),
            field: error.field,
            reason: error.reason,
        });
    }

    /// True the first time a resource identity is seen in this file; false for a duplicate.
    pub(crate) fn first_sighting(&mut self, identity: &str) -> bool {
        let hash = blake3::hash(identity.as_bytes());
        let mut short = [0u8; 16];
        short.copy_from_slice(&hash.as_bytes()[..16]);
        self.seen_entries.insert(short)
    }

    /// The pseudonym of a normalised patient identity (from the patient's key when enrolled).
    pub(crate) fn pseudonym(&self, patient_key: &str) -> Pseudonym {
        match self.enrolled {
            Some(enrolled) => enrolled.pseudonym(&self.key, patient_key),
            None => self.key.pseudonym(patient_key),
        }
    }

    /// Converts a resolved Observation resource and accepts or rejects each result.
    pub(crate) fn observation(&mut self, entry: &str, res: &Resource, patient: Pseudonym) {
        match fhir_convert::convert(res, patient, self.catalog) {
            Err(e) => self.reject(entry, e),
            Ok(parts) => {
                for part in parts {
                    match part {
                        Ok(obs) => self.accept(obs),
                        Err(e) => self.reject(entry, e),
                    }
                }
            }
        }
    }

    /// Counts a valid observation and passes it to the sink (unless strict mode has already
    /// refused the batch).
    ///
    /// Duplicates are detected by resource identity (`first_sighting`), not by content: sources
    /// such as Synthea emit the same measurement as two distinct resources (e.g. a panel component
    /// and a separate Observation). Both are accepted and counted; they have the same `RecordId`,
    /// so storage keeps one record (writes are idempotent by id).
    pub(crate) fn accept(&mut self, obs: Observation) {
        match &obs.value {
            crate::value::Value::Quantity(_) => {
                *self
                    .report
                    .accepted_by_indicator
                    .entry(obs.indicator.clone())
                    .or_insert(0) += 1
            }
            _ => self.report.non_numeric += 1,
        }
        // Strict mode refuses the batch after any rejection, so stop feeding the sink.
        if !self.strict || self.report.rejected.is_empty() {
            (self.sink)(obs);
        }
    }

    pub(crate) fn finish(self) -> ImportReport {
        self.report
    }
}
