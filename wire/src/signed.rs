//! Signed client requests: every request that acts for someone carries the signer's ed25519
//! public key, a random nonce, the time it was made and a signature over all of them and the
//! body, so a node can check who asks, refuse a stale request and refuse a replayed one.
//!
//! The signature covers `domain || signer (32) || len(nonce) (u64 BE) || nonce || time (i64 BE,
//! unix ms) || len(body) (u64 BE) || body`. The domain is the request's [`Kind`] (`"hdg query
//! request v2\n"`, ...): a signature made for one kind of request is never valid for another, nor
//! for anything else the key signs; the lengths keep the fields from sliding into each other.
//!
//! Every hex field has exactly one spelling: lowercase, decoded once here at the edge and refused
//! otherwise, so no id, digest or replay-cache key derived from a request can be varied by
//! re-spelling it. Errors name the reason only, never a value of the request.
//!
//! This module is the format and the signature check, without I/O: a client signs with it and a
//! node checks with it. Whether the signer is registered, the clock-skew window and the replay
//! cache are the node's (`node::signed::verify`).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hdg_schema::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// What a signed request is for: each kind has a signing domain of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A researcher's query.
    Query,
    /// A patient's consent (grant, revocation, access policy).
    Consent,
    /// A patient's audit.
    Audit,
    /// An approval of a raw access.
    Access,
    /// An administrator's approval of a registry change.
    Registry,
    /// A source's ingest.
    Ingest,
    /// A patient's erasure request, or an administrator's approval of one.
    Erase,
    /// A researcher asking what is left of their privacy budget.
    Budget,
    /// A hospital's staff member and a patient linking the patient's key to a local reference
    /// (or undoing it): both sign the same body.
    Enrolment,
}

impl Kind {
    /// The signing domain of this kind of request.
    pub fn domain(self) -> &'static [u8] {
        match self {
            Kind::Query => b"hdg query request v2\n",
            Kind::Consent => b"hdg consent request v2\n",
            Kind::Audit => b"hdg audit request v2\n",
            Kind::Access => b"hdg access request v2\n",
            Kind::Registry => b"hdg registry request v2\n",
            Kind::Ingest => b"hdg ingest request v2\n",
            Kind::Erase => b"hdg erasure request v2\n",
            Kind::Budget => b"hdg budget request v2\n",
            Kind::Enrolment => b"hdg enrolment request v1\n",
        }
    }
}

/// Bytes of nonce [`sign`] draws.
pub const NONCE_BYTES: usize = 16;

/// Fewest nonce bytes [`check_signature`] accepts.
pub const MIN_NONCE_BYTES: usize = 16;

/// Most nonce bytes [`check_signature`] accepts (keeps a replay cache's entries small).
pub const MAX_NONCE_BYTES: usize = 64;

/// A client request as sent over the wire: the body and who signed it, when, with what nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRequest {
    /// The request itself (canonical JSON of the request type).
    pub body: String,
    /// The signer's ed25519 public key, 64 hex digits.
    pub signer: String,
    /// A fresh random nonce, at least 16 bytes, in hex.
    pub nonce: String,
    /// When the request was made, unix milliseconds.
    pub time: i64,
    /// The ed25519 signature, 128 hex digits (empty when unsigned).
    #[serde(default)]
    pub signature: String,
}

/// A request whose signature, signer, time and nonce have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// Who signed it (a registered key).
    pub signer: VerifyingKey,
    /// Its nonce.
    pub nonce: Vec<u8>,
    /// When it was made.
    pub time: Timestamp,
    /// The request body.
    pub body: String,
}

/// Why a request was refused. Names the reason, never a value of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The request carries no signature.
    #[error("request refused: unsigned")]
    Unsigned,
    /// A field does not decode.
    #[error("request refused: malformed {field} ({reason})")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signer is not a registered identity (of the role the endpoint needs).
    #[error("request refused: unknown key (not registered with the cluster)")]
    UnknownKey,
    /// The signature does not verify for this signer and content.
    #[error("request refused: bad signature")]
    BadSignature,
    /// The request is older than the clock-skew window allows.
    #[error("request refused: expired (older than the {window_ms} ms clock-skew window)")]
    Expired {
        /// The window, milliseconds.
        window_ms: u64,
    },
    /// The request is dated further ahead than the clock-skew window allows.
    #[error("request refused: dated in the future beyond the {window_ms} ms clock-skew window")]
    OutsideClockSkew {
        /// The window, milliseconds.
        window_ms: u64,
    },
    /// The same signer already sent this nonce within the window.
    #[error("request refused: replayed (nonce already used by this signer)")]
    Replayed,
    /// The node could not write the request's nonce to its replay log, so it does not act on
    /// it (a request it acted on must stay refused as a replay after a restart).
    #[error("request refused for now: this node could not record it against replays; retry")]
    NotRecorded,
    /// The signer made more requests of this kind than its rate allows.
    #[error("request refused: too many requests from this key; retry in {retry_ms} ms")]
    TooMany {
        /// Milliseconds until the next request is allowed.
        retry_ms: u64,
    },
}

