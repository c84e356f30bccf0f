//! Erasure requests: who may have a patient's data erased at every node, and the rule each node
//! applies itself before it erases anything (`POST /v1/erasure`, [`super::erasure_endpoint`]).
//!
//! Two forms:
//! - **the patient**: a signed request ([`super::signed`]) whose body is exactly
//!   [`ERASE_BODY`], by a key registered as a patient; it erases the pseudonym of that key;
//! - **the administrators**: an approved request ([`super::approvals`]) whose body names the
//!   patient's pseudonym, approved by at least the registry quorum of registered admins — for a
//!   patient who cannot sign (e.g. one never enrolled with a key).
//!
//! Every node checks the signatures and roles against its own registry. A request posted by a
//! client must also be fresh (inside the clock-skew window) and new (its digest not seen in the
//! window); a peer's copy, forwarded now or delivered late from a queue, is taken on its
//! signatures alone: erasure is idempotent and final (an erased patient's data is never stored
//! or shared again), so a late or repeated copy changes nothing.

use hdg_schema::Pseudonym;
use serde_json::json;
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use hdg_wire::erasure::{AdminErasure, ERASE_BODY, ErasureRequest};

use super::approvals::{approvers, check_fresh, digest};
use super::registry::{Registry, Role};
use super::replay::ReplayCache;
use super::signed::{Kind, RequestError, SignedRequest, check_signature};

/// Domain of an erasure request's digest.
const DOMAIN: &str = "hdg erasure v1";

/// Why an erasure request is refused (never a health value).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ErasureError {
    /// A signature or approval does not check out.
    #[error("erasure refused: {0}")]
    Request(#[from] RequestError),
    /// The body is not an erasure request.
    #[error("erasure refused: malformed request ({0})")]
    Malformed(String),
    /// The signer is not a registered patient.
    #[error("erasure refused: the signer is not a registered patient")]
    NotAPatient,
    /// Fewer registered admins approved than the quorum.
    #[error("erasure refused: {got} registered administrator(s) approved, {quorum} needed")]
    NotEnoughAdmins {
        /// Valid approvals by registered admins.
        got: usize,
        /// The registry quorum.
        quorum: usize,
    },
}

impl ErasureError {
    /// The HTTP status of the refusal: the signed request's own ([`RequestError::status`]),
    /// 403 not allowed, 400 malformed.
    pub fn status(&self) -> u16 {
        match self {
            ErasureError::Request(e) => e.status(),
            ErasureError::Malformed(_) => 400,
            ErasureError::NotAPatient | ErasureError::NotEnoughAdmins { .. } => 403,
        }
    }
}

/// A request whose signatures and roles checked out here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedErasure {
    /// Whose data is erased.
    pub patient: Pseudonym,
    /// Who asked: the patient's key, or the first approving admin's.
    pub actor: [u8; 32],
    /// The request's digest (replay key, delivery queue key).
    pub digest: [u8; 32],
    /// How it was asked, for the patient's audit (who, never a value).
    pub text: String,
}

