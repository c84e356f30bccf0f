//! Enrolment: who may link a hospital's patient reference to a patient's key, and the rule a
//! node applies before it does (`POST /v1/enrolments`, [`super::enrolment_endpoint`]).
//!
//! The request ([`hdg_wire::enrolment::Enrolment`]) is approved by two keys over the same body:
//! - a clinician or administrator registered at this hospital (the registry's `hospital` is
//!   this node's name): staff of another hospital cannot file records here;
//! - the patient the body names, registered as a patient of the cluster: the co-signature
//!   proves the patient holds the key their records will be filed under.
//!
//! A reference is linked to one key and a key to one reference at a time: enrolling a linked
//! reference, or a key linked elsewhere, is refused until it is unenrolled (by the same two
//! kinds of signature). The node adds freshness and replay (the request's digest) and applies
//! a checked change to its [`Enrolments`] without a restart.

use std::collections::BTreeSet;

use ed25519_dalek::VerifyingKey;
use hdg_schema::{Enrolments, Pseudonym, PseudonymKey};
use serde_json::json;
use thiserror::Error;

use hdg_storage::StoredEnrolment;
pub use hdg_wire::enrolment::{Action, DIGEST_DOMAIN, Enrolment, check_reference};

use super::approvals::{ApprovedRequest, approvers, digest};
use super::registry::{Registry, Role};
use super::signed::{Kind, RequestError};
use crate::net::identity::parse_key;

/// Why an enrolment is refused (never names the reference: it identifies the patient at the
/// hospital).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnrolmentError {
    /// An approval does not check out.
    #[error("enrolment refused: approval {index}: {error}")]
    Request {
        /// The approval's position.
        index: usize,
        /// What is wrong with it.
        error: RequestError,
    },
    /// The body is not an enrolment, or a field breaks its rule.
    #[error("enrolment refused: malformed request ({0})")]
    Malformed(String),
    /// The body names another hospital.
    #[error("enrolment refused: the request is for hospital {named:?}, this node is {here:?}")]
    OtherHospital {
        /// The hospital the body names.
        named: String,
        /// This node's name.
        here: String,
    },
    /// The patient the body names did not sign it.
    #[error(
        "enrolment refused: the patient has not co-signed it (an enrolment carries the signature of the key it names, over the same body)"
    )]
    NoPatientSignature,
    /// The key is not a registered patient.
    #[error(
        "enrolment refused: the key is not a registered patient of the cluster (register it first: hdg registry add --role patient)"
    )]
    NotAPatient,
    /// No clinician or administrator of this hospital approved it.
    #[error("enrolment refused: {0}")]
    NotStaffHere(String),
    /// The change conflicts with the links in force.
    #[error("enrolment refused: {0}")]
    Conflict(&'static str),
}

impl EnrolmentError {
    /// The HTTP status of the refusal: the approval's own ([`RequestError::status`]), 400
    /// malformed or misdirected, 403 not allowed, 409 in conflict with the links in force.
    pub fn status(&self) -> u16 {
        match self {
            EnrolmentError::Request { error, .. } => error.status(),
            EnrolmentError::Malformed(_) | EnrolmentError::OtherHospital { .. } => 400,
            EnrolmentError::NoPatientSignature
            | EnrolmentError::NotAPatient
            | EnrolmentError::NotStaffHere(_) => 403,
            EnrolmentError::Conflict(_) => 409,
        }
    }
}

/// A checked enrolment, ready to anchor and apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEnrolment {
    /// Link or unlink.
    pub action: Action,
    /// The node-keyed pseudonym of the reference.
    pub reference: Pseudonym,
    /// The patient's key.
    pub patient_key: [u8; 32],
    /// The approving staff member's key (the entry's actor).
    pub staff: [u8; 32],
    /// The request's digest: its replay key and the entry's subject.
    pub digest: [u8; 32],
    /// What the patient's audit shows: the action, the hospital and who enrolled them.
    pub text: String,
}

/// This node, as the rule sees it.
pub struct Hospital<'a> {
    /// The node's name.
    pub name: &'a str,
    /// The registry in force.
    pub registry: &'a Registry,
    /// The node's key for references' pseudonyms.
    pub pseudonyms: &'a PseudonymKey,
}

