//! A raw access to a patient's records as a clinician posts it (`POST /v1/access`, the body of a
//! k-of-n approved request, [`crate::approvals`]), and what the released records are sealed
//! under. The policy a home node applies is the node's.

use serde::{Deserialize, Serialize};

use crate::sealed_reply;

/// Domain of an access request's digest.
pub const ACCESS_DOMAIN: &str = "hdg access v1";

/// What a raw access asks for (the signed body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRequest {
    /// The patient's ed25519 public key, hex.
    pub patient: String,
    /// The requesting clinician's ed25519 public key, hex.
    pub requester: String,
    /// Which indicators; empty: all.
    #[serde(default)]
    pub indicators: Vec<String>,
    /// Why (recorded, shown in the patient's audit).
    pub why: String,
    /// The request is refused after this time, unix ms.
    pub until: i64,
    /// The X25519 key (64 lowercase hex digits), made for this one request, that the released
    /// records are sealed to; the approvers sign it with the rest.
    pub reply_to: String,
}

/// What the released records are sealed under: the request's digest ([`ACCESS_DOMAIN`]).
pub fn records_context(request_digest: &[u8; 32]) -> Vec<u8> {
    sealed_reply::context("access", request_digest, 0)
}
