//! `hdg erase`: erase a patient's data.
//!
//! - `hdg erase --node URL --key PATIENT_KEY`: as the patient, at every node of the cluster (their
//!   records at their home node, their share rows at the three parties); any node takes it.
//! - `hdg erase --node URL --approve ADMIN_KEY --approve ADMIN_KEY --patient PSEUDONYM`: as k of
//!   the cluster's administrators, for a patient who cannot sign.
//! - `hdg erase --data DIR --key-file KEY --patient PSEUDONYM`: offline, a store that is not part
//!   of a cluster (a node of one is refused: its peers would keep the patient's shares).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use hdg_schema::Pseudonym;
use hdg_storage::{Erasure, ErasureOrder, Holding};
use serde_json::json;

use super::http::{connect, post};
use crate::clock::now;
use crate::unlock::Unlock;
use hdg_client::key::read_seed;
use hdg_wire::approvals::ApprovedRequest;
use hdg_wire::erasure::{AdminErasure, ERASE_BODY, ErasureRequest};
use hdg_wire::signed::{Kind, NONCE_BYTES, sign};

/// Arguments of `hdg erase`.
#[derive(clap::Args)]
pub struct Args {
    /// A node of the cluster, `https://host:port`: erase at every node.
    #[arg(long, value_name = "URL", conflicts_with = "data")]
    node: Option<String>,
    /// The cluster file (`cluster.toml`): the node keys an https node must present.
    #[arg(long, value_name = "FILE")]
    cluster: Option<PathBuf>,
    /// Allow a plain-HTTP node (local debugging only).
    #[arg(long)]
    insecure_http: bool,
    /// The patient's seed file: erase as the patient (with `--node`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["approvers", "data"])]
    key: Option<PathBuf>,
    /// An administrator's seed file approving the erasure (repeat for k of them; with `--node`).
    #[arg(long = "approve", value_name = "FILE", requires = "patient")]
    approvers: Vec<PathBuf>,
    /// The patient's pseudonym (64 lowercase hex digits), for administrators or `--data`.
    #[arg(long)]
    patient: Option<String>,
    /// A standalone store's data folder (not a cluster node): erase there, offline.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    #[command(flatten)]
    unlock: Unlock,
    /// Also write the signed request as posted to FILE (an audit copy; replaying it is refused).
    #[arg(long, value_name = "FILE")]
    save_request: Option<PathBuf>,
    /// Print the node's JSON answer.
    #[arg(long)]
    json: bool,
}

/// Erases and prints what each node did; exit failure when refused.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.data {
        return offline(&args, dir);
    }
    let node = connect(
        args.node
            .as_deref()
            .context("give --node URL (or --data DIR)")?,
        args.cluster.as_deref(),
        args.insecure_http,
    )?;
    let request = match (&args.key, args.approvers.is_empty()) {
        (Some(key), true) => ErasureRequest::Patient {
            signed: sign(&read_seed(key)?, Kind::Erase, ERASE_BODY, now()),
        },
        (None, false) => {
            let patient: Pseudonym = args
                .patient
                .as_deref()
                .context("--patient is required with --approve")?
                .parse()
                .context("--patient must be 64 lowercase hex digits")?;
            let body = serde_json::to_string(&AdminErasure {
                action: "erase".into(),
                patient,
            })?;
            let mut request = ApprovedRequest {
                body,
                nonce: hex::encode(rand::random::<[u8; NONCE_BYTES]>()),
                time: now().0,
                approvals: Vec::new(),
            };
            for path in &args.approvers {
                request.approve(&read_seed(path)?, Kind::Erase);
            }
            ErasureRequest::Admins { request }
        }
        _ => bail!("give --key PATIENT_KEY (as the patient) or --approve ADMIN_KEY... --patient P"),
    };
    let bytes = serde_json::to_vec(&request).context("encoding the request")?;
    if let Some(path) = &args.save_request {
        std::fs::write(path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (status, answer) = post(
        &node,
        "/v1/erasure",
        "application/json",
        &bytes,
        Duration::from_secs(120),
    )?;
    if args.json {
        println!("{}", json!({ "status": status, "answer": answer }));
    } else if status == 200 || status == 202 {
        for (i, n) in answer["nodes"].as_array().into_iter().flatten().enumerate() {
            let leaf = n["ledger_index"]
                .as_u64()
                .map_or(String::new(), |l| format!(" (ledger leaf {l})"));
            println!("node{i}: {}{leaf}", n["outcome"].as_str().unwrap_or("?"));
        }
        for p in answer["pending"].as_array().into_iter().flatten() {
            println!("pending: {}", p.as_str().unwrap_or_default());
        }
    } else {
        eprintln!(
            "erasure refused ({status}): {}",
            answer["error"].as_str().unwrap_or("no reason given")
        );
    }
    Ok(if status == 200 || status == 202 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The offline erasure of a standalone store.
fn offline(args: &Args, dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let p: Pseudonym = args
        .patient
        .as_deref()
        .context("--patient is required with --data")?
        .parse()
        .context("--patient must be 64 lowercase hex digits")?;
    let mut store = hdg_storage::Store::open(dir, false, &args.unlock.source()?)?;
    if store.has_share_receipts()? {
        bail!(
            "{} belongs to a cluster (it holds share rows): erase through the cluster with \
             `hdg erase --node URL`, or the other parties keep the patient's shares",
            dir.display()
        );
    }
    match store.holding(&p)? {
        Holding::Nothing => bail!("patient {p} has no data in this store"),
        Holding::Erased => bail!("patient {p} was already erased here"),
        Holding::Data => {}
    }
    let text = json!({ "requested_by": "operator, offline" }).to_string();
    let order = ErasureOrder {
        patient: p,
        actor: store.node_signing_key().verifying_key().to_bytes(),
        text: &text,
        owed: None,
    };
    let Erasure::Erased(r) = store.erase_patient(&order, now())? else {
        bail!("patient {p} was already erased here");
    };
    if let Some(c) = store.pending_compaction()? {
        c.run()?;
    }
    println!(
        "erased: {} records of patient {p} are unreadable; erasure anchored at leaf {}\n{}",
        r.records, r.leaf_index, r.checkpoint
    );
    Ok(ExitCode::SUCCESS)
}