/// Checks `req` against `here`: the body and the two signatures. The node then checks that the
/// request is fresh and new, and only then [`check_links`], so a replay of an applied request
/// is refused as a replay.
pub fn check_enrolment(
    req: &ApprovedRequest,
    here: &Hospital<'_>,
) -> Result<CheckedEnrolment, EnrolmentError> {
    let body: Enrolment = serde_json::from_str(&req.body)
        .map_err(|e| EnrolmentError::Malformed(format!("body: {e}")))?;
    if body.hospital != here.name {
        return Err(EnrolmentError::OtherHospital {
            named: body.hospital,
            here: here.name.to_owned(),
        });
    }
    check_reference(&body.reference)
        .map_err(|e| EnrolmentError::Malformed(format!("reference {e}")))?;
    let patient_key = parse_key(&body.patient)
        .filter(|k| VerifyingKey::from_bytes(k).is_ok())
        .ok_or_else(|| {
            EnrolmentError::Malformed("patient: not an ed25519 public key in 64 hex digits".into())
        })?;
    let signers: BTreeSet<[u8; 32]> = approvers(req, Kind::Enrolment)
        .map_err(|(index, error)| EnrolmentError::Request { index, error })?;
    if !signers.contains(&patient_key) {
        return Err(EnrolmentError::NoPatientSignature);
    }
    if !here.registry.has(Role::Patient, &patient_key) {
        return Err(EnrolmentError::NotAPatient);
    }
    let staff = staff_approver(&signers, here)?;
    let reference = here.pseudonyms.pseudonym(&body.reference);
    let text = json!({
        "action": body.action.to_string(),
        "hospital": here.name,
        "by": here.registry.name_of(&staff),
        "by_key": hex::encode(staff),
    })
    .to_string();
    Ok(CheckedEnrolment {
        action: body.action,
        reference,
        patient_key,
        staff,
        digest: digest(req, DIGEST_DOMAIN),
        text,
    })
}

/// The first approver who is a clinician or administrator of this hospital; refused naming the
/// other hospital when an approver is staff there instead.
fn staff_approver(
    signers: &BTreeSet<[u8; 32]>,
    here: &Hospital<'_>,
) -> Result<[u8; 32], EnrolmentError> {
    if let Some(staff) = signers
        .iter()
        .find(|k| here.registry.is_staff_of(k, here.name))
    {
        return Ok(*staff);
    }
    let elsewhere = signers.iter().find_map(|k| {
        let staff = here.registry.has(Role::Clinician, k) || here.registry.has(Role::Admin, k);
        here.registry.hospital_of(k).filter(|_| staff)
    });
    Err(EnrolmentError::NotStaffHere(match elsewhere {
        Some(other) => format!(
            "approved by staff of hospital {other:?}, not of {:?}: only a hospital's own clinicians and administrators enrol its patients",
            here.name
        ),
        None => format!(
            "no approval by a clinician or administrator registered at hospital {:?}",
            here.name
        ),
    }))
}

/// Whether `checked` fits the links in force: one key per reference and one reference per key.
pub fn check_links(
    checked: &CheckedEnrolment,
    enrolled: &Enrolments,
) -> Result<(), EnrolmentError> {
    let key = &checked.patient_key;
    let linked = enrolled.key_of(&checked.reference);
    match checked.action {
        Action::Enrol => match linked {
            Some(k) if k == key => Err(EnrolmentError::Conflict(
                "the reference is already enrolled to this key",
            )),
            Some(_) => Err(EnrolmentError::Conflict(
                "the reference is already enrolled to another key (unenrol it first)",
            )),
            None if enrolled.reference_of(key).is_some() => Err(EnrolmentError::Conflict(
                "the key is already enrolled for another reference at this hospital",
            )),
            None => Ok(()),
        },
        Action::Unenrol => match linked {
            Some(k) if k == key => Ok(()),
            Some(_) => Err(EnrolmentError::Conflict(
                "the reference is enrolled to another key",
            )),
            None => Err(EnrolmentError::Conflict("the reference is not enrolled")),
        },
    }
}

/// `enrolled` with `checked` applied (after [`check_links`], so an enrolment replaces
/// nothing).
pub fn applied(enrolled: &Enrolments, checked: &CheckedEnrolment) -> Enrolments {
    let mut next = enrolled.clone();
    match checked.action {
        Action::Enrol => next.relink(checked.reference, checked.patient_key),
        Action::Unenrol => {
            next.unlink(&checked.reference);
        }
    }
    next
}

