//! Who an observation is about: FHIR `subject` parsed into a patient identity to pseudonymise.
//!
//! Rules (documented for users in the crate doc):
//! - `identifier` with system `urn:hdg:pseudonym` (what `to_fhir` writes) is the pseudonym itself.
//! - `reference` `Patient/{id}` (optionally with a base URL or `/_history/n`) is the identity
//!   `Patient/{id}`; inside a Bundle a reference equal to a Patient entry's `fullUrl` resolves to
//!   that entry.
//! - `urn:uuid:` / `urn:oid:` references must resolve to a Patient entry of the same Bundle.
//! - another identifier (system and value) is the identity `{system}|{value}`.
//! - contained (`#id`) and non-Patient subjects (Group, Device, Location) are rejected.

use crate::fhir_model::Reference;
use crate::field_error::FieldError;
use crate::ids::Pseudonym;

/// Identifier system under which `to_fhir` writes the patient pseudonym.
pub const PSEUDONYM_SYSTEM: &str = "urn:hdg:pseudonym";

/// A parsed subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    /// Already a pseudonym.
    Pseudonym(Pseudonym),
    /// A patient identity to pseudonymise (`key`), and the reference as written (`full`), which a
    /// Bundle may know as a `fullUrl`.
    Patient { key: String, full: String },
    /// A Bundle-local reference (`urn:uuid:`, `urn:oid:`) that only a Bundle entry resolves.
    Local(String),
}

/// Parses an Observation's `subject`.
pub(crate) fn parse_subject(subject: Option<&Reference>) -> Result<Subject, FieldError> {
    let missing = || FieldError::new("subject", "missing subject");
    let subject = subject.ok_or_else(missing)?;
    let identifier = subject.identifier.as_ref();
    if let Some(id) = identifier.filter(|i| i.system.as_deref() == Some(PSEUDONYM_SYSTEM)) {
        let value = id.value.as_deref().unwrap_or_default();
        return value.parse().map(Subject::Pseudonym).map_err(|_| {
            FieldError::new(
                "subject.identifier",
                "not a valid pseudonym (64 lowercase hex digits)",
            )
        });
    }
    if let Some(reference) = subject.reference.as_deref() {
        return parse_reference(reference)
            .map_err(|reason| FieldError::new("subject.reference", reason));
    }
    match identifier.map(|i| (i.system.as_deref(), i.value.as_deref())) {
        Some((Some(system), Some(value))) if !system.is_empty() && !value.is_empty() => {
            Ok(Subject::Patient {
                key: format!("{system}|{value}"),
                full: String::new(),
            })
        }
        Some(_) => Err(FieldError::new(
            "subject.identifier",
            "identifier needs both system and value",
        )),
        None => Err(missing()),
    }
}

/// Parses a patient reference string (FHIR `subject.reference`, or the CSV `patient` column).
pub(crate) fn parse_reference(reference: &str) -> Result<Subject, String> {
    if reference.is_empty() {
        return Err("empty subject reference".into());
    }
    if reference.starts_with('#') {
        return Err("contained subject references are not supported".into());
    }
    if reference.starts_with("urn:uuid:") || reference.starts_with("urn:oid:") {
        return Ok(Subject::Local(reference.to_string()));
    }
    let path = reference
        .find("/_history/")
        .map_or(reference, |at| &reference[..at]);
    let mut segments = path.rsplit('/');
    let (id, kind) = (
        segments.next().unwrap_or_default(),
        segments.next().unwrap_or_default(),
    );
    let valid_id = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    match kind {
        "Patient" if valid_id => Ok(Subject::Patient {
            key: format!("Patient/{id}"),
            full: reference.to_string(),
        }),
        "Patient" => Err("subject reference has an invalid Patient id".into()),
        k if !k.is_empty()
            && k.len() <= 40
            && k.bytes().all(|b| b.is_ascii_alphabetic())
            && k.as_bytes()[0].is_ascii_uppercase() =>
        {
            Err(format!("subject is a {k}, not a Patient"))
        }
        _ => Err("unrecognised subject reference (expected Patient/{id} or urn:uuid:...)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir_model::Identifier;

    fn by_reference(r: &str) -> Result<Subject, FieldError> {
        parse_subject(Some(&Reference {
            reference: Some(r.into()),
            ..Default::default()
        }))
    }

    fn patient(key: &str, full: &str) -> Result<Subject, FieldError> {
        Ok(Subject::Patient {
            key: key.into(),
            full: full.into(),
        })
    }

    #[test]
    fn references() {
        assert_eq!(
            by_reference("Patient/123"),
            patient("Patient/123", "Patient/123")
        );
        assert_eq!(
            by_reference("https://x.org/fhir/Patient/a-1/_history/2"),
            patient("Patient/a-1", "https://x.org/fhir/Patient/a-1/_history/2")
        );
        assert_eq!(
            by_reference("urn:uuid:abc"),
            Ok(Subject::Local("urn:uuid:abc".into()))
        );
        assert_eq!(
            by_reference("Group/7").unwrap_err().reason,
            "subject is a Group, not a Patient"
        );
        assert!(by_reference("#p1").is_err());
        assert!(by_reference("Patient/").is_err());
        assert!(by_reference("just-text").is_err());
        assert_eq!(
            parse_subject(None).unwrap_err(),
            FieldError::new("subject", "missing subject")
        );
    }

    #[test]
    fn identifiers() {
        let with_id = |system: &str, value: &str| Reference {
            identifier: Some(Identifier {
                system: Some(system.into()),
                value: Some(value.into()),
            }),
            ..Default::default()
        };
        let hex = "0a".repeat(32);
        assert_eq!(
            parse_subject(Some(&with_id(PSEUDONYM_SYSTEM, &hex))),
            Ok(Subject::Pseudonym(hex.parse().unwrap()))
        );
        assert_eq!(
            parse_subject(Some(&with_id(PSEUDONYM_SYSTEM, "nope")))
                .unwrap_err()
                .field,
            "subject.identifier"
        );
        assert_eq!(
            parse_subject(Some(&with_id("http://mrn", "42"))),
            patient("http://mrn|42", "")
        );
        assert_eq!(
            parse_subject(Some(&Reference::default()))
                .unwrap_err()
                .field,
            "subject"
        );
    }
}
