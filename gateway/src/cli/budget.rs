//! `hdg budget`: what is left of a researcher's privacy budget in the current period. Each node
//! keeps and enforces its own record; with `--cluster` and no `--node` every node of the cluster
//! file is asked (each pinned by its key), and the largest spend is the one queries are checked
//! against.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::http::{NodeUrl, connect, post};
use crate::clock::now;
use hdg_client::cluster_file::ClusterFile;
use hdg_client::key::read_seed;
use hdg_wire::signed::{Kind, sign};

/// Arguments of `hdg budget`.
#[derive(clap::Args)]
pub struct Args {
    /// One node's API to ask (default: every node of the cluster file).
    #[arg(long)]
    node: Option<String>,
    /// The cluster file (`cluster.toml` from `hdg init`, or its folder): the nodes' APIs and
    /// the keys they must present.
    #[arg(long, value_name = "FILE")]
    cluster: PathBuf,
    /// Allow a plain-HTTP node (local debugging only).
    #[arg(long)]
    insecure_http: bool,
    /// The researcher's ed25519 seed file (64 hex digits).
    #[arg(long)]
    key: PathBuf,
    /// Print the nodes' answers as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Asks `node` for the researcher's budget.
fn ask(node: &NodeUrl, key: &ed25519_dalek::SigningKey) -> anyhow::Result<Value> {
    let signed = sign(key, Kind::Budget, "{}", now());
    let body = serde_json::to_vec(&signed).context("encoding the request")?;
    let (status, answer) = post(
        node,
        "/v1/budget",
        "application/json",
        &body,
        Duration::from_secs(30),
    )?;
    if status != 200 {
        bail!(
            "refused ({status}): {}",
            answer["error"].as_str().unwrap_or("no reason given")
        );
    }
    Ok(answer)
}

/// Runs `hdg budget`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key = read_seed(&args.key)?;
    let urls: Vec<String> = match &args.node {
        Some(url) => vec![url.clone()],
        None => {
            let cluster = ClusterFile::load(&args.cluster)?;
            (0..3)
                .map(|i| {
                    cluster
                        .api(i)
                        .map(str::to_owned)
                        .with_context(|| format!("the cluster file names no API for node {i}"))
                })
                .collect::<anyhow::Result<_>>()?
        }
    };
    let mut answers = Vec::new();
    for url in &urls {
        let node = connect(url, Some(&args.cluster), args.insecure_http)?;
        answers.push(ask(&node, &key).with_context(|| format!("asking {url}"))?);
    }
    if args.json {
        println!("{}", json!({ "nodes": answers }));
        return Ok(ExitCode::SUCCESS);
    }
    for a in &answers {
        let name = a["node"].as_str().unwrap_or("?");
        if a["privacy"] == "exact" {
            println!("{name}: exact answers, no privacy budget");
            continue;
        }
        println!(
            "{name}: spent epsilon {:.3} of {} (delta {}) this {}-day period; {} more queries of epsilon 1 fit, or one of epsilon {:.3} at most",
            a["spent_epsilon"].as_f64().unwrap_or(f64::NAN),
            a["budget_epsilon"],
            a["delta"],
            a["period_days"],
            a["queries_of_epsilon_1_left"],
            a["largest_query_epsilon"].as_f64().unwrap_or(f64::NAN),
        );
    }
    Ok(ExitCode::SUCCESS)
}
