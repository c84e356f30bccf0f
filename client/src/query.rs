//! A researcher's query on the wire: the client makes a fresh X25519 key pair for the answer,
//! signs the query with the researcher's ed25519 key, posts it to a node (the coordinator) at
//! `/v1/query`, checks the three parties' answers against the node keys the cluster file pins
//! — each signed by its party, for this request's session and statistic, over the same rows
//! ([`hdg_wire::answer`]) — and only then opens the sealed aggregates (bound to this request;
//! the redundant copies of each share must agree). A relayed answer that fails a check is
//! refused, naming the check, and nothing is opened.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use hdg_mpc::stats::{SealedAggregates, StatValue, open_aggregates};
use hdg_mpc::{PublicKey, StaticSecret};
use hdg_schema::Timestamp;
use hdg_wire::Purpose;
use hdg_wire::answer::{check_answers, query_digest};
use hdg_wire::query::{PartyAnswer, Query, Statistic, session_of};
use hdg_wire::signed::{Kind, sign};

use crate::http::{NodeUrl, post};

/// What the cluster answered a query, opened by the researcher.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The statistic, in the indicator's fixed point.
    pub value: StatValue,
    /// Rows (pairs) it was computed on.
    pub rows: u64,
    /// The query's leaf index in each party's ledger.
    pub ledger: Vec<Option<u64>>,
    /// Payload bytes each party sent to the others.
    pub bytes_sent: [u64; 3],
}

/// A refusal by the cluster: the HTTP status and the reason it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// The reason the node gave.
    pub reason: String,
}

/// What a researcher asks, before it is sealed and signed.
#[derive(Debug, Clone)]
pub struct Question {
    /// The statistic.
    pub statistic: Statistic,
    /// The indicator's LOINC code.
    pub indicator: String,
    /// The effective-time window (whole UTC days), unix ms: from included, to excluded.
    pub window: (Option<i64>, Option<i64>),
    /// What the result is for.
    pub purpose: Purpose,
    /// The privacy loss to spend (a private cluster requires it; an exact one ignores it).
    pub epsilon: Option<f64>,
    /// Clipping bounds of the indicator's values (fixed point), for a private release.
    pub clip: Option<[i64; 2]>,
    /// Clipping bounds of the paired indicator's values (fixed point).
    pub pair_clip: Option<[i64; 2]>,
}

/// Signs `question` with `key` (the answer sealed to a fresh X25519 key made here), posts it to
/// `node`, checks the three answers against the parties' `pins` and opens them. `Ok(Err(_))` is
/// the cluster's refusal; `Err` a failure to ask, an answer refused by a check, or one that does
/// not open.
pub fn ask(
    node: &NodeUrl,
    pins: &[[u8; 32]; 3],
    key: &SigningKey,
    question: Question,
    timeout: Duration,
    save_request: Option<&Path>,
) -> anyhow::Result<Result<Answer, Refused>> {
    let recipient = StaticSecret::random_from_rng(&mut rand::rng());
    let query = Query {
        statistic: question.statistic,
        indicator: question.indicator,
        from: question.window.0,
        to: question.window.1,
        researcher_x25519: PublicKey::from(&recipient).to_bytes(),
        purpose: question.purpose,
        epsilon: question.epsilon,
        clip: question.clip,
        pair_clip: question.pair_clip,
    };
    let body = serde_json::to_string(&query).context("encoding the query")?;
    let signed = sign(key, Kind::Query, &body, Timestamp::now());
    let request = serde_json::to_vec(&signed).context("encoding the signed request")?;
    if let Some(path) = save_request {
        std::fs::write(path, &request)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (status, answer) = post(node, "/v1/query", "application/json", &request, timeout)?;
    if status != 200 {
        let reason = answer["error"].as_str().unwrap_or("no reason given");
        return Ok(Err(Refused {
            status,
            reason: reason.to_owned(),
        }));
    }
    let answers: Vec<PartyAnswer> = serde_json::from_value(answer["answers"].clone())
        .context("the node's answer does not hold the parties' answers")?;
    let digest = query_digest(&body);
    check_answers(
        &answers,
        pins,
        &session_of(&signed).0,
        &digest,
        &query.statistic,
    )?;
    let answers: [PartyAnswer; 3] = answers
        .try_into()
        .map_err(|_| anyhow::anyhow!("three answers were checked"))?;
    let sealed: [SealedAggregates; 3] = answers.clone().map(|a| a.sealed);
    let value = open_aggregates(&recipient, &sealed, &digest)
        .context("answer refused: the sealed answers do not open as the answer to this query")?;
    Ok(Ok(Answer {
        value,
        rows: answers[0].rows,
        ledger: answers.iter().map(|a| a.ledger_index).collect(),
        bytes_sent: [0, 1, 2].map(|i| answers[i].bytes_sent),
    }))
}
