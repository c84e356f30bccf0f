//! An enrolment as a hospital and a patient sign it (`POST /v1/enrolments` at the hospital's
//! node): the hospital's local reference of the patient linked to the patient's public key, or
//! the link undone. It is an approved request ([`crate::approvals`], of kind
//! [`Kind::Enrolment`](crate::signed::Kind::Enrolment)) that two keys sign over the same body: a
//! clinician or administrator registered at that hospital, and the patient the body names, which
//! proves the patient holds the key. The body names the hospital, so neither signature can be
//! used at another node. Who may sign and what a node holds are the node's rules.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Domain of an enrolment request's digest ([`crate::approvals::digest`]): its replay key and
/// the subject of its ledger entry.
pub const DIGEST_DOMAIN: &str = "hdg enrolment v1";

/// Longest reference accepted, bytes (a FHIR id is at most 64 characters; an identifier's
/// system is a URI).
pub const MAX_REFERENCE_BYTES: usize = 256;

/// Link, or undo the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Link the reference to the key: the hospital's records of the reference taken in from
    /// now on are filed under the patient's key.
    Enrol,
    /// Undo the link: records taken in from now on are filed under the hospital's own
    /// pseudonym of the reference again.
    Unenrol,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Enrol => "enrol",
            Action::Unenrol => "unenrol",
        })
    }
}

/// The body the staff member and the patient both sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    /// Link or unlink.
    pub action: Action,
    /// The node's name (its `name` in `/v1/health` and the cluster file): the hospital whose
    /// reference this is.
    pub hospital: String,
    /// The hospital's patient reference, normalised as the importer names a record's subject:
    /// `Patient/<id>`, or `<system>|<value>` for an identifier such as a medical record number.
    pub reference: String,
    /// The patient's ed25519 public key, 64 hex digits.
    pub patient: String,
}

/// Checks that `reference` is spelled as the importer names a record's subject (see
/// [`Enrolment::reference`]); `Err` says what is wrong.
pub fn check_reference(reference: &str) -> Result<(), &'static str> {
    if reference.is_empty() || reference.len() > MAX_REFERENCE_BYTES {
        return Err("must be 1 to 256 bytes");
    }
    if reference
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err("must not contain spaces or control characters");
    }
    if let Some(id) = reference.strip_prefix("Patient/") {
        // A FHIR id: letters, digits, '-' and '.', at most 64.
        let fhir_id = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
        if id.is_empty() || id.len() > 64 || !id.chars().all(fhir_id) {
            return Err("Patient/<id> needs a FHIR id (1 to 64 letters, digits, '-' or '.')");
        }
        return Ok(());
    }
    match reference.split_once('|') {
        Some((system, value)) if !system.is_empty() && !value.is_empty() => Ok(()),
        _ => Err("must be Patient/<id> or <system>|<value>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_spelled_as_the_importer_names_subjects() {
        for good in [
            "Patient/123",
            "Patient/a-b.c",
            "urn:oid:1.2.36.146.595.217.0.1|12345",
        ] {
            assert_eq!(check_reference(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Patient/",
            "Patient/a b",
            "Patient/x_y",
            "123",
            "|123",
            "system|",
            "Patient/1\n",
        ] {
            assert!(check_reference(bad).is_err(), "{bad:?}");
        }
        assert!(check_reference(&format!("Patient/{}", "1".repeat(65))).is_err());
    }

    #[test]
    fn the_body_reads_back_and_refuses_unknown_fields() {
        let e = Enrolment {
            action: Action::Unenrol,
            hospital: "node0".into(),
            reference: "Patient/1".into(),
            patient: "ab".repeat(32),
        };
        let text = serde_json::to_string(&e).unwrap();
        assert!(
            text.starts_with(r#"{"action":"unenrol","hospital":"node0""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Enrolment>(&text).unwrap(), e);
        let extra = text.replace('}', r#","role":"doctor"}"#);
        assert!(serde_json::from_str::<Enrolment>(&extra).is_err());
    }
}
