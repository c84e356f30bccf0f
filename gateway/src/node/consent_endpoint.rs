//! `POST /v1/consent`: a patient's signed grant or revocation, at any node. The node checks it
//! (signature, clock-skew window, its own replay cache, the grant's rules; a revocation must name a
//! grant of the same key held here), stores and anchors it, and forwards it to both peers
//! ([`Request::Consent`]), which check it themselves and do the same. At the patient's home node
//! a grant releases the held values it covers to the sharing outbox. The answer names the consent
//! id, each node's ledger index and, for a grant, its FHIR R4 Consent. A peer that cannot be
//! reached (or refuses it for now) is named, and its copy is queued durably and delivered when it
//! can be ([`deliver_pending_consents`]); until then the parties' row sets differ, so queries are
//! refused rather than computed on rows it would include or exclude differently.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use hdg_wire::consortium::NodeId;
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::api::ApiError;
use super::consent::{
    ConsentBody, ConsentError, MAX_GRANTS_IN_FORCE, check_revocation, open_consent,
};
use super::registry::Role;
use super::signed::{Kind, SignedRequest};
use super::state::{NodeState, with_store};
use crate::clock::now;
use crate::net::peer::Peer;
use crate::net::rpc::{Request, Response};

/// How long a peer may take to store a consent.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks `signed` here and stores it; the ledger index when this call wrote it.
pub async fn store_consent(
    state: &Arc<NodeState>,
    signed: &SignedRequest,
    from_client: bool,
) -> Result<Option<u64>, (StatusCode, String)> {
    let refused = |e: ConsentError| {
        warn!(reason = %e, "consent refused");
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        (status, e.to_string())
    };
    // A client's request must be fresh and new; a pinned peer's replication may come late (it
    // retries until this node has the record), and storing is idempotent by consent id.
    if from_client {
        state
            .admit(signed, Kind::Consent, Role::Patient)
            .map_err(|e| refused(e.into()))?;
    }
    let record = open_consent(signed).map_err(refused)?;
    // Only a registered patient consents, from a client or relayed by a peer.
    let is_patient = state
        .registry
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .has(Role::Patient, &record.signer);
    if !is_patient {
        return Err(refused(ConsentError::NotAPatient));
    }
    let bytes = serde_json::to_vec(signed).expect("a signed request serialises");
    let cached = state.clone();
    let outcome = with_store(state, move |store| {
        if let ConsentBody::Revoke { consent } = &record.body {
            let mut id = [0u8; 32];
            hex::decode_to_slice(consent, &mut id).expect("checked as 64 hex digits");
            let revoked = match store.consent(&id)? {
                Some(b) => serde_json::from_slice::<SignedRequest>(&b)
                    .ok()
                    .and_then(|s| open_consent(&s).ok()),
                None => None,
            };
            if let Err(e) = check_revocation(&record, revoked.as_ref()) {
                return Ok(Err(e));
            }
        }
        // A client's new grant beyond the cap is refused; a peer's copy of a grant another node
        // accepted is stored, so the parties' consents stay the same.
        if from_client && matches!(record.body, ConsentBody::Grant { .. }) {
            let in_force = cached
                .consents
                .get(store)?
                .grants_in_force(&record.patient, now().0);
            if in_force >= MAX_GRANTS_IN_FORCE && store.consent(&record.id)?.is_none() {
                return Ok(Err(ConsentError::TooManyGrants {
                    max: MAX_GRANTS_IN_FORCE,
                }));
            }
        }
        let before = store.consent_generation();
        let stored = store.record_consent(record.id, &bytes, record.signer, now())?;
        if stored.is_some() {
            cached.consents.stored(store, before, record.clone());
        }
        // A grant releases the patient's held values it covers to the sharing outbox.
        if matches!(record.body, ConsentBody::Grant { .. }) {
            let set = cached.consents.get(store)?;
            let at = now().0;
            let released = store.release_held(&record.patient, &|o| {
                set.covers_any_use(&o.patient, &o.indicator, o.effective.utc_day(), at)
            })?;
            if released > 0 {
                cached
                    .outbox_len
                    .store(store.outbox_len()?, Ordering::Release);
                cached.outbox_wake.notify_one();
                info!(released, "consent released held values for sharing");
            }
        }
        cached.ledger_written(store, stored.as_ref().map(|(_, head)| head.clone()));
        Ok(Ok(stored.map(|(leaf, _)| leaf)))
    })
    .await
    .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e))?;
    outcome.map_err(refused)
}

