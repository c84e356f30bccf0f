//! A patient's audit request as the patient signs it (`POST /v1/audit`: the one spelling of its
//! body, [`audit_body`]), and each node's report as the patient receives it: sealed to the
//! request's `reply_to` key under [`report_context`], and signed by the node key the cluster
//! file pins ([`report_signed_message`]), so the node relaying its peers' reports can neither
//! read them nor write one in their name. What a report holds and how a node builds it are the
//! node's.

use ed25519_dalek::{Signer, SigningKey};
use zeroize::Zeroizing;

use crate::sealed_reply;
use crate::signed::decode_fixed;

/// What an audit request's body starts with; [`audit_body`] is its one spelling.
const AUDIT_PREFIX: &str = r#"{"action":"audit","reply_to":""#;

/// The body an audit request signs (so no other signed request passes for one): the action and
/// the X25519 key, made for this one request, that every node seals its report to.
pub fn audit_body(reply_to: &[u8; 32]) -> String {
    format!(r#"{AUDIT_PREFIX}{}"}}"#, hex::encode(reply_to))
}

/// The reply key of an audit `body` spelled exactly as [`audit_body`] spells it.
pub fn reply_key(body: &str) -> Option<[u8; 32]> {
    let key_hex = body.strip_prefix(AUDIT_PREFIX)?.strip_suffix(r#""}"#)?;
    let key = decode_fixed::<32>(key_hex, "reply_to", "").ok()?;
    (audit_body(&key) == body).then_some(key)
}

/// What a node seals its part of an audit under: the request's digest and its party.
pub fn report_context(request_digest: &[u8; 32], party: usize) -> Vec<u8> {
    sealed_reply::context("audit", request_digest, party)
}

/// Domain of a node's signature on its audit report.
const REPORT_SIGNATURE_DOMAIN: &[u8] = b"hdg audit report v1\n";

/// The bytes a node signs for its audit `report` under `context` ([`report_context`]): sealing
/// hides a report from the node that relays it, and this signature, by the node key the
/// cluster file pins, stops that node from writing one in a peer's name.
pub fn report_signed_message(context: &[u8], report: &[u8]) -> Vec<u8> {
    let mut m =
        Vec::with_capacity(REPORT_SIGNATURE_DOMAIN.len() + 16 + context.len() + report.len());
    m.extend_from_slice(REPORT_SIGNATURE_DOMAIN);
    for part in [context, report] {
        m.extend_from_slice(&(part.len() as u64).to_be_bytes());
        m.extend_from_slice(part);
    }
    m
}

/// What a node seals: its signature (64 bytes) on [`report_signed_message`], then the report.
pub fn signed_report(key: &SigningKey, context: &[u8], report: &[u8]) -> Zeroizing<Vec<u8>> {
    let signature = key.sign(&report_signed_message(context, report));
    let mut plain = Zeroizing::new(Vec::with_capacity(64 + report.len()));
    plain.extend_from_slice(&signature.to_bytes());
    plain.extend_from_slice(report);
    plain
}
