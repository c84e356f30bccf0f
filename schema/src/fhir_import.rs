//! Streaming import of one FHIR R4 JSON resource: a `Bundle` or a single `Observation`.
//!
//! The file is never held whole in memory: a serde visitor walks the top-level object, and the
//! `entry` array is consumed by a `SeqAccess` visitor one entry at a time (each entry's resource
//! is kept as raw JSON text only while it is converted). Patient entries are remembered
//! (`fullUrl` -> `Patient/{id}`); an Observation whose `urn:uuid:` subject has not been seen yet is
//! held until the end of the Bundle, then resolved or rejected. Resources other than Observation
//! and Patient inside a Bundle (Encounter, Condition, ...) carry no observation and are skipped.

use std::collections::HashMap;
use std::io::Read;

use serde::de::DeserializeSeed;
use serde_json::value::RawValue;

use crate::bundle_visitor::{TopLevel, TopSummary};
use crate::collector::Collector;
use crate::fhir_model::{RawEntry, Resource};
use crate::fhir_subject::{Subject, parse_subject};
use crate::field_error::FieldError;
use crate::import::ImportError;
use crate::utf8_reader::Utf8Reader;

const BUNDLE_TYPES: [&str; 4] = ["transaction", "batch", "collection", "searchset"];

/// An Observation waiting for its Bundle-local subject to be resolved.
struct Pending {
    label: String,
    resource: Resource,
    local: String,
}

#[derive(Default)]
pub(crate) struct BundleState {
    /// Patient entry `fullUrl` -> patient identity (`Patient/{id}`, or the fullUrl when no id).
    patients: HashMap<String, String>,
    pending: Vec<Pending>,
    pub(crate) fatal: Option<ImportError>,
}

/// Imports a FHIR JSON document (Bundle or Observation) from a byte stream.
pub(crate) fn import_json<R: Read>(reader: R, c: &mut Collector) -> Result<(), ImportError> {
    let mut input = Utf8Reader::new(reader);
    let mut state = BundleState::default();
    let result = {
        // BufReader: serde_json reads byte by byte, which std serves from BufReader's buffer.
        let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(&mut input));
        let top = TopLevel::new(&mut *c, &mut state).deserialize(&mut de);
        top.and_then(|top| de.end().map(|()| top))
    };
    let top = match result {
        Ok(top) => top,
        Err(e) => {
            return Err(state
                .fatal
                .take()
                .unwrap_or_else(|| stream_error(&e, &input)));
        }
    };
    finish_document(top, state, c)
}

/// Imports a FHIR JSON document already in memory and known to be UTF-8 (an NDJSON line, or a
/// request body after its byte order mark, which is `base` bytes long): the same walk as
/// [`import_json`], reading the slice directly instead of through a reader, which serde_json
/// does several times faster (most of an ingest's parsing time). Error offsets count from
/// `base` bytes before `body`.
pub(crate) fn import_json_slice(
    body: &[u8],
    base: u64,
    c: &mut Collector,
) -> Result<(), ImportError> {
    let mut state = BundleState::default();
    let result = {
        let mut de = serde_json::Deserializer::from_slice(body);
        let top = TopLevel::new(&mut *c, &mut state).deserialize(&mut de);
        top.and_then(|top| de.end().map(|()| top))
    };
    match result {
        Ok(top) => finish_document(top, state, c),
        Err(e) => Err(state.fatal.take().unwrap_or_else(|| {
            document_error(&e, |line, column| base + offset_in(body, line, column))
        })),
    }
}

