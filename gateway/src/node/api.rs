//! The node's client HTTP JSON API (axum): health (with the outbox length), the latest signed and
//! the latest cosigned head, the witness state and consistency proofs, ingest, and researcher
//! queries (`POST /v1/query`, see [`super::coordinator`]), and the API's own OpenAPI document
//! ([`super::openapi`]). Every error is `{"error": "..."}` with a
//! status that says whose fault it is; RocksDB work runs on blocking threads, one writer at a time
//! (the store's mutex).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use hdg_ledger::consistency_proof;
use hdg_schema::Mode;
use hdg_storage::StoreError;
use hdg_wire::consortium::Roles;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use super::ingest::{IngestFailure, Ingested, format_of, ingest_body};
use super::ingest_auth;
use super::registry::Role;
use super::signed::{Kind, RequestError, SignedRequest};
use super::state::{NodeState, with_store};
use super::witness::witness_report;

/// An API error: a status and a message naming what is wrong (never a health value).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    details: Option<Value>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            details: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(Value::Object(extra)) = self.details {
            body.as_object_mut().expect("a JSON object").extend(extra);
        }
        (self.status, Json(body)).into_response()
    }
}

/// The router of the API over `state`.
pub fn router(state: Arc<NodeState>) -> Router {
    let limit = state.max_body;
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(super::openapi::serve))
        .route("/v1/head", get(head))
        .route("/v1/witness", get(witness))
        .route("/v1/consent", post(super::consent_endpoint::post_consent))
        .route("/v1/audit", post(super::audit::post_audit))
        .route("/v1/access", post(super::access::post_access))
        .route("/v1/erasure", post(super::erasure_endpoint::post_erasure))
        .route("/v1/registry", post(super::registry_change::post_registry))
        .route(
            "/v1/enrolments",
            post(super::enrolment_endpoint::post_enrolment),
        )
        .route("/v1/budget", post(super::budget::post_budget))
        .route("/v1/consistency", get(consistency))
        .route(
            "/v1/observations",
            post(observations).layer(DefaultBodyLimit::max(limit)),
        )
        .route(
            "/v1/query",
            post(super::coordinator::query).layer(DefaultBodyLimit::max(limit)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), by_role))
        .with_state(state)
}

/// Refuses, before its handler runs, a request for an endpoint this node's roles do not serve
/// ([`super::api_roles`]): 421, naming the nodes that serve it.
async fn by_role(
    State(state): State<Arc<NodeState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let me = Roles {
        hospital: state.hospital,
        party: state.party,
    };
    match super::api_roles::refusal(request.uri().path(), &state.name, me, &state.consortium) {
        Some(reason) => ApiError::new(StatusCode::MISDIRECTED_REQUEST, reason).into_response(),
        None => next.run(request).await,
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
}

/// A known path asked with a method it does not take: 405 with the JSON error like every other
/// refusal (axum adds the `Allow` header).
async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method",
    )
}

async fn health(State(state): State<Arc<NodeState>>) -> Json<Value> {
    let peers: Vec<u16> = state.links.connected().iter().map(|n| n.0).collect();
    Json(json!({
        "name": state.name,
        "party": state.party.map(|p| p.index()),
        "node": state.node.0,
        "hospital": state.hospital,
        "ledger_size": state.tree_size.load(Ordering::Acquire),
        "peers_connected": peers.len(),
        "peers": peers,
        "outbox": state.outbox_len.load(Ordering::Acquire),
    }))
}

/// The latest signed head and the newest one both peers cosigned (the note with their
/// cosignature lines).
async fn head(State(state): State<Arc<NodeState>>) -> Result<Json<Value>, ApiError> {
    let head = lock(&state.head).clone();
    let cosigned = with_store(&state, |s| s.latest_cosigned_head(2))
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    let (cosigned_height, cosigned_head) = cosigned.unzip();
    Ok(Json(json!({
        "tree_size": state.tree_size.load(Ordering::Acquire),
        "signed_head": head,
        "cosigned_height": cosigned_height,
        "cosigned_head": cosigned_head,
        "vkey": state.vkey,
    })))
}

/// What this node last cosigned for each peer, and the forks it refused.
async fn witness(State(state): State<Arc<NodeState>>) -> Result<Json<Value>, ApiError> {
    let cluster = state.consortium.clone();
    with_store(&state, move |s| witness_report(s, &cluster))
        .await
        .map(Json)
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))
}

/// Query parameters of `GET /v1/consistency`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyParams {
    old: u64,
    new: u64,
}

/// The consistency proof between two sizes of this node's ledger (RFC 9162), hex hashes.
async fn consistency(
    State(state): State<Arc<NodeState>>,
    params: Result<Query<ConsistencyParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(ConsistencyParams { old, new }) =
        params.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let size = state.tree_size.load(Ordering::Acquire);
    if old > new || new > size {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("need old <= new <= the ledger size {size}; got old {old}, new {new}"),
        ));
    }
    let proof = with_store(&state, move |s| {
        consistency_proof(&s.nodes(), old, new).map_err(|e| StoreError::Corrupt {
            what: "ledger".into(),
            reason: e.to_string(),
        })
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    let proof: Vec<String> = proof.iter().map(hex::encode).collect();
    Ok(Json(
        json!({ "old_size": old, "new_size": new, "proof": proof }),
    ))
}

/// Query parameters of `POST /v1/observations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestParams {
    /// Store the good entries and report the bad (default: strict).
    #[serde(default)]
    lenient: bool,
}

