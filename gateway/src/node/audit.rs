//! A patient's audit (`POST /v1/audit`, signed by the patient's key, body
//! `{"action":"audit","reply_to":"<X25519 key>"}`): every ledger entry at every node that
//! concerns the patient — records stored at their hospital, their consents, each query that
//! selected their rows (with its statistic, indicator and institution, never other patients'
//! data), each raw access with its approvers and the erasure of their data (who asked) — each
//! with the entry's bytes and an inclusion proof under one signed head, cosigned by the two
//! other nodes when the witnesses have caught up. The node asked answers for itself and asks
//! both peers ([`Request::Audit`]), which check the signature themselves. Each node seals its
//! report to the request's `reply_to` key, bound to the request and to itself
//! ([`super::sealed_reply`]), so the node relaying its peers' reports cannot read them, and
//! signs it with its node key, so that node cannot write one in their name either; the client
//! (`hdg audit`) opens them, checks each signature against the node keys of the cluster file
//! and verifies every proof.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use hdg_ledger::{EntryKind, LedgerEntry, inclusion_proof};
use hdg_schema::Pseudonym;
use hdg_storage::{Store, StoreError};
use serde_json::{Value, json};
use tracing::warn;
use zeroize::Zeroizing;

pub use hdg_wire::audit::{
    audit_body, reply_key, report_context, report_signed_message, signed_report,
};

use super::api::ApiError;
use super::query::Query;
use super::query::privacy::Privacy;
use super::registry::{Registry, Role};
use super::sealed_reply;
use super::signed::{Kind, SignedRequest, request_digest};
use super::state::{NodeState, with_store};
use super::witness::stored_checkpoint;
use crate::net::rpc::{Request, Response};

/// How long a peer may take to answer.
const PEER_TIMEOUT: Duration = Duration::from_secs(20);

/// A checked audit request: whose, where the reports are sealed to, and what they answer.
struct Checked {
    patient: [u8; 32],
    reply_to: [u8; 32],
    digest: [u8; 32],
}

/// Checks the signed audit request here; the refusal's status and reason otherwise.
fn check(state: &NodeState, signed: &SignedRequest) -> Result<Checked, (StatusCode, String)> {
    let verified = state
        .admit(signed, Kind::Audit, Role::Patient)
        .map_err(|e| {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, e.to_string())
        })?;
    let reply_to = reply_key(&verified.body).ok_or_else(|| {
        (
            StatusCode::BAD_REQUEST,
            format!(
                "request refused: an audit request's body is {}",
                audit_body(&[0xab; 32]).replace(&"ab".repeat(32), "<X25519 key, 64 lowercase hex>")
            ),
        )
    })?;
    sealed_reply::check_recipient(&reply_to)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("request refused: {e}")))?;
    let digest = request_digest(Kind::Audit, signed).expect("a verified request decodes");
    Ok(Checked {
        patient: verified.signer.to_bytes(),
        reply_to,
        digest,
    })
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Record => "record",
        EntryKind::Correction => "correction",
        EntryKind::Erasure => "erasure",
        EntryKind::Consent => "consent",
        EntryKind::Query => "query",
        EntryKind::Access => "access",
        EntryKind::ShareReceipt => "share receipt",
        EntryKind::Registry => "registry",
        EntryKind::Abort => "abort",
        EntryKind::Enrolment => "enrolment",
    }
}