/// What is left once the top-level object is walked: a Bundle's held Observations resolved,
/// or the single Observation rebuilt and imported.
fn finish_document(
    top: TopSummary,
    mut state: BundleState,
    c: &mut Collector,
) -> Result<(), ImportError> {
    match top.resource_type.as_deref() {
        Some("Bundle") => {
            check_bundle_type(top.bundle_type.as_deref())?;
            for p in std::mem::take(&mut state.pending) {
                match state.patients.get(&p.local) {
                    Some(key) => {
                        let patient = c.pseudonym(key);
                        c.observation(&p.label, &p.resource, patient);
                    }
                    None => c.reject(
                        &p.label,
                        FieldError::new(
                            "subject.reference",
                            "reference does not resolve to a Patient entry in this Bundle",
                        ),
                    ),
                }
            }
            Ok(())
        }
        Some("Observation") => {
            let text = rebuild_object(&top.rest);
            match serde_json::from_str::<Resource>(&text) {
                Ok(res) => {
                    observation_resource(c, "resource", res, None, None);
                }
                Err(e) => c.reject("resource", structure_error(&e)),
            }
            Ok(())
        }
        Some(other) => Err(ImportError::UnsupportedResource {
            resource_type: other.to_string(),
        }),
        None => Err(ImportError::NotFhir {
            reason: "no resourceType at the top level".into(),
        }),
    }
}

pub(crate) fn check_bundle_type(bundle_type: Option<&str>) -> Result<(), ImportError> {
    match bundle_type {
        Some(t) if BUNDLE_TYPES.contains(&t) => Ok(()),
        other => Err(ImportError::UnsupportedBundleType {
            bundle_type: other.unwrap_or("(missing)").to_string(),
        }),
    }
}

fn rebuild_object(fields: &[(String, Box<RawValue>)]) -> String {
    let mut text = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&serde_json::to_string(key).expect("string serialises"));
        text.push(':');
        text.push_str(value.get());
    }
    text.push('}');
    text
}

/// Maps a serde error of the streamed document to a whole-file error.
fn stream_error<R: Read>(e: &serde_json::Error, input: &Utf8Reader<R>) -> ImportError {
    match (e.classify(), input.invalid_at()) {
        (serde_json::error::Category::Io, Some(offset)) => ImportError::NotUtf8 { offset },
        // From serde's (line, byte column): the reader is ahead by BufReader's buffer.
        _ => document_error(e, |line, column| {
            input
                .offset_of(line, column)
                .unwrap_or_else(|| input.offset().saturating_sub(1))
        }),
    }
}

/// Byte offset of serde's 1-based (line, byte column) in `body`.
fn offset_in(body: &[u8], line: usize, column: usize) -> u64 {
    let line_start = match line.checked_sub(2) {
        None => 0,
        Some(k) => body
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(k)
            .map_or(body.len(), |(i, _)| i + 1),
    };
    (line_start + column.saturating_sub(1)) as u64
}

/// Maps a serde error of a document to a whole-document error; `offset` turns serde's
/// (line, column) into a byte offset.
fn document_error(e: &serde_json::Error, offset: impl Fn(usize, usize) -> u64) -> ImportError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => ImportError::Io(std::io::Error::other(e.to_string())),
        Category::Syntax | Category::Eof => ImportError::MalformedJson {
            offset: offset(e.line(), e.column()),
            line: e.line(),
            column: e.column(),
            reason: syntax_reason(e),
        },
        Category::Data => ImportError::NotFhir {
            reason: format!(
                "unexpected JSON structure at line {}, column {}",
                e.line(),
                e.column()
            ),
        },
    }
}

/// The parser's message without its position suffix (syntax messages never quote input data).
pub(crate) fn syntax_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    text.rfind(" at line ")
        .map_or(text.clone(), |at| text[..at].to_string())
}

/// A resource whose JSON types do not match FHIR (messages would quote values, so only the
/// position is given).
pub(crate) fn structure_error(e: &serde_json::Error) -> FieldError {
    FieldError::new(
        "resource",
        format!(
            "does not match the FHIR R4 JSON structure (column {} of the resource)",
            e.column()
        ),
    )
}