async fn observations(
    State(state): State<Arc<NodeState>>,
    params: Result<Query<IngestParams>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("bad query string: {}", e.body_text()),
        )
    })?;
    let body = body.map_err(|e| body_error(&e, state.max_body))?;
    // Only a registered source writes records: its signature covers this very body.
    let (source, source_name) = authenticate_source(&state, &headers, &body)?;
    let content_type = match headers.get(header::CONTENT_TYPE) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "Content-Type is not ASCII"))?,
        ),
    };
    let format = format_of(content_type, &body)
        .map_err(|e| ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, e))?;
    let mode = if params.lenient {
        Mode::Lenient
    } else {
        Mode::Strict
    };
    let worker = state.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut store = lock(&worker.store);
        let store = store
            .as_mut()
            .ok_or_else(|| IngestFailure::Store("the node is shutting down".to_string()))?;
        let enrolled = worker
            .enrolled
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let result = ingest_body(
            store,
            &body,
            format,
            mode,
            &enrolled,
            worker.policy.consent_required.then_some(&worker.consents),
            source,
        );
        if let Ok(done) = &result {
            worker.ledger_written(store, done.head.clone());
            worker.outbox_len.store(done.outbox_len, Ordering::Release);
            worker.outbox_wake.notify_one();
        }
        result
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("ingest task failed: {e}"),
        )
    })?;
    match outcome {
        Ok(done) => {
            info!(
                records = done.records.len(),
                duplicates = done.duplicates.len(),
                rejected = done.report.rejected.len(),
                tree_size = done.tree_size,
                source = %source_name,
                "ingested"
            );
            let mut answer = receipt(&done);
            answer["source"] = json!(source_name);
            answer["source_key"] = json!(hex::encode(source));
            Ok(Json(answer))
        }
        Err(failure) => Err(failure_error(failure)),
    }
}

/// Checks the ingest's signature (see [`super::ingest_auth`]) against the registered sources:
/// the source's key and name, or 401 (unsigned, bad signature, stale) / 403 (not a registered
/// source, replayed).
fn authenticate_source(
    state: &NodeState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<([u8; 32], String), ApiError> {
    let refuse = |e: RequestError| {
        warn!(reason = %e, "ingest refused");
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        let hint = if e == RequestError::Unsigned {
            ": records are accepted only from a registered source, signed (Hdg-Signer, Hdg-Nonce, Hdg-Time, Hdg-Signature; hdg ingest --key)"
        } else {
            ""
        };
        ApiError::new(status, format!("{e}{hint}"))
    };
    let signed = ingest_auth::from_headers(headers, body).map_err(refuse)?;
    let verified = state
        .admit(&signed, Kind::Ingest, Role::Source)
        .map_err(refuse)?;
    let key = verified.signer.to_bytes();
    let name = state
        .registry
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .name_of(&key)
        .unwrap_or("source")
        .to_owned();
    Ok((key, name))
}

/// The JSON receipt of an ingest.
fn receipt(done: &Ingested) -> Value {
    let accepted: u64 =
        done.report.accepted_by_indicator.values().sum::<u64>() + done.report.non_numeric;
    json!({
        "records": done.records.iter().map(|a| json!({
            "record_id": a.id.to_string(),
            "leaf_index": a.leaf_index,
        })).collect::<Vec<_>>(),
        "accepted": accepted,
        "duplicates": done.duplicates.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
        "refused": done.refused.iter().map(|(id, why)| json!({
            "record_id": id.to_string(),
            "reason": why,
        })).collect::<Vec<_>>(),
        "rejected": done.report.rejected,
        "tree_size": done.tree_size,
        "signed_head": done.head,
        "outbox": done.outbox_len,
    })
}

fn failure_error(failure: IngestFailure) -> ApiError {
    match failure {
        IngestFailure::Malformed(reason) => {
            warn!(%reason, "malformed ingest body");
            ApiError::new(StatusCode::BAD_REQUEST, format!("malformed body: {reason}"))
        }
        IngestFailure::Rejected(report) => {
            let first = report
                .rejected
                .first()
                .map(|r| format!("; first: {} field {}: {}", r.entry, r.field, r.reason))
                .unwrap_or_default();
            warn!(
                rejected = report.rejected.len(),
                "ingest body rejected (strict)"
            );
            ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: format!(
                    "{} entries rejected, nothing stored (strict mode; ?lenient=true stores the good ones){first}",
                    report.rejected.len()
                ),
                details: Some(json!({ "rejected": report.rejected })),
            }
        }
        IngestFailure::Store(reason) => {
            warn!(%reason, "ingest failed in the store");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("store failure: {reason}"),
            )
        }
    }
}

fn body_error(e: &BytesRejection, limit: usize) -> ApiError {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            format!("request body exceeds the limit of {limit} bytes"),
        )
    } else {
        ApiError::new(
            status,
            format!("cannot read the request body: {}", e.body_text()),
        )
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A request body as a signed request: the body's own status when it cannot be read, 400 when
/// it is not a `SignedRequest`. The one reading of every endpoint that takes one.
pub fn signed_request(body: Result<Bytes, BytesRejection>) -> Result<SignedRequest, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), "cannot read the request body"))?;
    serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "body is not a signed request"))
}