/// Checks `req`'s signatures and roles against `registry` (admin quorum `quorum`).
pub fn check_erasure(
    req: &ErasureRequest,
    registry: &Registry,
    quorum: usize,
) -> Result<CheckedErasure, ErasureError> {
    match req {
        ErasureRequest::Patient { signed } => {
            let verified = check_signature(signed, Kind::Erase, |_| true)?;
            if signed.body != ERASE_BODY {
                return Err(ErasureError::Malformed(format!(
                    "a patient's erasure request's body is {ERASE_BODY}"
                )));
            }
            let key = verified.signer.to_bytes();
            if !registry.has(Role::Patient, &key) {
                return Err(ErasureError::NotAPatient);
            }
            Ok(CheckedErasure {
                patient: Pseudonym::from_public_key(&key),
                actor: key,
                digest: patient_digest(signed),
                text: json!({ "requested_by": "patient" }).to_string(),
            })
        }
        ErasureRequest::Admins { request } => {
            let body: AdminErasure = serde_json::from_str(&request.body)
                .map_err(|e| ErasureError::Malformed(e.to_string()))?;
            if body.action != "erase" {
                return Err(ErasureError::Malformed("action must be \"erase\"".into()));
            }
            let signers =
                approvers(request, Kind::Erase).map_err(|(_, e)| ErasureError::Request(e))?;
            let admins: Vec<[u8; 32]> = signers
                .into_iter()
                .filter(|k| registry.has(Role::Admin, k))
                .collect();
            if admins.len() < quorum {
                return Err(ErasureError::NotEnoughAdmins {
                    got: admins.len(),
                    quorum,
                });
            }
            let names: Vec<&str> = admins.iter().filter_map(|k| registry.name_of(k)).collect();
            Ok(CheckedErasure {
                patient: body.patient,
                actor: admins[0],
                digest: digest(request, DOMAIN),
                text: json!({ "requested_by": "administrators", "approvers": names }).to_string(),
            })
        }
    }
}

/// Refuses a client's request dated outside `skew_ms` of `now`, or seen already.
pub fn check_fresh_erasure(
    req: &ErasureRequest,
    checked: &CheckedErasure,
    now: i64,
    skew_ms: i64,
    cache: &mut ReplayCache,
) -> Result<(), ErasureError> {
    let time = match req {
        ErasureRequest::Patient { signed } => signed.time,
        ErasureRequest::Admins { request } => request.time,
    };
    match req {
        ErasureRequest::Patient { .. } => {
            let window_ms = skew_ms.unsigned_abs();
            if time.abs_diff(now) > window_ms {
                return Err(ErasureError::Request(if time < now {
                    RequestError::Expired { window_ms }
                } else {
                    RequestError::OutsideClockSkew { window_ms }
                }));
            }
            cache.forget_before(now.saturating_sub(skew_ms));
            cache
                .admit(checked.actor, &checked.digest, time)
                .map_err(|e| ErasureError::Request(e.into()))?;
            Ok(())
        }
        ErasureRequest::Admins { request } => {
            check_fresh(request, checked.digest, now, skew_ms, cache).map_err(ErasureError::Request)
        }
    }
}

