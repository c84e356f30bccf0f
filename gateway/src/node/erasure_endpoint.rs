//! `POST /v1/erasure`: a patient's (or k administrators') request to erase the patient's data at
//! every node, at any node. The node asked checks it ([`super::erasure`]) and asks both peers
//! whether they hold anything of the patient ([`Request::ErasureProbe`], which they check
//! themselves): when no node does, the patient is unknown and nothing is written anywhere (404).
//! Otherwise it erases here ([`hdg_storage::Store::erase_patient`]: records if it is their home,
//! share rows as a party, tombstones either way) with the peers' copies queued in the same write,
//! and forwards it to both ([`Request::Erasure`]), which check it and do the same; a copy a peer
//! took is forgotten, one it did not is delivered when it can be ([`deliver_pending_erasures`]).
//! Each node then compacts what it deleted out of its files, without holding the store.
//!
//! Answers: 200 with each node's outcome (`erased` with its ledger index, or `already erased`);
//! 202 when a peer's copy is queued; 404 for an unknown patient; 400/401/403 for a refused
//! request.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use hdg_storage::{Erasure, ErasureOrder, Holding, PendingErasure};
use hdg_wire::consortium::NodeId;
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::api::ApiError;
use super::erasure::{CheckedErasure, ErasureRequest, check_erasure, check_fresh_erasure};
use super::signed::Kind;
use super::state::{NodeState, with_store};
use crate::clock::now;
use crate::net::peer::Peer;
use crate::net::rpc::{Request, Response};

/// How long a peer may take to answer a probe or to erase.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// A node's outcome when an earlier request erased everything already.
pub const ALREADY_ERASED: &str = "already erased";
/// A node's outcome when it erased the patient now.
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
        state
            .charge(Kind::Erase, &checked.actor)
            .map_err(|e| refused(e.into()))?;
    }
    Ok(checked)
}

/// What this node holds of the checked request's patient.
async fn holding_here(state: &Arc<NodeState>, checked: &CheckedErasure) -> Result<Holding, String> {
    let patient = checked.patient;
    with_store(state, move |store| store.holding(&patient)).await
}

/// Erases the checked request's patient here, with the copies `owed` to peers (their node
/// ids, and the request) queued in the same write, then compacts what it deleted without
/// holding the store: the outcome and the ledger index when anchored.
async fn erase_here(
    state: &Arc<NodeState>,
    checked: CheckedErasure,
    owed: Option<(Vec<u16>, Vec<u8>)>,
) -> Result<(&'static str, Option<u64>), String> {
    let cached = state.clone();
    let (outcome, compaction) = with_store(state, move |store| {
        let order = ErasureOrder {
            patient: checked.patient,
            actor: checked.actor,
            text: &checked.text,
            owed: owed
                .as_ref()
                .map(|(peers, request)| (peers.as_slice(), checked.digest, request.as_slice())),
        };
        let outcome = store.erase_patient(&order, now())?;
        if let Erasure::Erased(r) = &outcome {
            cached.ledger_written(store, Some(r.checkpoint.clone()));
            cached
                .outbox_len
                .store(store.outbox_len()?, std::sync::atomic::Ordering::Release);
        }
        Ok((outcome, store.pending_compaction()?))
    })
    .await?;
    if let Some(c) = compaction {
        tokio::task::spawn_blocking(move || c.run())
            .await
            .map_err(|e| format!("compaction task failed: {e}"))?
            .map_err(|e| format!("compacting the erased data: {e}"))?;
    }
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
    let unavailable = |e: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e);
    // An unknown patient: no node holds anything (a peer that does not answer might).
    let here = holding_here(&state, &checked).await.map_err(unavailable)?;
    let probe = Request::ErasureProbe {
        request: req.clone(),
    };
    let mut known = here != Holding::Nothing;
    for (_, reply) in state.ask_others(&probe, PEER_TIMEOUT).await {
        known |= !matches!(reply, Ok(Response::Holding { holds }) if holds == "nothing");
    }
    if !known {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "erasure refused: unknown patient (no node holds data of this patient)",
        ));
    }

    let peers: Vec<u16> = state
        .consortium
        .others(state.node)
        .map(|m| m.id.0)
        .collect();
    let bytes = serde_json::to_vec(&req).expect("a request serialises");
    let owed = (peers, bytes);
    let digest = checked.digest;
    let _forwarding = Forwarding::start(&state, digest);
    let own = erase_here(&state, checked, Some(owed))
        .await
        .map_err(unavailable)?;
    let mut nodes = vec![Value::Null; state.consortium.members().len()];
    nodes[state.position()] = json!({ "outcome": own.0, "ledger_index": own.1 });
    let mut pending = Vec::new();
    let request = Request::Erasure { request: req };
    for (peer, reply) in state.ask_others(&request, PEER_TIMEOUT).await {
        let at = state.position_of(peer.node);
        match reply {
            Ok(Response::Erasure {
                outcome,
                leaf_index,
            }) => {
                nodes[at] = json!({ "outcome": outcome, "ledger_index": leaf_index });
                let node = peer.node.0;
                with_store(&state, move |s| s.erasure_delivered(node, &digest))
                    .await
                    .map_err(unavailable)?;
            }
            other => {
                nodes[at] = json!({ "outcome": "queued" });
                pending.push(match other {
                    Ok(Response::Error { reason }) => {
                        format!("{peer} refused it for now: {reason}")
                    }
                    Ok(o) => format!("{peer}: unexpected answer {o:?}"),
                    Err(e) => e.to_string(),
                });
            }
        }
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

/// Marks an erasure as being forwarded by the endpoint (see
/// [`NodeState::erasures_forwarding`]) until dropped.
struct Forwarding<'a> {
    state: &'a NodeState,
    digest: [u8; 32],
}

