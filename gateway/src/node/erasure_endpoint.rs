//! `POST /v1/erasure`: a patient's (or k administrators') request to erase the patient's data at
//! every node, at any node. The node asked checks it ([`super::erasure`]), erases here
//! ([`hdg_storage::Store::erase_patient`]: records if it is their home, share rows as a party)
//! and forwards it to both peers ([`Request::Erasure`]), which check it themselves and do the
//! same. A peer that cannot be reached is named and its copy is queued durably, delivered when it
//! is back ([`deliver_pending_erasures`]).
//!
//! Answers: 200 with each node's outcome (`erased` with its ledger index, `already erased`,
//! `nothing held`); 202 when a peer's copy is queued; 404 when no node holds anything of the
//! patient (nothing is anchored then); 400/401/403 for a refused request.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use hdg_mpc::PartyId;
use hdg_storage::{Erasure, PendingErasure};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::api::ApiError;
use super::erasure::{CheckedErasure, ErasureRequest, check_erasure, check_fresh_erasure};
use super::state::{NodeState, with_store};
use crate::cli::ingest::now;
use crate::net::rpc::{Request, Response};

/// How long a peer may take to erase.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// A node's outcome when it erased nothing because it holds nothing of the patient.
pub const NOTHING_HELD: &str = "nothing held";
/// A node's outcome when an earlier request erased everything already.
pub const ALREADY_ERASED: &str = "already erased";
/// A node's outcome when it erased the patient's data now.
pub const ERASED: &str = "erased";

/// Checks `req` here (and, from a client, its freshness); `Err` is (status, reason).
fn check_here(
    state: &NodeState,
    req: &ErasureRequest,
    from_client: bool,
) -> Result<CheckedErasure, (u16, String)> {
    let refused = |e: super::erasure::ErasureError| {
        warn!(reason = %e, "erasure refused");
        (e.status(), e.to_string())
    };
    let checked = {
        let registry = state
            .registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        check_erasure(req, &registry, state.registry_quorum).map_err(refused)?
    };
    if from_client {
        let skew = i64::try_from(state.clock_skew.as_millis()).unwrap_or(i64::MAX);
        let mut cache = state
            .replay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        check_fresh_erasure(req, &checked, now().0, skew, &mut cache).map_err(refused)?;
    }
    Ok(checked)
}

/// Erases the checked request's patient here: the outcome and the ledger index when anchored.
async fn erase_here(
    state: &Arc<NodeState>,
    checked: CheckedErasure,
) -> Result<(&'static str, Option<u64>), String> {
    let cached = state.clone();
    let outcome = with_store(state, move |store| {
        let outcome = store.erase_patient(&checked.patient, checked.actor, &checked.text, now())?;
        if let Erasure::Erased(r) = &outcome {
            cached.ledger_written(store, Some(r.checkpoint.clone()));
            cached
                .outbox_len
                .store(store.outbox_len()?, std::sync::atomic::Ordering::Release);
        }
        Ok(outcome)
    })
    .await?;
    Ok(match outcome {
        Erasure::Erased(r) => {
            info!(
                records = r.records,
                share_rows = r.share_rows,
                leaf = r.leaf_index,
                "patient erased here"
            );
            (ERASED, Some(r.leaf_index))
        }
        Erasure::AlreadyErased => (ALREADY_ERASED, None),
        Erasure::NothingHeld => (NOTHING_HELD, None),
    })
}

