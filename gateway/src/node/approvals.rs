//! Requests approved by several keys (k of n): one body, nonce and time, and each approver's
//! signature over the same signed-request message ([`super::signed`]) with the approver as signer.
//! Used by raw access ([`super::access`]) and registry changes ([`super::registry_change`]).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use hdg_ledger::sha256;

use super::signed::{ReplayCache, RequestError, SignedRequest, check_signature, sign_with_nonce};

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
    /// Adds `key`'s approval of this request.
    pub fn approve(&mut self, key: &ed25519_dalek::SigningKey) {
        let nonce = hex::decode(&self.nonce).expect("a request made here has a hex nonce");
        let s = sign_with_nonce(key, &self.body, hdg_schema::Timestamp(self.time), &nonce);
        self.approvals.push(Approval {
            signer: s.signer,
            signature: s.signature,
        });
    }
}

/// Checks every approval's signature; the distinct approvers' keys, or the first bad approval's
/// index and why.
pub fn approvers(req: &ApprovedRequest) -> Result<BTreeSet<[u8; 32]>, (usize, RequestError)> {
    let mut out = BTreeSet::new();
    for (index, a) in req.approvals.iter().enumerate() {
        let signed = SignedRequest {
            body: req.body.clone(),
            signer: a.signer.clone(),
            nonce: req.nonce.clone(),
            time: req.time,
            signature: a.signature.clone(),
        };
        let v = check_signature(&signed, |_| true).map_err(|error| (index, error))?;
        out.insert(v.signer.to_bytes());
    }
    Ok(out)
}

/// The request's digest under `domain`: the subject of its ledger entry and its replay key.
pub fn digest(req: &ApprovedRequest, domain: &str) -> [u8; 32] {
    sha256(format!("{domain}\n{}\n{}\n{}", req.nonce, req.time, req.body).as_bytes())
}

/// Refuses a request dated outside `skew_ms` of `at`, or whose nonce was already used with the
/// same request; `Err` names which.
pub fn check_fresh(
    req: &ApprovedRequest,
    key: [u8; 32],
    at: i64,
    skew_ms: i64,
    cache: &mut ReplayCache,
) -> Result<(), String> {
    if (req.time - at).abs() > skew_ms {
        return Err("outside the clock-skew window".into());
    }
    let nonce = hex::decode(&req.nonce).map_err(|_| "nonce is not hex".to_string())?;
    cache.forget_before(at - skew_ms);
    if !cache.insert(key, &nonce, req.time) {
        return Err("replayed (nonce already used)".into());
    }
    Ok(())
}
