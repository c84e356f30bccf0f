//! CSV import. The first row must be exactly
//!
//! ```text
//! patient,indicator,value,unit,effective,source
//! ```
//!
//! - `patient`: a patient reference, pseudonymised like FHIR references: `Patient/{id}` or a bare
//!   `{id}` (meaning `Patient/{id}`); `urn:uuid:` references are refused (no Bundle to resolve).
//! - `indicator`: the indicator code (LOINC, or `system|code`).
//! - `value` and `unit`: with a unit, the value must be a decimal and is encoded through the catalog
//!   (unknown indicator, unit or range: rejected). Without a unit: an empty value is `Absent`, a
//!   decimal value of a catalog indicator is rejected (missing unit), anything else is `Text`.
//! - `effective`: FHIR date/dateTime (`2024-05-01`, `2024-05-01T08:30:00Z`, with offset).
//! - `source`: free text; empty means `unknown`.
//!
//! Status is `final`, recorded = effective, no supersedes. Fields are trimmed; RFC 4180 quoting.
//! Rejections name the entry as `line N`.

use std::io::Read;

use crate::collector::Collector;
use crate::decimal::parse_decimal;
use crate::fhir_convert::UNKNOWN_SOURCE;
use crate::fhir_subject::{Subject, parse_reference};
use crate::field_error::FieldError;
use crate::import::ImportError;
use crate::observation::{Observation, ObservationData};
use crate::status::Status;
use crate::time::Timestamp;
use crate::utf8_reader::Utf8Reader;
use crate::value::Value;

/// The required header row.
pub const HEADER: &str = "patient,indicator,value,unit,effective,source";

/// Imports CSV from a byte stream.
pub(crate) fn import_csv<R: Read>(reader: R, c: &mut Collector) -> Result<(), ImportError> {
    let mut input = Utf8Reader::new(reader);
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(&mut input);
    let mut record = csv::StringRecord::new();
    let mut header_seen = false;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                drop(csv);
                return Err(csv_error(e, &input));
            }
        }
        if !header_seen {
            if !record.iter().eq(HEADER.split(',')) {
                return Err(ImportError::CsvHeader);
            }
            header_seen = true;
            continue;
        }
        let label = format!("line {}", record.position().map_or(0, |p| p.line()));
        match row(&record, c) {
            Ok(obs) => c.accept(obs),
            Err(e) => c.reject(&label, e),
        }
    }
    if header_seen {
        Ok(())
    } else {
        Err(ImportError::CsvHeader)
    }
}

fn csv_error<R: Read>(e: csv::Error, input: &Utf8Reader<R>) -> ImportError {
    if let Some(offset) = input.invalid_at() {
        return ImportError::NotUtf8 { offset };
    }
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ImportError::Io(io),
        csv::ErrorKind::Utf8 { pos, .. } => ImportError::NotUtf8 {
            offset: pos.map_or(0, |p| p.byte()),
        },
        other => ImportError::Io(std::io::Error::other(format!("{other:?}"))),
    }
}

fn row(record: &csv::StringRecord, c: &Collector) -> Result<Observation, FieldError> {
    if record.len() != 6 {
        return Err(FieldError::new(
            "row",
            "expected 6 columns: patient,indicator,value,unit,effective,source",
        ));
    }
    let [patient, indicator, value, unit, effective, source] = std::array::from_fn(|i| &record[i]);
    let patient = patient_key(patient)?;
    if indicator.is_empty() {
        return Err(FieldError::new("indicator", "missing indicator"));
    }
    if effective.is_empty() {
        return Err(FieldError::new("effective", "missing effective time"));
    }
    let effective = Timestamp::parse_fhir(effective)
        .map_err(|e| FieldError::new("effective", e.to_string()))?;
    let value = csv_value(indicator, value, unit, c)?;
    Ok(Observation::new(ObservationData {
        patient: c.pseudonym(&patient),
        indicator: indicator.to_string(),
        value,
        effective,
        source: if source.is_empty() {
            UNKNOWN_SOURCE.to_string()
        } else {
            source.to_string()
        },
        recorded: effective,
        status: Status::Final,
        supersedes: None,
    }))
}

fn patient_key(text: &str) -> Result<String, FieldError> {
    if text.is_empty() {
        return Err(FieldError::new("patient", "missing patient"));
    }
    let reference = if text.contains(['/', ':', '#']) {
        text.to_string()
    } else {
        format!("Patient/{text}")
    };
    match parse_reference(&reference) {
        Ok(Subject::Patient { key, .. }) => Ok(key),
        Ok(_) => Err(FieldError::new(
            "patient",
            "a urn: reference only resolves inside a FHIR Bundle",
        )),
        Err(reason) => Err(FieldError::new("patient", reason)),
    }
}

fn csv_value(indicator: &str, value: &str, unit: &str, c: &Collector) -> Result<Value, FieldError> {
    let known = c.catalog.get(indicator);
    if !unit.is_empty() {
        let ind = known.ok_or_else(|| {
            FieldError::new(
                "indicator",
                format!("unknown indicator {indicator} (not in the catalog) for a numeric value"),
            )
        })?;
        return ind
            .encode(value, unit)
            .map(Value::Quantity)
            .map_err(|e| FieldError::new("value", e.to_string()));
    }
    if value.is_empty() {
        Ok(Value::Absent)
    } else if known.is_some() && parse_decimal(value).is_ok() {
        Err(FieldError::new("unit", "missing unit for a numeric value"))
    } else {
        Ok(Value::Text(value.to_string()))
    }
}