/// The digest of a patient's request: over its decoded signature (unique per signed request).
fn patient_digest(signed: &SignedRequest) -> [u8; 32] {
    let mut sig = [0u8; 64];
    // Checked by `check_signature` before this is called.
    let _ = hex::decode_to_slice(&signed.signature, &mut sig);
    let mut h = Sha256::new();
    h.update(DOMAIN.as_bytes());
    h.update(b"\n");
    h.update(sig);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::approvals::ApprovedRequest;
    use crate::node::signed::sign;
    use ed25519_dalek::SigningKey;
    use hdg_schema::Timestamp;

    const NOW: i64 = 1_750_000_000_000;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    /// Patients 1, 2; admins 7, 8, 9; researcher 5.
    fn registry() -> Registry {
        let mut identities = vec![
            (
                "patient-1".to_string(),
                Role::Patient,
                key(1).verifying_key(),
            ),
            (
                "patient-2".to_string(),
                Role::Patient,
                key(2).verifying_key(),
            ),
            (
                "institute".to_string(),
                Role::Researcher,
                key(5).verifying_key(),
            ),
        ];
        for b in 7..=9 {
            identities.push((format!("admin-{b}"), Role::Admin, key(b).verifying_key()));
        }
        Registry {
            identities,
            ..Registry::default()
        }
    }

    fn by_patient(k: &SigningKey, body: &str) -> ErasureRequest {
        ErasureRequest::Patient {
            signed: sign(k, Kind::Erase, body, Timestamp(NOW)),
        }
    }

    fn by_admins(patient: Pseudonym, approvers: &[u8]) -> ErasureRequest {
        let body = serde_json::to_string(&AdminErasure {
            action: "erase".into(),
            patient,
        })
        .unwrap();
        let mut request = ApprovedRequest {
            body,
            nonce: hex::encode([3u8; 16]),
            time: NOW,
            approvals: vec![],
        };
        for b in approvers {
            request.approve(&key(*b), Kind::Erase);
        }
        ErasureRequest::Admins { request }
    }

    #[test]
    fn a_patient_erases_their_own_pseudonym() {
        let c = check_erasure(&by_patient(&key(1), ERASE_BODY), &registry(), 2).unwrap();
        let pk = key(1).verifying_key().to_bytes();
        assert_eq!(c.patient, Pseudonym::from_public_key(&pk));
        assert_eq!(c.actor, pk);
        assert!(c.text.contains("patient"));
    }

    #[test]
    fn a_non_patient_another_body_or_a_bad_signature_is_refused_with_its_status() {
        let r = registry();
        let e = check_erasure(&by_patient(&key(5), ERASE_BODY), &r, 2).unwrap_err();
        assert_eq!((e.clone(), e.status()), (ErasureError::NotAPatient, 403));
        let e = check_erasure(&by_patient(&key(1), r#"{"action":"audit"}"#), &r, 2).unwrap_err();
        assert_eq!(e.status(), 400);
        let ErasureRequest::Patient { mut signed } = by_patient(&key(1), ERASE_BODY) else {
            unreachable!()
        };
        signed.signature = String::new();
        let e = check_erasure(
            &ErasureRequest::Patient {
                signed: signed.clone(),
            },
            &r,
            2,
        )
        .unwrap_err();
        assert_eq!(
            (e.clone(), e.status()),
            (RequestError::Unsigned.into(), 401)
        );
        signed = sign(&key(2), Kind::Erase, ERASE_BODY, Timestamp(NOW));
        signed.signer = hex::encode(key(1).verifying_key().to_bytes());
        let e = check_erasure(&ErasureRequest::Patient { signed }, &r, 2).unwrap_err();
        assert_eq!(e.status(), 401);
    }

    #[test]
    fn k_admins_erase_a_named_patient_and_fewer_cannot() {
        let r = registry();
        let p = Pseudonym([4; 32]);
        let c = check_erasure(&by_admins(p, &[7, 9]), &r, 2).unwrap();
        assert_eq!((c.patient, c.actor), (p, key(7).verifying_key().to_bytes()));
        assert!(
            c.text.contains("admin-7") && c.text.contains("admin-9"),
            "{}",
            c.text
        );
        let e = check_erasure(&by_admins(p, &[7, 1, 5]), &r, 2).unwrap_err();
        assert_eq!(e, ErasureError::NotEnoughAdmins { got: 1, quorum: 2 });
        assert_eq!(e.status(), 403);
    }

    #[test]
    fn a_client_request_must_be_fresh_and_new() {
        let r = registry();
        let req = by_patient(&key(1), ERASE_BODY);
        let c = check_erasure(&req, &r, 2).unwrap();
        let mut cache = ReplayCache::default();
        check_fresh_erasure(&req, &c, NOW + 5, 60_000, &mut cache).unwrap();
        let e = check_fresh_erasure(&req, &c, NOW + 6, 60_000, &mut cache).unwrap_err();
        assert_eq!(e.status(), 403);
        let e = check_fresh_erasure(&req, &c, NOW + 120_000, 60_000, &mut ReplayCache::default())
            .unwrap_err();
        assert_eq!(e.status(), 401);
        let admins = by_admins(Pseudonym([4; 32]), &[7, 8]);
        let c = check_erasure(&admins, &r, 2).unwrap();
        check_fresh_erasure(&admins, &c, NOW, 60_000, &mut cache).unwrap();
        assert!(check_fresh_erasure(&admins, &c, NOW, 60_000, &mut cache).is_err());
    }
}
