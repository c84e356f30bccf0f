//! Requests approved by several keys (k of n): one body, nonce and time, and each approver's
//! signature over the same signed-request message ([`crate::signed`], of the request's [`Kind`])
//! with the approver as signer. Used by raw access, registry changes and erasures by
//! administrators. The request's digest (its replay key and ledger subject) is over the decoded
//! nonce, so it has one value however the request is spelled. A node adds the freshness and
//! replay check.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::signed::{
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
    Sha256::digest(&m).into()
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
    fn approvals_are_bound_to_their_kind() {
        let req = request(&[1]);
        assert!(approvers(&req, Kind::Access).is_ok());
        assert!(matches!(
            approvers(&req, Kind::Registry),
            Err((0, RequestError::BadSignature))
        ));
    }
}