/// The handler of `POST /v1/consent`: 200 when the three parties hold the consent, 202 when a
/// peer's copy is queued (named in `pending`).
pub async fn post_consent(
    State(state): State<Arc<NodeState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let signed = super::api::signed_request(body)?;
    let own = store_consent(&state, &signed, true)
        .await
        .map_err(|(status, reason)| ApiError::new(status, reason))?;
    let id = super::consent::consent_id(&signed);
    // The grant as a FHIR R4 Consent, for the patient's records (checked above, so it opens).
    let fhir = open_consent(&signed)
        .ok()
        .and_then(|r| super::consent_fhir::to_fhir(&r.body));
    let mut ledger: Vec<Option<u64>> = vec![None; state.consortium.members().len()];
    ledger[state.position()] = own;
    let mut missing = Vec::new();
    let request = Request::Consent { signed };
    for (peer, reply) in state.ask_others(&request, PEER_TIMEOUT).await {
        let problem = match reply {
            Ok(Response::Stored { leaf_index }) => {
                ledger[state.position_of(peer.node)] = leaf_index;
                continue;
            }
            Ok(Response::Error { reason }) => format!("{peer} refused it for now: {reason}"),
            Ok(other) => format!("{peer}: unexpected answer {other:?}"),
            Err(e) => e.to_string(),
        };
        missing.push(problem);
        let node = peer.node.0;
        with_store(&state, move |s| s.queue_consent_delivery(node, &id))
            .await
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    }
    let body = json!({
        "consent_id": hex::encode(id),
        "ledger_index": ledger,
        "fhir": fhir,
        "pending": missing,
    });
    if missing.is_empty() {
        info!("consent stored at the three parties");
        Ok((StatusCode::OK, Json(body)))
    } else {
        // Durably queued: delivered when the peer is back; until then the parties' row sets
        // differ, so queries that the consent changes are refused, never computed.
        warn!(problems = ?missing, "consent stored here, delivery to a peer queued");
        Ok((StatusCode::ACCEPTED, Json(body)))
    }
}

/// A peer's [`Request::Consent`]: checked (signature and rules) and stored here.
pub async fn answer_consent(state: &Arc<NodeState>, signed: &SignedRequest) -> Response {
    match store_consent(state, signed, false).await {
        Ok(leaf_index) => Response::Stored { leaf_index },
        Err((_, reason)) => Response::Error { reason },
    }
}

/// Delivers the consents queued for peers that were unreachable (or refused them for now, e.g. a
/// revocation whose grant had not arrived yet), forgetting each once stored.
pub async fn deliver_pending_consents(state: &Arc<NodeState>) {
    let pending = match with_store(state, |s| s.pending_consent_deliveries()).await {
        Ok(p) => p,
        Err(reason) => {
            warn!(%reason, "cannot read the consent deliveries");
            return;
        }
    };
    for (node, id) in pending {
        let Some(peer) = state.consortium.member(NodeId(node)).map(Peer::of) else {
            // A node that left the cluster: nothing to deliver to.
            continue;
        };
        let Ok(Some(bytes)) = with_store(state, move |s| s.consent(&id)).await else {
            continue;
        };
        let Ok(signed) = serde_json::from_slice::<SignedRequest>(&bytes) else {
            continue;
        };
        match state
            .links
            .request(peer.node, &Request::Consent { signed }, PEER_TIMEOUT)
            .await
        {
            Ok(Response::Stored { .. }) => {
                if let Err(reason) =
                    with_store(state, move |s| s.consent_delivered(node, &id)).await
                {
                    warn!(%reason, "cannot clear a consent delivery");
                } else {
                    info!(%peer, "queued consent delivered");
                }
            }
            Ok(other) => debug!(%peer, answer = ?other, "queued consent not taken yet"),
            Err(e) => debug!(%peer, reason = %e, "queued consent not delivered yet"),
        }
    }
}
