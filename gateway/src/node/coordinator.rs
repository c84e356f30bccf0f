//! `POST /v1/query` at the coordinator (any node): verify the researcher's signed request here,
//! forward it to the computing parties as [`Request::Query`] (running this node's own party
//! if it is one), and relay the three sealed answers (the coordinator never sees a result). Everything is bounded by the
//! node's query timeout: a party that does not answer in time gives 504, one that cannot be
//! reached or fails gives 502 (each naming the party), and no answer is released unless all
//! three answered.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use hdg_mpc::PartyId;
use serde_json::{Value, json};
use tracing::{info, warn};

use super::api::ApiError;
use super::query::PartyAnswer;
use super::query_party::{Refusal, answer_query, authorise_query, session_of, verify_researcher};
use super::signed::SignedRequest;
use super::state::NodeState;
use crate::net::rpc::{Request, Response, RpcError};

/// The handler of `POST /v1/query`.
pub async fn query(
    State(state): State<Arc<NodeState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let signed = super::api::signed_request(body)
        .inspect_err(|_| warn!("query refused: the body is not a signed request"))?;
    verify_researcher(&state, &signed).map_err(refusal_error)?;
    authorise_query(&state, &signed).map_err(refusal_error)?;
    let session = session_of(&signed);
    let answers = run_three(&state, &signed, session)
        .await
        .map_err(refusal_error)?;
    let rows = answers[0].rows;
    info!(rows, "query answered (sealed shares relayed)");
    Ok(Json(json!({ "answers": answers, "rows": rows })))
}

/// Runs the query at the three parties at once; the answers in party order, or the most
/// telling refusal (a rule's 4xx before a link's 5xx).
async fn run_three(
    state: &Arc<NodeState>,
    signed: &SignedRequest,
    session: hdg_mpc::SessionId,
) -> Result<[PartyAnswer; 3], Refusal> {
    let request = Request::Query {
        signed: signed.clone(),
        session,
    };
    let bound = state.query_timeout;
    let run = |party: PartyId| {
        let request = &request;
        async move {
            if state.party == Some(party) {
                return tokio::time::timeout(bound, answer_query(state, signed, session, false))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Refusal::new(
                            504,
                            format!("{party} (this node) did not finish within {bound:?}"),
                        ))
                    });
            }
            let reply = state
                .links
                .request(state.links.node_of(party), request, bound)
                .await;
            peer_answer(party, reply)
        }
    };
    let (p0, p1, p2) = tokio::join!(
        run(PartyId::ALL[0]),
        run(PartyId::ALL[1]),
        run(PartyId::ALL[2])
    );
    let results = [p0, p1, p2];
    let failures: Vec<&Refusal> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if let Some(rule) = failures.iter().find(|r| r.status < 500) {
        // A rule refused the query (the others then failed on the links): report the rule.
        return Err((*rule).clone());
    }
    if !failures.is_empty() {
        let status = if failures.iter().any(|r| r.status == 504) {
            504
        } else {
            failures.iter().map(|r| r.status).max().unwrap_or(502)
        };
        let reasons: Vec<&str> = failures.iter().map(|r| r.reason.as_str()).collect();
        warn!(status, "query failed: no output released");
        return Err(Refusal::new(
            status,
            format!("no output released: {}", reasons.join("; ")),
        ));
    }
    Ok(results.map(|r| r.expect("no refusal")))
}

/// A peer's reply as this party's view of its answer.
fn peer_answer(peer: PartyId, reply: Result<Response, RpcError>) -> Result<PartyAnswer, Refusal> {
    match reply {
        Ok(Response::QueryAnswer { answer }) => Ok(*answer),
        Ok(Response::QueryRefused { status, reason }) => Err(Refusal::new(
            peer_status(status),
            format!("{peer}: {reason}"),
        )),
        Ok(other) => Err(Refusal::new(
            502,
            format!("{peer} answered a query with {}", kind_of(&other)),
        )),
        Err(e @ RpcError::Timeout { .. }) => Err(Refusal::new(504, e.to_string())),
        Err(e) => Err(Refusal::new(502, e.to_string())),
    }
}

fn kind_of(r: &Response) -> &'static str {
    match r {
        Response::ShareAck { .. } => "a share acknowledgement",
        Response::Error { .. } => "an error",
        Response::QueryAnswer { .. } => "an answer",
        Response::QueryRefused { .. } => "a refusal",
        Response::Stored { .. } => "a storage receipt",
        Response::AuditReport { .. } => "an audit report",
        Response::Erasure { .. } | Response::Holding { .. } => "an erasure answer",
        Response::Cosigned { .. }
        | Response::WitnessConflict { .. }
        | Response::WitnessFork { .. } => "a witness answer",
    }
}

/// The statuses a peer's refusal of a query keeps at the coordinator: those `/v1/query`
/// documents. A peer cannot make the coordinator answer success, a redirect or anything the
/// researcher would not expect; anything else becomes 502.
const PASSED_THROUGH: [u16; 10] = [400, 401, 403, 409, 422, 429, 500, 502, 503, 504];

/// A peer's refusal status as the coordinator passes it on.
fn peer_status(status: u16) -> u16 {
    if PASSED_THROUGH.contains(&status) {
        status
    } else {
        502
    }
}

/// A refusal as the coordinator's answer (an error status always: 502 otherwise).
fn refusal_error(r: Refusal) -> ApiError {
    let status = StatusCode::from_u16(r.status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    ApiError::new(status, r.reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    #[test]
    fn a_refusal_keeps_an_error_status_and_nothing_else() {
        let status = |code: u16| {
            refusal_error(Refusal {
                status: code,
                reason: "no".into(),
            })
            .into_response()
            .status()
            .as_u16()
        };
        assert_eq!(status(401), 401);
        assert_eq!(status(422), 422);
        assert_eq!(status(503), 503);
        for not_an_error in [100, 200, 204, 302, 999, 0] {
            assert_eq!(status(not_an_error), 502, "{not_an_error}");
        }
        // A peer's refusal keeps only the statuses /v1/query documents.
        let peer = |code: u16| match peer_answer(
            PartyId::ALL[1],
            Ok(Response::QueryRefused {
                status: code,
                reason: "no".into(),
            }),
        ) {
            Err(r) => r.status,
            Ok(_) => panic!("a refusal was taken for an answer"),
        };
        for (sent, kept) in [
            (403, 403),
            (429, 429),
            (200, 502),
            (302, 502),
            (404, 502),
            (418, 502),
        ] {
            assert_eq!(peer(sent), kept, "{sent}");
        }
    }
}
