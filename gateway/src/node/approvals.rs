//! Requests approved by several keys (k of n): one body, nonce and time, and each approver's
//! signature over the same signed-request message ([`super::signed`], of the request's [`Kind`])
//! with the approver as signer. Used by raw access ([`super::access`]), registry changes
//! ([`super::registry_change`]) and erasures by administrators ([`super::erasure`]). The
//! request's digest (its replay key and ledger subject) is over the decoded nonce, so it has one
//! value however the request is spelled.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use hdg_ledger::sha256;

use super::replay::ReplayCache;
use super::signed::{
    Kind, RequestError, SignedRequest, check_signature, decode_lower, sign_with_nonce,
};

/// One approver's signature over the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The approver's ed25519 public key, hex.
    pub signer: String,
    /// The signature, hex.
    pub signature: String,
}

/// A request with its approvals, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovedRequest {
    /// The request's body (JSON of the request type).
    pub body: String,
    /// The nonce (hex), shared by all approvals.
    pub nonce: String,
    /// When it was made, unix ms.
    pub time: i64,
    /// The approvals.
    pub approvals: Vec<Approval>,
}

impl ApprovedRequest {
    /// Adds `key`'s approval of this request, a request of `kind`.
    pub fn approve(&mut self, key: &ed25519_dalek::SigningKey, kind: Kind) {
        let nonce = hex::decode(&self.nonce).expect("a request made here has a hex nonce");
        let s = sign_with_nonce(
            key,
            kind,
            &self.body,
            hdg_schema::Timestamp(self.time),
            &nonce,
        );
        self.approvals.push(Approval {
            signer: s.signer,
            signature: s.signature,
        });
    }
}

/// Most approvals one request may carry: every policy needs far fewer, and each is a signature
/// the node checks before it knows whether the request is any good.
pub const MAX_APPROVALS: usize = 16;

/// Checks every approval's signature, as approvals of a request of `kind`; the distinct
/// approvers' keys, or the first bad approval's index and why.
pub fn approvers(
    req: &ApprovedRequest,
    kind: Kind,
) -> Result<BTreeSet<[u8; 32]>, (usize, RequestError)> {
    if req.approvals.len() > MAX_APPROVALS {
        return Err((
            MAX_APPROVALS,
            RequestError::Malformed {
                field: "approvals",
                reason: "more than 16 (each costs the node a signature check)",
            },
        ));
    }
    let mut out = BTreeSet::new();
    for (index, a) in req.approvals.iter().enumerate() {
        let signed = SignedRequest {
            body: req.body.clone(),
            signer: a.signer.clone(),
            nonce: req.nonce.clone(),
            time: req.time,
            signature: a.signature.clone(),
        };
        let v = check_signature(&signed, kind, |_| true).map_err(|error| (index, error))?;
        out.insert(v.signer.to_bytes());
    }
    Ok(out)
}

/// The request's digest under `domain`: the subject of its ledger entry and its replay key. Over
/// the decoded nonce (a nonce that is not lowercase hex counts as empty: such a request never
/// passes [`approvers`] anyway), with every field length-prefixed.
pub fn digest(req: &ApprovedRequest, domain: &str) -> [u8; 32] {
    let nonce = decode_lower(&req.nonce).unwrap_or_default();
    let mut m = Vec::with_capacity(domain.len() + nonce.len() + req.body.len() + 32);
    for field in [
        domain.as_bytes(),
        &nonce,
        &req.time.to_be_bytes(),
        req.body.as_bytes(),
    ] {
        m.extend_from_slice(&(field.len() as u64).to_be_bytes());
        m.extend_from_slice(field);
    }
    sha256(&m)
}

/// Refuses a request dated outside `skew_ms` of `at` (expired, or too far ahead), or whose nonce
/// was already used with the same request (replayed), or that the replay log could not record.
pub fn check_fresh(
    req: &ApprovedRequest,
    key: [u8; 32],
    at: i64,
    skew_ms: i64,
    cache: &mut ReplayCache,
) -> Result<(), RequestError> {
    let window_ms = skew_ms.unsigned_abs();
    if req.time.abs_diff(at) > window_ms {
        return Err(if req.time < at {
            RequestError::Expired { window_ms }
        } else {
            RequestError::OutsideClockSkew { window_ms }
        });
    }
    let nonce = decode_lower(&req.nonce).ok_or(RequestError::Malformed {
        field: "nonce",
        reason: "not lowercase hex",
    })?;
    cache.forget_before(at.saturating_sub(skew_ms));
    cache.admit(key, &nonce, req.time)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    const T: i64 = 1_750_000_000_000;

    fn request(approvers_: &[u8]) -> ApprovedRequest {
        let mut req = ApprovedRequest {
            body: r#"{"why":"follow-up"}"#.into(),
            nonce: hex::encode([0xab; 16]),
            time: T,
            approvals: vec![],
        };
        for b in approvers_ {
            req.approve(&SigningKey::from_bytes(&[*b; 32]), Kind::Access);
        }
        req
    }

    #[test]
    fn at_most_sixteen_approvals_are_checked() {
        let keys: Vec<u8> = (1..=16).collect();
        assert_eq!(approvers(&request(&keys), Kind::Access).unwrap().len(), 16);
        let keys: Vec<u8> = (1..=17).collect();
        let (_, e) = approvers(&request(&keys), Kind::Access).unwrap_err();
        assert!(e.to_string().contains("more than 16"), "{e}");
    }

    #[test]
    fn a_request_re_spelled_in_uppercase_is_refused_not_replayed() {
        // Before: hex decoding ignored case and the digest hashed the nonce's text, so an
        // upper-cased nonce made a "new" request past the replay cache.
        let req = request(&[1, 2]);
        let mut cache = ReplayCache::default();
        check_fresh(&req, digest(&req, "d"), T, 60_000, &mut cache).unwrap();
        let mut twin = req.clone();
        twin.nonce = twin.nonce.to_uppercase();
        assert!(matches!(
            approvers(&twin, Kind::Access),
            Err((0, RequestError::Malformed { field: "nonce", .. }))
        ));
        assert!(check_fresh(&twin, digest(&twin, "d"), T, 60_000, &mut cache).is_err());
        // And the same approvals re-sent as they were are a replay.
        assert_eq!(
            check_fresh(&req, digest(&req, "d"), T, 60_000, &mut cache),
            Err(RequestError::Replayed)
        );
    }

    #[test]
    fn approvals_are_bound_to_their_kind() {
        let req = request(&[1]);
        assert!(approvers(&req, Kind::Access).is_ok());
        assert!(matches!(
            approvers(&req, Kind::Registry),
            Err((0, RequestError::BadSignature))
        ));
    }

    #[test]
    fn a_time_far_from_now_is_refused_without_overflow() {
        let mut req = request(&[1]);
        req.time = i64::MIN;
        let mut cache = ReplayCache::default();
        assert!(check_fresh(&req, [0; 32], i64::MAX, 60_000, &mut cache).is_err());
        req.time = i64::MAX;
        assert!(check_fresh(&req, [0; 32], i64::MIN, i64::MAX, &mut cache).is_err());
    }
}
