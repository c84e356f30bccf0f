//! What is left of a researcher's privacy budget (`POST /v1/budget`, signed by the researcher,
//! body `{}`): this node's own record of what the researcher spent in the current period, and
//! the cluster's rules. Every party keeps and enforces its own record, so a client that wants
//! the whole picture asks each node (`hdg budget --cluster` does); the three agree unless a
//! query failed between one party's charge and another's, and a query is checked against the
//! largest of them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Value, json};
use tracing::warn;

use super::api::ApiError;
use super::query::privacy::{DpRules, NANO, Privacy};
use super::registry::Role;
use super::signed::Kind;
use super::state::{NodeState, with_store};
use crate::clock::now;

/// The answer for a researcher who spent `spent` nano-rho in `period` under `rules`.
pub fn budget_answer(node: &str, rules: &DpRules, period: u64, spent: u64) -> Value {
    let budget = rules.budget_nano_rho();
    let left = budget.saturating_sub(spent);
    let (start_ms, end_ms) = rules.period_bounds(period);
    // How many more queries of epsilon 1 fit (zCDP composes: more than left / 1).
    let of_one = rules.charge(1.0);
    json!({
        "node": node,
        "privacy": "dp",
        "delta": rules.delta,
        "max_epsilon_per_query": rules.max_epsilon,
        "budget_epsilon": rules.budget_epsilon,
        "period_days": rules.period_days,
        "period_start_ms": start_ms,
        "period_end_ms": end_ms,
        "spent_epsilon": rules.epsilon_of(spent),
        "spent_rho": spent as f64 / NANO,
        "left_rho": left as f64 / NANO,
        "largest_query_epsilon": if left == 0 { 0.0 } else { rules.epsilon_of(left).min(rules.max_epsilon) },
        "queries_of_epsilon_1_left": left / of_one.max(1),
    })
}

/// `POST /v1/budget`.
pub async fn post_budget(
    State(state): State<Arc<NodeState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let signed = super::api::signed_request(body)?;
    let verified = state
        .admit(&signed, Kind::Budget, Role::Researcher)
        .map_err(|e| {
            warn!(reason = %e, "budget request refused");
            ApiError::new(
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                e.to_string(),
            )
        })?;
    if serde_json::from_str::<serde_json::Map<String, Value>>(&verified.body)
        .map_or(true, |m| !m.is_empty())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request refused: a budget request's body is {}",
        ));
    }
    let Privacy::Dp(rules) = state.policy.privacy else {
        return Ok(Json(json!({ "node": state.name, "privacy": "exact" })));
    };
    let researcher = verified.signer.to_bytes();
    let period = rules.period(now().0);
    let spent = with_store(&state, move |store| {
        store.privacy_spent(&researcher, period)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    Ok(Json(budget_answer(&state.name, &rules, period, spent)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_counts_down_to_nothing() {
        let rules = DpRules {
            delta: 1e-6,
            max_epsilon: 4.0,
            budget_epsilon: 10.0,
            period_days: 30,
        };
        let fresh = budget_answer("node0", &rules, 7, 0);
        assert_eq!(fresh["spent_epsilon"], 0.0);
        assert_eq!(fresh["largest_query_epsilon"], 4.0);
        assert_eq!(fresh["period_start_ms"], 7u64 * 30 * 86_400_000);
        let n = fresh["queries_of_epsilon_1_left"].as_u64().unwrap();
        assert!(n > 10, "zCDP: {n} queries of 1 in a budget of 10");
        let spent = rules.budget_nano_rho();
        let done = budget_answer("node0", &rules, 7, spent);
        assert_eq!(done["queries_of_epsilon_1_left"], 0);
        assert_eq!(done["largest_query_epsilon"], 0.0);
        assert!((done["spent_epsilon"].as_f64().unwrap() - 10.0).abs() < 1e-6);
    }
}
