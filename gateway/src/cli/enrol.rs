//! `hdg enrol`: a hospital's clinician or administrator and a patient link the hospital's
//! reference of the patient (`Patient/<id>`, or `<system>|<value>`) to the patient's key at the
//! hospital's node, or undo the link (`--unenrol`). Both sign the same body; the node files the
//! records it takes in from then on under the patient's key, so the patient's consents cover
//! them and their audit lists their use (see `node::enrolment`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use serde_json::Value;

use super::http::{NodeArgs, NodeUrl, get, post};
use crate::clock::now;
use hdg_client::key::read_seed;
use hdg_wire::approvals::ApprovedRequest;
use hdg_wire::enrolment::{Action, Enrolment, check_reference};
use hdg_wire::signed::{Kind, NONCE_BYTES};

/// Arguments of `hdg enrol`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    node: NodeArgs,
    /// The hospital's reference of the patient, as its records name their subject:
    /// `Patient/<id>`, or `<system>|<value>` for an identifier such as a record number.
    #[arg(long)]
    reference: String,
    /// The patient's seed file: the patient co-signs, proving they hold the key.
    #[arg(long, value_name = "FILE")]
    patient_key: PathBuf,
    /// The seed file of a clinician or administrator registered at this hospital.
    #[arg(long, value_name = "FILE")]
    staff_key: PathBuf,
    /// Undo the link instead.
    #[arg(long)]
    unenrol: bool,
}

/// The request both keys approve: `action` of `reference` to `patient` at `hospital`.
pub fn request(
    action: Action,
    hospital: &str,
    reference: &str,
    patient: &SigningKey,
    staff: &SigningKey,
) -> anyhow::Result<ApprovedRequest> {
    let body = Enrolment {
        action,
        hospital: hospital.to_owned(),
        reference: reference.to_owned(),
        patient: hex::encode(patient.verifying_key().to_bytes()),
    };
    let mut req = ApprovedRequest {
        body: serde_json::to_string(&body)?,
        nonce: hex::encode(rand::random::<[u8; NONCE_BYTES]>()),
        time: now().0,
        approvals: Vec::new(),
    };
    req.approve(staff, Kind::Enrolment);
    req.approve(patient, Kind::Enrolment);
    Ok(req)
}

/// Posts `req` to `node`: the node's answer, or its refusal as an error naming the rule.
pub fn send(node: &NodeUrl, req: &ApprovedRequest) -> anyhow::Result<Value> {
    let bytes = serde_json::to_vec(req).context("encoding the request")?;
    let (status, answer) = post(
        node,
        "/v1/enrolments",
        "application/json",
        &bytes,
        Duration::from_secs(30),
    )?;
    if status != 200 {
        anyhow::bail!("{} ({status})", answer["error"].as_str().unwrap_or("?"));
    }
    Ok(answer)
}

/// The hospital a node serves: its name in `/v1/health`, over the pinned connection.
pub fn hospital(node: &NodeUrl) -> anyhow::Result<String> {
    let (status, health) = get(node, "/v1/health", Duration::from_secs(10))?;
    match health["name"].as_str() {
        Some(name) if status == 200 => Ok(name.to_owned()),
        _ => anyhow::bail!("the node's health ({status}) does not name it"),
    }
}

/// Builds the request, signs it with both keys, posts it; exit failure when refused.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    check_reference(&args.reference).map_err(|e| anyhow::anyhow!("--reference {e}"))?;
    let patient = read_seed(&args.patient_key)?;
    let staff = read_seed(&args.staff_key)?;
    let node = args.node.open()?;
    let action = if args.unenrol {
        Action::Unenrol
    } else {
        Action::Enrol
    };
    let req = request(action, &hospital(&node)?, &args.reference, &patient, &staff)?;
    match send(&node, &req) {
        Ok(answer) => {
            let done = if args.unenrol {
                "unenrolled"
            } else {
                "enrolled"
            };
            println!(
                "{done} at {}: patient {} (ledger entry {})",
                answer["hospital"].as_str().unwrap_or("?"),
                answer["patient"].as_str().unwrap_or("?"),
                answer["ledger_index"]
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}