/// The handler of `POST /v1/erasure`.
pub async fn post_erasure(
    State(state): State<Arc<NodeState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), "cannot read the request body"))?;
    let req: ErasureRequest = serde_json::from_slice(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "body is not an erasure request ({\"by\":\"patient\",\"signed\":...} or {\"by\":\"admins\",\"request\":...})",
        )
    })?;
    let checked = check_here(&state, &req, true).map_err(|(status, reason)| {
        ApiError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            reason,
        )
    })?;
    let digest = checked.digest;
    let own = erase_here(&state, checked)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    let mut nodes = vec![Value::Null; 3];
    nodes[state.party] = outcome_json(own);
    let mut outcomes = vec![own.0];
    let mut pending = Vec::new();
    let request = Request::Erasure {
        request: req.clone(),
    };
    for (peer, reply) in state.ask_peers(&request, PEER_TIMEOUT).await {
        match reply {
            Ok(Response::Erasure {
                outcome,
                leaf_index,
            }) => {
                nodes[peer.index()] = json!({ "outcome": outcome, "ledger_index": leaf_index });
                outcomes.push(if outcome == NOTHING_HELD {
                    NOTHING_HELD
                } else {
                    ERASED
                });
            }
            other => {
                let problem = match other {
                    Ok(Response::Error { reason }) => {
                        format!("{peer} refused it for now: {reason}")
                    }
                    Ok(o) => format!("{peer}: unexpected answer {o:?}"),
                    Err(e) => e.to_string(),
                };
                let bytes = serde_json::to_vec(&req).expect("a request serialises");
                let party = peer.index() as u8;
                with_store(&state, move |s| {
                    s.queue_erasure_delivery(party, &digest, &bytes)
                })
                .await
                .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
                nodes[peer.index()] = json!({ "outcome": "queued" });
                pending.push(problem);
            }
        }
    }
    if pending.is_empty() && outcomes.iter().all(|o| *o == NOTHING_HELD) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "erasure refused: unknown patient (no node holds data of this patient)",
        ));
    }
    let answer = json!({ "nodes": nodes, "pending": pending });
    if pending.is_empty() {
        info!("erasure done at the three parties");
        Ok((StatusCode::OK, Json(answer)))
    } else {
        warn!(problems = ?pending, "erased here, delivery to a peer queued");
        Ok((StatusCode::ACCEPTED, Json(answer)))
    }
}

fn outcome_json((outcome, leaf): (&'static str, Option<u64>)) -> Value {
    json!({ "outcome": outcome, "ledger_index": leaf })
}

/// A peer's [`Request::Erasure`]: checked (signatures and roles) and carried out here.
pub async fn answer_erasure(state: &Arc<NodeState>, req: &ErasureRequest) -> Response {
    let checked = match check_here(state, req, false) {
        Ok(c) => c,
        Err((_, reason)) => return Response::Error { reason },
    };
    match erase_here(state, checked).await {
        Ok((outcome, leaf_index)) => Response::Erasure {
            outcome: outcome.to_string(),
            leaf_index,
        },
        Err(reason) => Response::Error { reason },
    }
}

/// Delivers the erasure requests queued for peers that were unreachable, forgetting each once
/// the peer carried it out.
pub async fn deliver_pending_erasures(state: &Arc<NodeState>) {
    let pending = match with_store(state, |s| s.pending_erasure_deliveries()).await {
        Ok(p) => p,
        Err(reason) => {
            warn!(%reason, "cannot read the erasure deliveries");
            return;
        }
    };
    for PendingErasure {
        peer: party,
        digest,
        request: bytes,
    } in pending
    {
        let Some(peer) = PartyId::ALL.get(usize::from(party)).copied() else {
            continue;
        };
        let Ok(request) = serde_json::from_slice::<ErasureRequest>(&bytes) else {
            continue;
        };
        match state
            .links
            .request(peer, &Request::Erasure { request }, PEER_TIMEOUT)
            .await
        {
            Ok(Response::Erasure { .. }) => {
                match with_store(state, move |s| s.erasure_delivered(party, &digest)).await {
                    Ok(()) => info!(%peer, "queued erasure delivered"),
                    Err(reason) => warn!(%reason, "cannot clear an erasure delivery"),
                }
            }
            Ok(other) => debug!(%peer, answer = ?other, "queued erasure not taken yet"),
            Err(e) => debug!(%peer, reason = %e, "queued erasure not delivered yet"),
        }
    }
}
