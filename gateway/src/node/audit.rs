//! A patient's audit (`POST /v1/audit`, signed by the patient's key, body `{"action":"audit"}`):
//! every ledger entry at every node that concerns the patient — records stored at their hospital,
//! their consents, each query that selected their rows (with its statistic, indicator and
//! institution, never other patients' data), each raw access with its approvers and the erasure
//! of their data (who asked) — each with the
//! entry's bytes and an inclusion proof under one signed head, cosigned by the two other nodes when
//! the witnesses have caught up. The node asked answers for itself and asks both peers
//! ([`Request::Audit`]), which check the signature themselves; the client (`hdg audit`) verifies
//! every proof.

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

use super::api::ApiError;
use super::query::Query;
use super::registry::{Registry, Role};
use super::signed::{Kind, SignedRequest, registered, verify};
use super::state::{NodeState, with_store};
use super::witness::stored_checkpoint;
use crate::cli::ingest::now;
use crate::net::rpc::{Request, Response};

/// The body an audit request signs (so no other signed request passes for one).
pub const AUDIT_BODY: &str = r#"{"action":"audit"}"#;
/// How long a peer may take to answer.
const PEER_TIMEOUT: Duration = Duration::from_secs(20);

/// Checks the signed audit request here; the patient's key, or the refusal's status and reason.
fn check(state: &NodeState, signed: &SignedRequest) -> Result<[u8; 32], (StatusCode, String)> {
    let mut cache = state
        .replay
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let verified = verify(
        signed,
        Kind::Audit,
        now(),
        state.clock_skew,
        registered(
            &state
                .registry
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            Role::Patient,
        ),
        &mut cache,
    )
    .and_then(|verified| {
        state.charge(Kind::Audit, verified.signer.as_bytes())?;
        Ok(verified)
    })
    .map_err(|e| {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        (status, e.to_string())
    })?;
    if verified.body != AUDIT_BODY {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("request refused: an audit request's body is {AUDIT_BODY}"),
        ));
    }
    Ok(verified.signer.to_bytes())
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
    }
}

/// What this node's ledger says about `patient`, each entry with its inclusion proof.
fn report(
    store: &Store,
    registry: &Registry,
    name: &str,
    party: usize,
    patient: &Pseudonym,
) -> Result<Value, StoreError> {
    let leaves = store.patient_entries(patient)?;
    // One head for every proof: the newest cosigned one when it covers every entry.
    let latest = store
        .latest_head()?
        .ok_or_else(|| corrupt("ledger", "has entries but no signed head"))?;
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
                "institution": institution,
                "institution_key": hex::encode(entry.actor),
            });
        }
        if matches!(entry.kind, EntryKind::Access | EntryKind::Erasure) {
            let text = store.entry_text(leaf)?.unwrap_or_default();
            let key = if entry.kind == EntryKind::Access {
                "access"
            } else {
                "erasure"
            };
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

/// This node's part of the audit for `signed` (checked here).
async fn own_report(
    state: &Arc<NodeState>,
    signed: &SignedRequest,
) -> Result<Value, (StatusCode, String)> {
    let key = check(state, signed).map_err(|(status, e)| {
        warn!(reason = %e, "audit refused");
        (status, e)
    })?;
    let patient = Pseudonym::from_public_key(&key);
    let worker = state.clone();
    with_store(state, move |store| {
        report(
            store,
            &worker
                .registry
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            &worker.name,
            worker.party,
            &patient,
        )
    })
    .await
    .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e))
}

/// The handler of `POST /v1/audit`: this node's report and both peers'.
pub async fn post_audit(
    State(state): State<Arc<NodeState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), "cannot read the request body"))?;
    let signed: SignedRequest = serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "body is not a signed request"))?;
    let own = own_report(&state, &signed)
        .await
        .map_err(|(status, reason)| ApiError::new(status, reason))?;
    let me = state.party;
    let request = Request::Audit { signed };
    let mut nodes = vec![Value::Null; 3];
    nodes[me] = own;
    let mut missing = Vec::new();
    for (peer, reply) in state.ask_peers(&request, PEER_TIMEOUT).await {
        match reply {
            Ok(Response::AuditReport { report }) => nodes[peer.index()] = report,
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