impl<'a> Forwarding<'a> {
    fn start(state: &'a NodeState, digest: [u8; 32]) -> Forwarding<'a> {
        forwarding(state).insert(digest);
        Forwarding { state, digest }
    }
}

impl Drop for Forwarding<'_> {
    fn drop(&mut self) {
        forwarding(self.state).remove(&self.digest);
    }
}

fn forwarding(state: &NodeState) -> std::sync::MutexGuard<'_, std::collections::HashSet<[u8; 32]>> {
    state
        .erasures_forwarding
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A peer's [`Request::ErasureProbe`]: checked here, then what this node holds of the patient.
pub async fn answer_probe(state: &Arc<NodeState>, req: &ErasureRequest) -> Response {
    let checked = match check_here(state, req, false) {
        Ok(c) => c,
        Err((_, reason)) => return Response::Error { reason },
    };
    match holding_here(state, &checked).await {
        Ok(h) => Response::Holding {
            holds: match h {
                Holding::Nothing => "nothing",
                Holding::Data => "data",
                Holding::Erased => "erased",
            }
            .to_string(),
        },
        Err(reason) => Response::Error { reason },
    }
}

/// A peer's [`Request::Erasure`]: checked (signatures and roles) and carried out here.
pub async fn answer_erasure(state: &Arc<NodeState>, req: &ErasureRequest) -> Response {
    let checked = match check_here(state, req, false) {
        Ok(c) => c,
        Err((_, reason)) => return Response::Error { reason },
    };
    match erase_here(state, checked, None).await {
        Ok((outcome, leaf_index)) => Response::Erasure {
            outcome: outcome.to_string(),
            leaf_index,
        },
        Err(reason) => Response::Error { reason },
    }
}

/// Delivers the erasure requests queued for peers, forgetting each once the peer carried it out.
pub async fn deliver_pending_erasures(state: &Arc<NodeState>) {
    let pending = match with_store(state, |s| s.pending_erasure_deliveries()).await {
        Ok(p) => p,
        Err(reason) => {
            warn!(%reason, "cannot read the erasure deliveries");
            return;
        }
    };
    for PendingErasure {
        peer: node,
        digest,
        request: bytes,
    } in pending
    {
        let Some(peer) = state.consortium.member(NodeId(node)).map(Peer::of) else {
            // A node that left the cluster: nothing to deliver to.
            continue;
        };
        if forwarding(state).contains(&digest) {
            // The endpoint is forwarding it now; it clears or keeps the queue entry itself.
            continue;
        }
        let Ok(request) = serde_json::from_slice::<ErasureRequest>(&bytes) else {
            continue;
        };
        match state
            .links
            .request(peer.node, &Request::Erasure { request }, PEER_TIMEOUT)
            .await
        {
            Ok(Response::Erasure { .. }) => {
                match with_store(state, move |s| s.erasure_delivered(node, &digest)).await {
                    Ok(()) => info!(%peer, "queued erasure delivered"),
                    Err(reason) => warn!(%reason, "cannot clear an erasure delivery"),
                }
            }
            Ok(other) => debug!(%peer, answer = ?other, "queued erasure not taken yet"),
            Err(e) => debug!(%peer, reason = %e, "queued erasure not delivered yet"),
        }
    }
}