/// The enrolments file's links with the stored changes on top: a stored link replaces the
/// file's for its reference and for its key, a stored unenrolment removes it.
pub fn with_stored(mut file: Enrolments, stored: &[StoredEnrolment]) -> Enrolments {
    for s in stored {
        if s.enrolled {
            file.relink(s.reference, s.patient_key);
        } else {
            file.unlink(&s.reference);
        }
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use hdg_wire::enrolment::Action;

    const T: i64 = 1_750_000_000_000;
    const STAFF: u8 = 1;
    const PATIENT: u8 = 2;
    const OTHER_STAFF: u8 = 3;
    const OTHER_PATIENT: u8 = 4;
    const RESEARCHER: u8 = 5;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    fn public(b: u8) -> [u8; 32] {
        key(b).verifying_key().to_bytes()
    }

    fn registry() -> Registry {
        let mut r = Registry::default();
        for (b, name, role, hospital) in [
            (STAFF, "clinician-a", Role::Clinician, Some("node0")),
            (OTHER_STAFF, "admin-b", Role::Admin, Some("node1")),
            (PATIENT, "patient-1", Role::Patient, None),
            (OTHER_PATIENT, "patient-2", Role::Patient, None),
            (RESEARCHER, "institute", Role::Researcher, None),
        ] {
            r.identities
                .push((name.into(), role, key(b).verifying_key()));
            r.set_hospital(role, &public(b), hospital).unwrap();
        }
        r
    }

    fn body(action: Action, reference: &str, patient: u8) -> Enrolment {
        Enrolment {
            action,
            hospital: "node0".into(),
            reference: reference.into(),
            patient: hex::encode(public(patient)),
        }
    }

    fn request(body: &Enrolment, signers: &[u8]) -> ApprovedRequest {
        let mut req = ApprovedRequest {
            body: serde_json::to_string(body).unwrap(),
            nonce: hex::encode([7u8; 16]),
            time: T,
            approvals: vec![],
        };
        for s in signers {
            req.approve(&key(*s), Kind::Enrolment);
        }
        req
    }

    fn check(
        req: &ApprovedRequest,
        enrolled: &Enrolments,
    ) -> Result<CheckedEnrolment, EnrolmentError> {
        let registry = registry();
        let pseudonyms = PseudonymKey::derive(&[9; 32]);
        let checked = check_enrolment(
            req,
            &Hospital {
                name: "node0",
                registry: &registry,
                pseudonyms: &pseudonyms,
            },
        )?;
        check_links(&checked, enrolled)?;
        Ok(checked)
    }

    #[test]
    fn staff_and_patient_enrol_and_then_unenrol_the_reference() {
        let none = Enrolments::default();
        let enrol = check(
            &request(
                &body(Action::Enrol, "Patient/7", PATIENT),
                &[STAFF, PATIENT],
            ),
            &none,
        )
        .unwrap();
        let pseudonyms = PseudonymKey::derive(&[9; 32]);
        assert_eq!(enrol.reference, pseudonyms.pseudonym("Patient/7"));
        assert_eq!(
            (enrol.patient_key, enrol.staff),
            (public(PATIENT), public(STAFF))
        );
        // The audit's text names who enrolled, never the reference.
        assert!(
            enrol.text.contains("clinician-a") && !enrol.text.contains("Patient/7"),
            "{}",
            enrol.text
        );
        let after = applied(&none, &enrol);
        assert_eq!(
            after.pseudonym(&pseudonyms, "Patient/7"),
            Pseudonym::from_public_key(&public(PATIENT))
        );
        let unenrol = check(
            &request(
                &body(Action::Unenrol, "Patient/7", PATIENT),
                &[PATIENT, STAFF],
            ),
            &after,
        )
        .unwrap();
        assert_eq!(applied(&after, &unenrol), none);
    }

    #[test]
    fn each_broken_rule_is_refused_by_name() {
        let none = Enrolments::default();
        let refused = |req: &ApprovedRequest, enrolled: &Enrolments| {
            let e = check(req, enrolled).unwrap_err();
            (e.status(), e.to_string())
        };
        // No co-signature by the patient (the staff member alone, or with another patient).
        let b = body(Action::Enrol, "Patient/7", PATIENT);
        for signers in [&[STAFF][..], &[STAFF, OTHER_PATIENT]] {
            let (status, e) = refused(&request(&b, signers), &none);
            assert_eq!(status, 403);
            assert!(e.contains("has not co-signed"), "{e}");
        }
        // Staff of another hospital, or nobody's staff.
        let (status, e) = refused(&request(&b, &[OTHER_STAFF, PATIENT]), &none);
        assert_eq!(status, 403);
        assert!(e.contains("staff of hospital \"node1\""), "{e}");
        let (_, e) = refused(&request(&b, &[RESEARCHER, PATIENT]), &none);
        assert!(
            e.contains("no approval by a clinician or administrator"),
            "{e}"
        );
        // A key that is not a registered patient (here: a researcher's).
        let (status, e) = refused(
            &request(
                &body(Action::Enrol, "Patient/7", RESEARCHER),
                &[STAFF, RESEARCHER],
            ),
            &none,
        );
        assert_eq!(status, 403);
        assert!(e.contains("not a registered patient"), "{e}");
        // Another hospital's request, a reference the importer never names, a bad key.
        let mut elsewhere = b.clone();
        elsewhere.hospital = "node1".into();
        let (status, e) = refused(&request(&elsewhere, &[STAFF, PATIENT]), &none);
        assert_eq!(status, 400);
        assert!(e.contains("for hospital \"node1\""), "{e}");
        let (_, e) = refused(
            &request(&body(Action::Enrol, "7", PATIENT), &[STAFF, PATIENT]),
            &none,
        );
        assert!(e.contains("reference must be Patient/<id>"), "{e}");
        let mut bad_key = b.clone();
        bad_key.patient = "zz".into();
        let (_, e) = refused(&request(&bad_key, &[STAFF, PATIENT]), &none);
        assert!(e.contains("patient: not an ed25519"), "{e}");
        // A body with a field the wire does not know (a role, say).
        let mut req = request(&b, &[STAFF, PATIENT]);
        req.body = req.body.replace('}', r#","role":"doctor"}"#);
        let (_, e) = refused(&req, &none);
        assert!(e.contains("unknown field `role`"), "{e}");
        // A tampered approval.
        let mut req = request(&b, &[STAFF, PATIENT]);
        req.approvals[1].signature = hex::encode([0u8; 64]);
        let (status, e) = refused(&req, &none);
        assert_eq!(status, 401);
        assert!(e.contains("approval 1"), "{e}");
        // Links in force: one key per reference, one reference per key.
        let enrolled = applied(
            &none,
            &check(&request(&b, &[STAFF, PATIENT]), &none).unwrap(),
        );
        let (status, e) = refused(&request(&b, &[STAFF, PATIENT]), &enrolled);
        assert_eq!(status, 409);
        assert!(e.contains("already enrolled to this key"), "{e}");
        let (_, e) = refused(
            &request(
                &body(Action::Enrol, "Patient/7", OTHER_PATIENT),
                &[STAFF, OTHER_PATIENT],
            ),
            &enrolled,
        );
        assert!(e.contains("already enrolled to another key"), "{e}");
        let (_, e) = refused(
            &request(
                &body(Action::Enrol, "Patient/8", PATIENT),
                &[STAFF, PATIENT],
            ),
            &enrolled,
        );
        assert!(
            e.contains("key is already enrolled for another reference"),
            "{e}"
        );
        let (_, e) = refused(
            &request(
                &body(Action::Unenrol, "Patient/8", PATIENT),
                &[STAFF, PATIENT],
            ),
            &enrolled,
        );
        assert!(e.contains("not enrolled"), "{e}");
        let (_, e) = refused(
            &request(
                &body(Action::Unenrol, "Patient/7", OTHER_PATIENT),
                &[STAFF, OTHER_PATIENT],
            ),
            &enrolled,
        );
        assert!(e.contains("enrolled to another key"), "{e}");
    }

    #[test]
    fn stored_changes_override_the_file() {
        let mut file = Enrolments::default();
        file.link(Pseudonym([1; 32]), [1; 32]).unwrap();
        file.link(Pseudonym([2; 32]), [2; 32]).unwrap();
        file.link(Pseudonym([4; 32]), [4; 32]).unwrap();
        let stored = |r: u8, k: u8, enrolled: bool| StoredEnrolment {
            reference: Pseudonym([r; 32]),
            patient_key: [k; 32],
            enrolled,
            leaf_index: 0,
        };
        // unenrol 1; enrol 3; move key 4 from reference 4 to reference 5
        let merged = with_stored(
            file,
            &[stored(1, 1, false), stored(3, 3, true), stored(5, 4, true)],
        );
        let mut expected = Enrolments::default();
        for (r, k) in [(2, 2), (3, 3), (5, 4)] {
            expected.link(Pseudonym([r; 32]), [k; 32]).unwrap();
        }
        assert_eq!(merged, expected);
    }
}