/// What this node's ledger says about `patient`, each entry with its inclusion proof (a query
/// with the epsilon it spent when the cluster is `private`).
fn report(
    store: &Store,
    registry: &Registry,
    name: &str,
    party: usize,
    patient: &Pseudonym,
    private: bool,
) -> Result<Value, StoreError> {
    let leaves = store.patient_entries(patient)?;
    // One head for every proof: the newest cosigned one when it covers every entry.
    let Some(latest) = store.latest_head()? else {
        // A ledger nothing was written to yet has no head to prove anything under.
        if store.tree_size() > 0 || !leaves.is_empty() {
            return Err(corrupt("ledger", "has entries but no signed head"));
        }
        return Ok(json!({
            "node": name,
            "party": party,
            "vkey": store.vkey(),
            "signed_head": null,
            "cosigned": false,
            "tree_size": 0,
            "entries": [],
        }));
    };
    let cosigned = match store.latest_cosigned_head(2)? {
        Some((_, note)) => Some((stored_checkpoint(&note)?.size, note)),
        None => None,
    };
    let (size, head, is_cosigned) = match cosigned {
        Some((size, note)) if leaves.last().is_none_or(|l| *l < size) => (size, note, true),
        _ => (stored_checkpoint(&latest)?.size, latest, false),
    };
    let mut entries = Vec::with_capacity(leaves.len());
    for leaf in leaves {
        let bytes = store.leaf(leaf)?;
        let entry = LedgerEntry::from_bytes(&bytes)
            .map_err(|e| corrupt(&format!("ledger leaf {leaf}"), &e.to_string()))?;
        let proof = inclusion_proof(&store.nodes(), leaf, size)
            .map_err(|e| corrupt("ledger", &e.to_string()))?;
        let mut item = json!({
            "leaf_index": leaf,
            "kind": kind_name(entry.kind),
            "time": entry.time,
            "subject": hex::encode(entry.subject),
            "entry": hex::encode(&bytes),
            "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        });
        if entry.kind == EntryKind::Query {
            let query = store
                .entry_text(leaf)?
                .and_then(|t| serde_json::from_str::<Query>(&t).ok());
            let institution = registry.name_of(&entry.actor);
            item["query"] = json!({
                "statistic": query.as_ref().map(|q| q.statistic.clone()),
                "indicator": query.as_ref().map(|q| q.indicator.clone()),
                "purpose": query.as_ref().map(|q| q.purpose),
                // The privacy loss the query spent on the patients it used (None: exact).
                "epsilon": query.as_ref().and_then(|q| q.epsilon).filter(|_| private),
                "institution": institution,
                "institution_key": hex::encode(entry.actor),
            });
        }
        let described = match entry.kind {
            EntryKind::Access => Some("access"),
            EntryKind::Erasure => Some("erasure"),
            // Who enrolled the patient, where (never the hospital's reference).
            EntryKind::Enrolment => Some("enrolment"),
            _ => None,
        };
        if let Some(key) = described {
            let text = store.entry_text(leaf)?.unwrap_or_default();
            item[key] = serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        entries.push(item);
    }
    Ok(json!({
        "node": name,
        "party": party,
        "vkey": store.vkey(),
        "signed_head": head,
        "cosigned": is_cosigned,
        "tree_size": size,
        "entries": entries,
    }))
}

fn corrupt(what: &str, reason: &str) -> StoreError {
    StoreError::Corrupt {
        what: what.into(),
        reason: reason.into(),
    }
}

/// This node's part of the audit for `signed` (checked here), sealed to the requester:
/// `{"party", "node", "sealed"}`, where `party` is this node's place in the cluster's node
/// order (the party index in the three-node layout).
async fn own_report(
    state: &Arc<NodeState>,
    signed: &SignedRequest,
) -> Result<Value, (StatusCode, String)> {
    let checked = check(state, signed).map_err(|(status, e)| {
        warn!(reason = %e, "audit refused");
        (status, e)
    })?;
    let patient = Pseudonym::from_public_key(&checked.patient);
    let worker = state.clone();
    let report = with_store(state, move |store| {
        report(
            store,
            &worker
                .registry
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            &worker.name,
            worker.position(),
            &patient,
            matches!(worker.policy.privacy, Privacy::Dp(_)),
        )
    })
    .await
    .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e))?;
    // Bound to this node's place in the cluster's node order, where the client finds its key.
    let context = report_context(&checked.digest, state.position());
    let report = Zeroizing::new(report.to_string().into_bytes());
    let plain = signed_report(&state.node_key, &context, &report);
    let sealed = sealed_reply::seal(&checked.reply_to, &context, &plain)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("request refused: {e}")))?;
    Ok(json!({ "party": state.position(), "node": state.name, "sealed": sealed }))
}

/// The handler of `POST /v1/audit`: this node's report and both peers'.
pub async fn post_audit(
    State(state): State<Arc<NodeState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let signed = super::api::signed_request(body)?;
    let own = own_report(&state, &signed)
        .await
        .map_err(|(status, reason)| ApiError::new(status, reason))?;
    let request = Request::Audit { signed };
    let mut nodes = vec![Value::Null; state.consortium.members().len()];
    nodes[state.position()] = own;
    let mut missing = Vec::new();
    for (peer, reply) in state.ask_others(&request, PEER_TIMEOUT).await {
        match reply {
            Ok(Response::AuditReport { report }) => nodes[state.position_of(peer.node)] = report,
            Ok(other) => missing.push(format!("{peer}: unexpected answer {other:?}")),
            Err(e) => missing.push(e.to_string()),
        }
    }
    Ok(Json(json!({ "nodes": nodes, "missing": missing })))
}

/// A peer's [`Request::Audit`], checked here as if posted here.
pub async fn answer_audit(state: &Arc<NodeState>, signed: &SignedRequest) -> Response {
    match own_report(state, signed).await {
        Ok(report) => Response::AuditReport { report },
        Err((_, reason)) => Response::Error { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdg_storage::{KeySource, SecretKey};

    /// A node that has written nothing yet answers an audit with an empty report (it used to
    /// call its empty ledger corrupt: 503).
    #[test]
    fn an_empty_ledger_gives_an_empty_report() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            true,
            &KeySource::Key(SecretKey::from_bytes([1; 32])),
        )
        .unwrap();
        let patient = Pseudonym::from_public_key(&[7; 32]);
        let r = report(&store, &Registry::default(), "node0", 0, &patient, true).unwrap();
        assert_eq!(r["tree_size"], 0);
        assert!(r["signed_head"].is_null());
        assert_eq!(r["entries"].as_array().map(Vec::len), Some(0));
        assert_eq!(r["vkey"].as_str(), Some(store.vkey().as_str()));
    }
}
