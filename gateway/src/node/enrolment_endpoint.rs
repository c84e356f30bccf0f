//! `POST /v1/enrolments`: a hospital's clinician or administrator and a patient link the
//! hospital's reference of the patient to the patient's key, or undo the link, at the
//! hospital's own node. The node checks it ([`super::enrolment`]), checks it is fresh and new,
//! anchors it with an `Enrolment` ledger entry listed in the patient's audit, and applies it to
//! the records it takes in from then on, without a restart. Enrolment is the home node's alone:
//! the peers never see the reference.
//!
//! Answers: 200 with the action, the patient's pseudonym and the ledger index; 400 malformed or
//! for another hospital; 401 a bad approval or a stale request; 403 not allowed or replayed;
//! 409 in conflict with the links in force; 429 too many requests.

use std::sync::{Arc, PoisonError};

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use hdg_schema::Pseudonym;
use hdg_storage::EnrolmentChange;
use serde_json::{Value, json};
use tracing::{info, warn};

use super::api::ApiError;
use super::approvals::{ApprovedRequest, check_fresh};
use super::enrolment::{Action, CheckedEnrolment, Hospital, applied, check_enrolment, check_links};
use super::signed::Kind;
use super::state::{NodeState, with_store};
use crate::clock::now;

/// Checks `req` against the registry, then its freshness and the staff member's rate, then
/// the links in force (so a replay of an applied request is refused as a replay); the
/// refusal's status and reason.
fn admit(state: &NodeState, req: &ApprovedRequest) -> Result<CheckedEnrolment, (u16, String)> {
    let refused = |status: u16, reason: String| {
        warn!(%reason, "enrolment refused");
        (status, reason)
    };
    let checked = {
        let registry = state
            .registry
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        check_enrolment(
            req,
            &Hospital {
                name: &state.name,
                registry: &registry,
                pseudonyms: &state.pseudonyms,
            },
        )
        .map_err(|e| refused(e.status(), e.to_string()))?
    };
    {
        let skew = i64::try_from(state.clock_skew.as_millis()).unwrap_or(i64::MAX);
        let mut cache = state.replay.lock().unwrap_or_else(PoisonError::into_inner);
        check_fresh(req, checked.digest, now().0, skew, &mut cache)
            .and_then(|()| state.charge(Kind::Enrolment, &checked.staff))
            .map_err(|e| refused(e.status(), format!("enrolment refused: {e}")))?;
    }
    let enrolled = state
        .enrolled
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    check_links(&checked, &enrolled).map_err(|e| refused(e.status(), e.to_string()))?;
    Ok(checked)
}

/// The handler of `POST /v1/enrolments`.
pub async fn post_enrolment(
    State(state): State<Arc<NodeState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), "cannot read the request body"))?;
    let req: ApprovedRequest = serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "body is not an approved request"))?;
    // One change at a time: checked against the links in force, stored, then applied.
    let _one_at_a_time = state.enrolment_changes.lock().await;
    let checked = admit(&state, &req).map_err(|(status, reason)| {
        ApiError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            reason,
        )
    })?;
    let worker = state.clone();
    let anchored = checked.clone();
    let leaf = with_store(&state, move |store| {
        let change = EnrolmentChange {
            subject: anchored.digest,
            reference: anchored.reference,
            patient_key: anchored.patient_key,
            enrolled: anchored.action == Action::Enrol,
            text: &anchored.text,
            actor: anchored.staff,
        };
        let (leaf, head) = store.record_enrolment(&change, now())?;
        worker.ledger_written(store, Some(head));
        // Applied while the store is still held: an ingest reads the links under the same
        // lock, so every record taken in after the entry is filed by the new links.
        let mut enrolled = worker
            .enrolled
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *enrolled = Arc::new(applied(&enrolled, &anchored));
        Ok(leaf)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    let patient = Pseudonym::from_public_key(&checked.patient_key);
    info!(action = %checked.action, leaf, "enrolment applied");
    Ok(Json(json!({
        "action": checked.action,
        "hospital": state.name,
        "patient": patient.to_string(),
        "ledger_index": leaf,
    })))
}