impl RequestError {
    /// The HTTP status of this refusal: 401 when the request does not authenticate (unsigned,
    /// malformed, bad signature, stale), 403 when its signer may not make it or it was already
    /// used, 503 when the node could not record it.
    pub fn status(self) -> u16 {
        match self {
            RequestError::UnknownKey | RequestError::Replayed => 403,
            RequestError::NotRecorded => 503,
            RequestError::TooMany { .. } => 429,
            RequestError::Unsigned
            | RequestError::Malformed { .. }
            | RequestError::BadSignature
            | RequestError::Expired { .. }
            | RequestError::OutsideClockSkew { .. } => 401,
        }
    }
}

/// The bytes a request signature covers (see the module doc).
pub fn signed_message(
    kind: Kind,
    signer: &[u8; 32],
    nonce: &[u8],
    time: i64,
    body: &[u8],
) -> Vec<u8> {
    let domain = kind.domain();
    let mut m = Vec::with_capacity(domain.len() + 32 + 8 + nonce.len() + 8 + 8 + body.len());
    m.extend_from_slice(domain);
    m.extend_from_slice(signer);
    m.extend_from_slice(&(nonce.len() as u64).to_be_bytes());
    m.extend_from_slice(nonce);
    m.extend_from_slice(&time.to_be_bytes());
    m.extend_from_slice(&(body.len() as u64).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// SHA-256 of the message `request`'s signature covers as a request of `kind` (its fields
/// decoded, so one digest however it is spelled): what a sealed reply to it is bound to. `None`
/// when its signer or nonce is not lowercase hex (such a request never verifies).
pub fn request_digest(kind: Kind, request: &SignedRequest) -> Option<[u8; 32]> {
    let signer = decode_fixed::<32>(&request.signer, "signer", "").ok()?;
    let nonce = decode_lower(&request.nonce)?;
    let message = signed_message(kind, &signer, &nonce, request.time, request.body.as_bytes());
    Some(Sha256::digest(&message).into())
}

/// Signs `body`, a request of `kind`, as made at `now` with a fresh random nonce.
pub fn sign(key: &SigningKey, kind: Kind, body: &str, now: Timestamp) -> SignedRequest {
    sign_with_nonce(key, kind, body, now, &rand::random::<[u8; NONCE_BYTES]>())
}

/// Signs `body`, a request of `kind`, as made at `now` with the given nonce (approvals share
/// one nonce; otherwise use [`sign`]).
pub fn sign_with_nonce(
    key: &SigningKey,
    kind: Kind,
    body: &str,
    now: Timestamp,
    nonce: &[u8],
) -> SignedRequest {
    let signer = key.verifying_key().to_bytes();
    let signature = key.sign(&signed_message(
        kind,
        &signer,
        nonce,
        now.0,
        body.as_bytes(),
    ));
    SignedRequest {
        body: body.to_string(),
        signer: hex::encode(signer),
        nonce: hex::encode(nonce),
        time: now.0,
        signature: hex::encode(signature.to_bytes()),
    }
}

/// Checks a request of `kind`: its form and signature only (by a key `is_known` accepts), not
/// its time or nonce: for records kept and re-checked later, such as a patient's consent.
pub fn check_signature(
    request: &SignedRequest,
    kind: Kind,
    is_known: impl Fn(&VerifyingKey) -> bool,
) -> Result<VerifiedRequest, RequestError> {
    if request.signature.is_empty() {
        return Err(RequestError::Unsigned);
    }
    let signer_bytes: [u8; 32] =
        decode_fixed(&request.signer, "signer", "must be 64 lowercase hex digits")?;
    let signer = VerifyingKey::from_bytes(&signer_bytes).map_err(|_| RequestError::Malformed {
        field: "signer",
        reason: "not an ed25519 public key",
    })?;
    let nonce = decode_lower(&request.nonce).ok_or(RequestError::Malformed {
        field: "nonce",
        reason: "not lowercase hex",
    })?;
    if !(MIN_NONCE_BYTES..=MAX_NONCE_BYTES).contains(&nonce.len()) {
        return Err(RequestError::Malformed {
            field: "nonce",
            reason: "must be 16 to 64 bytes",
        });
    }
    let sig_bytes: [u8; 64] = decode_fixed(
        &request.signature,
        "signature",
        "must be 128 lowercase hex digits",
    )?;
    if !is_known(&signer) {
        return Err(RequestError::UnknownKey);
    }
    let message = signed_message(
        kind,
        &signer_bytes,
        &nonce,
        request.time,
        request.body.as_bytes(),
    );
    signer
        .verify_strict(&message, &Signature::from_bytes(&sig_bytes))
        .map_err(|_| RequestError::BadSignature)?;
    Ok(VerifiedRequest {
        signer,
        nonce,
        time: Timestamp(request.time),
        body: request.body.clone(),
    })
}

/// Lowercase hex, the one spelling every hex field has; `None` for anything else (uppercase
/// digits included).
pub fn decode_lower(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(text).ok()
}

/// Exactly `N` bytes of lowercase hex.
pub fn decode_fixed<const N: usize>(
    text: &str,
    field: &'static str,
    reason: &'static str,
) -> Result<[u8; N], RequestError> {
    decode_lower(text)
        .and_then(|b| <[u8; N]>::try_from(b.as_slice()).ok())
        .ok_or(RequestError::Malformed { field, reason })
}