/// Deduplicates, resolves the subject and converts one Observation. Returns it as pending when
/// its Bundle-local subject is not known yet (`patients` is `None` outside a Bundle).
fn observation_resource(
    c: &mut Collector,
    label: &str,
    res: Resource,
    full_url: Option<&str>,
    patients: Option<&HashMap<String, String>>,
) -> Option<Pending> {
    let identity = res
        .id
        .as_ref()
        .map(|id| format!("Observation/{id}"))
        .or_else(|| full_url.map(str::to_string));
    if let Some(identity) = identity
        && !c.first_sighting(&identity)
    {
        c.reject(
            label,
            FieldError::new(
                "id",
                "duplicate entry: the same resource appears earlier in this file",
            ),
        );
        return None;
    }
    let key = match parse_subject(res.subject.as_ref()) {
        Err(e) => {
            c.reject(label, e);
            return None;
        }
        Ok(Subject::Pseudonym(p)) => {
            c.observation(label, &res, p);
            return None;
        }
        Ok(Subject::Patient { key, full }) => {
            patients.and_then(|m| m.get(&full)).cloned().unwrap_or(key)
        }
        Ok(Subject::Local(local)) => match patients {
            None => {
                c.reject(
                    label,
                    FieldError::new(
                        "subject.reference",
                        "a urn: reference only resolves inside a Bundle",
                    ),
                );
                return None;
            }
            Some(m) => match m.get(&local) {
                Some(key) => key.clone(),
                None => {
                    return Some(Pending {
                        label: label.to_string(),
                        resource: res,
                        local,
                    });
                }
            },
        },
    };
    let patient = c.pseudonym(&key);
    c.observation(label, &res, patient);
    None
}

/// Imports an Observation that is not inside a Bundle (NDJSON line).
pub(crate) fn standalone_observation(c: &mut Collector, label: &str, res: Resource) {
    observation_resource(c, label, res, None, None);
}

pub(crate) fn process_entry(
    c: &mut Collector,
    state: &mut BundleState,
    index: usize,
    entry: RawEntry,
) {
    let mut label = format!("entry[{index}]");
    let full_url = match entry
        .full_url
        .map(|raw| serde_json::from_str::<String>(raw.get()))
    {
        None => None,
        Some(Ok(url)) => Some(url),
        Some(Err(_)) => {
            c.reject(
                &label,
                FieldError::new("fullUrl", "fullUrl is not a string"),
            );
            return;
        }
    };
    if let Some(url) = &full_url {
        label = format!("entry[{index}] {url}");
    }
    // Entries without a resource (e.g. DELETE requests in a transaction) carry no observation.
    let Some(raw) = entry.resource else { return };
    let res: Resource = match serde_json::from_str(raw.get()) {
        Ok(res) => res,
        Err(e) => return c.reject(&label, structure_error(&e)),
    };
    match res.resource_type.as_deref() {
        Some("Patient") => {
            let key = res
                .id
                .as_ref()
                .map(|id| format!("Patient/{id}"))
                .or_else(|| full_url.clone());
            if let (Some(url), Some(key)) = (full_url, key) {
                state.patients.insert(url, key);
            }
        }
        Some("Observation") => {
            if let Some(p) =
                observation_resource(c, &label, res, full_url.as_deref(), Some(&state.patients))
            {
                state.pending.push(p);
            }
        }
        Some(_) => {}
        None => c.reject(
            &label,
            FieldError::new("resourceType", "missing resourceType"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // That a document in memory imports as the streamed one, errors and offsets included, is
    // tested through the public entry points (`import::tests`).

    #[test]
    fn serde_positions_are_byte_offsets_in_the_slice() {
        let body = b"{\n  \"a\": 1,\n  \"b\": x\n}";
        let e = serde_json::from_slice::<serde_json::Value>(body).unwrap_err();
        let x = body.iter().position(|b| *b == b'x').unwrap() as u64;
        assert_eq!(offset_in(body, e.line(), e.column()), x);
        assert_eq!(offset_in(body, 1, 1), 0);
    }
}
