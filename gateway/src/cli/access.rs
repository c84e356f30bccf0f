//! `hdg access`: a clinician's request for a patient's raw records, approved by the signatures
//! of the keys given (the clinician's, and the patient's or others'), posted to the patient's
//! home node, which checks the approvals against the patient's policy (see `node::access`). The
//! records come back sealed to a key made for this request; `hdg` opens them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use super::http::{NodeArgs, post};
use crate::clock::now;
use hdg_client::key::read_seed;
use hdg_wire::access::{ACCESS_DOMAIN, AccessRequest, records_context};
use hdg_wire::approvals::{ApprovedRequest, digest};
use hdg_wire::sealed_reply::{ReplyKey, SealedReply};
use hdg_wire::signed::{Kind, NONCE_BYTES};

/// Arguments of `hdg access`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    node: NodeArgs,
    /// The patient's public key (64 hex digits).
    #[arg(long)]
    patient: String,
    /// The requesting clinician's seed file; the clinician approves the request too.
    #[arg(long)]
    requester: PathBuf,
    /// Another approver's seed file (e.g. the patient's); repeat for several.
    #[arg(long = "approve")]
    approvers: Vec<PathBuf>,
    /// Why the records are needed (recorded and shown in the patient's audit).
    #[arg(long)]
    why: String,
    /// Only this indicator's records (LOINC code; repeat for several). Default: all.
    #[arg(long = "indicator")]
    indicators: Vec<String>,
    /// Minutes the request stays valid.
    #[arg(long, default_value_t = 10)]
    valid_minutes: i64,
    /// Print the node's JSON answer (with the records as FHIR Observations).
    #[arg(long)]
    json: bool,
}

/// Builds the request, signs it with every approver, posts it; exit failure when refused.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let node = args.node.open()?;
    let requester = read_seed(&args.requester)?;
    let time = now().0;
    let reply_key = ReplyKey::new();
    let body = serde_json::to_string(&AccessRequest {
        patient: args.patient.clone(),
        requester: hex::encode(requester.verifying_key().to_bytes()),
        indicators: args.indicators.clone(),
        why: args.why.clone(),
        until: time + args.valid_minutes * 60_000,
        reply_to: hex::encode(reply_key.public()),
    })?;
    let mut req = ApprovedRequest {
        body,
        nonce: hex::encode(rand::random::<[u8; NONCE_BYTES]>()),
        time,
        approvals: Vec::new(),
    };
    req.approve(&requester, Kind::Access);
    for path in &args.approvers {
        req.approve(&read_seed(path)?, Kind::Access);
    }
    let bytes = serde_json::to_vec(&req).context("encoding the request")?;
    let (status, answer) = post(
        &node,
        "/v1/access",
        "application/json",
        &bytes,
        Duration::from_secs(60),
    )?;
    let answer = if status == 200 {
        open_records(&reply_key, &req, answer)?
    } else {
        answer
    };
    if args.json {
        println!("{answer}");
    } else if status == 200 {
        println!(
            "{} records released; the access is ledger entry {} at the home node, approved by {} keys",
            answer["records"].as_array().map_or(0, Vec::len),
            answer["ledger_index"],
            answer["approvers"].as_array().map_or(0, Vec::len)
        );
    } else {
        eprintln!(
            "access refused ({status}): {}",
            answer["error"].as_str().unwrap_or("?")
        );
    }
    Ok(if status == 200 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The answer with its sealed records opened (to our reply key, for this request) in their
/// place: `{"records", "ledger_index", "approvers"}`.
fn open_records(
    reply_key: &ReplyKey,
    req: &ApprovedRequest,
    mut answer: Value,
) -> anyhow::Result<Value> {
    let sealed: SealedReply = serde_json::from_value(answer["sealed"].take())
        .context("the node's answer carries no sealed records")?;
    let plain = reply_key
        .open(&sealed, &records_context(&digest(req, ACCESS_DOMAIN)))
        .context("the records from the node")?;
    let opened: Value = serde_json::from_slice(&plain).context("the opened records")?;
    let object = answer
        .as_object_mut()
        .context("the answer is not an object")?;
    object.remove("sealed");
    object.insert("records".into(), opened["records"].clone());
    Ok(answer)
}
