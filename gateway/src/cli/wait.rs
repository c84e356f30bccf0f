//! `hdg wait --cluster DIR`: waits until every node of the cluster file answers its health
//! check with both peers linked and nothing left in its outbox (every value it took in is held
//! as shares by all three parties), each node dialled pinned to its own key. For scripts: the
//! step between starting the nodes (or ingesting) and asking them something.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdg_client::cluster_file::ClusterFile;
use hdg_client::http::{NodeUrl, get};
use serde_json::Value;

/// Arguments of `hdg wait`.
#[derive(clap::Args)]
pub struct Args {
    /// The cluster file (`cluster.toml` from `hdg init`, or its folder).
    #[arg(long, value_name = "FILE")]
    cluster: PathBuf,
    /// Seconds to wait at most.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// Pause between two rounds of health checks.
const POLL: Duration = Duration::from_millis(200);

/// Why a node of a cluster of `others + 1` nodes is not ready yet, from its health report
/// (`None`: ready).
fn not_ready(health: &Value, others: u64) -> Option<String> {
    let peers = health["peers_connected"].as_u64().unwrap_or(0);
    let outbox = health["outbox"].as_u64().unwrap_or(u64::MAX);
    if peers < others {
        Some(format!("{peers} of {others} peers linked"))
    } else if outbox > 0 {
        Some(format!("{outbox} batches of shares not yet delivered"))
    } else {
        None
    }
}

/// Runs `hdg wait`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cluster = ClusterFile::load(&args.cluster)?;
    let mut nodes = Vec::new();
    for node in &cluster.nodes {
        let pin = cluster.key_of_api(&node.api)?;
        let url = NodeUrl::open(&node.api, Some(&[pin]), false)
            .with_context(|| format!("{}: {}", node.name, node.api))?;
        nodes.push((node.name.clone(), url));
    }
    let others = nodes.len() as u64 - 1;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut waiting: Vec<(String, String)> = Vec::new();
    loop {
        waiting.clear();
        for (name, url) in &nodes {
            let why = match get(url, "/v1/health", Duration::from_secs(5)) {
                Ok((200, health)) => not_ready(&health, others),
                Ok((status, _)) => Some(format!("health answered {status}")),
                Err(e) => Some(format!("not answering ({e:#})")),
            };
            if let Some(why) = why {
                waiting.push((name.clone(), why));
            }
        }
        if waiting.is_empty() {
            println!(
                "ready: {} nodes, each linked to every other and every share delivered",
                nodes.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if Instant::now() >= deadline {
            for (name, why) in &waiting {
                eprintln!("{name}: {why}");
            }
            eprintln!("not ready after {} s", args.timeout);
            return Ok(ExitCode::FAILURE);
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_node_is_ready_linked_to_every_other_with_an_empty_outbox() {
        assert_eq!(
            not_ready(&json!({"peers_connected": 2, "outbox": 0}), 2),
            None
        );
        let why = not_ready(&json!({"peers_connected": 1, "outbox": 0}), 2).unwrap();
        assert!(why.contains("1 of 2 peers"), "{why}");
        let why = not_ready(&json!({"peers_connected": 2, "outbox": 3}), 2).unwrap();
        assert!(why.contains("3 batches"), "{why}");
        let why = not_ready(&json!({"peers_connected": 2, "outbox": 0}), 4).unwrap();
        assert!(why.contains("2 of 4 peers"), "{why}");
        assert!(not_ready(&json!({}), 2).is_some());
    }
}
