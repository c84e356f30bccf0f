//! FHIR bulk-export NDJSON import: one resource per line, read line by line.
//!
//! Observation lines are imported; Patient lines are skipped (Observations reference patients as
//! `Patient/{id}`, which needs no lookup); a Bundle line is imported as a whole Bundle (its entries
//! labelled by their fullUrl), which is how `hdg synth` writes one patient per line. A malformed
//! line, or a line of another resource type, is a rejection of that line (`line N`), not of the
//! file; bytes that are not UTF-8 fail the file.

use std::io::BufRead;

use crate::collector::Collector;
use crate::fhir_import::{standalone_observation, structure_error, syntax_reason};
use crate::fhir_model::Resource;
use crate::field_error::FieldError;
use crate::import::ImportError;

/// Imports NDJSON from a buffered reader.
pub(crate) fn import_ndjson<R: BufRead>(
    mut reader: R,
    c: &mut Collector,
) -> Result<(), ImportError> {
    let mut line = Vec::new();
    let mut offset: u64 = 0;
    let mut number = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        let mut start = offset;
        offset += n as u64;
        let mut body = &line[..];
        if number == 1 && body.starts_with(b"\xEF\xBB\xBF") {
            body = &body[3..];
            start += 3;
        }
        if let Err(e) = std::str::from_utf8(body) {
            return Err(ImportError::NotUtf8 {
                offset: start + e.valid_up_to() as u64,
            });
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let label = format!("line {number}");
        match serde_json::from_slice::<Resource>(body) {
            Err(e) if e.is_data() => c.reject(&label, structure_error(&e)),
            Err(e) => {
                let at = start + (e.column() as u64).saturating_sub(1);
                c.reject(
                    &label,
                    FieldError::new(
                        "json",
                        format!("malformed JSON at byte offset {at}: {}", syntax_reason(&e)),
                    ),
                );
            }
            Ok(res) => match res.resource_type.as_deref() {
                Some("Observation") => standalone_observation(c, &label, res),
                Some("Patient") => {}
                Some("Bundle") => {
                    if let Err(e) = crate::fhir_import::import_json_slice(body, 0, c) {
                        c.reject(&label, FieldError::new("json", e.to_string()));
                    }
                }
                Some(_) => c.reject(
                    &label,
                    FieldError::new(
                        "resourceType",
                        "only Observation, Patient and Bundle lines are imported",
                    ),
                ),
                None => c.reject(
                    &label,
                    FieldError::new("resourceType", "missing resourceType"),
                ),
            },
        }
    }
}
