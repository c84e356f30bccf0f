//! A malicious computing party as a real node process: the test build of `hdg` reads the
//! deviation its parties make from `HDG_FAULT` (mpc `fault-injection` feature, enabled for
//! tests only). One deviation per kind of statistic, over QUIC between three processes:
//! - an altered AND message (a comparison's carry) stops a histogram, a median and a filtered
//!   mean at the honest parties before anything is released: 409, the cheat named, and each
//!   honest node anchors the abort in its ledger;
//! - a statistic without a comparison (the mean) gives the cheat no AND to lie in and is
//!   answered right;
//! - an altered product share (2^63 added) stops a variance, a histogram and a filtered mean
//!   the same way, and the mean, which multiplies nothing, is answered right;
//! - a shifted noise draw (a private cluster) stops a private mean the same way: the draw's
//!   co-holder sees its copy differ;
//! - a lie in a verdict (a signed finding sent to one honest node only) stops a histogram, a
//!   median and a filtered mean at both honest nodes, each logging the abort: the verdicts are
//!   signed and forwarded, so an abort is unanimous;
//! - shares sealed wrong to the researcher are refused by the researcher's client.

mod common;

use std::path::Path;

use common::*;
use hdg_ledger::{EntryKind, LedgerEntry};
use serde_json::Value;

const GLUCOSE: &str = "2339-0";

/// A cluster without consent (synthetic data, exact answers) whose node `cheat` deviates as
/// `fault` says, holding 30 glucose values of 15 patients, ingested at node 0.
fn cluster_with_cheat(dir: &Path, cheat: usize, fault: &str) -> (Nodes, Vec<f64>) {
    init_cluster_without_consent(dir);
    started_with_cheat(dir, cheat, fault)
}

/// The nodes of the cluster initialised in `dir` started, node `cheat` deviating as `fault`
/// says, with the glucose values of [`cluster_with_cheat`] ingested.
fn started_with_cheat(dir: &Path, cheat: usize, fault: &str) -> (Nodes, Vec<f64>) {
    let mut nodes = Nodes::none();
    for i in 0..3 {
        if i == cheat {
            nodes.start_with_env(dir, i, &[("HDG_FAULT", fault)]);
        } else {
            nodes.start(dir, i);
        }
    }
    for i in 0..3 {
        wait_healthy(&mut nodes, dir, i, 2);
    }
    let mut csv = String::from("patient,indicator,value,unit,effective,source\n");
    let mut values = Vec::new();
    for k in 0..30 {
        let v = 80.0 + f64::from(k * 7 % 90);
        values.push(v);
        csv.push_str(&format!(
            "p-{},{GLUCOSE},{v},mg/dL,2024-05-{:02},lab\n",
            k % 15,
            k % 28 + 1
        ));
    }
    let (status, receipt) = post_observations(dir, 0, "", "text/csv", csv.as_bytes());
    assert_eq!(status, 200, "{receipt}");
    wait_outbox_empty(&mut nodes, dir, 0);
    (nodes, values)
}

/// `hdg query --json` at node `at` with `args`: the answer, or the refusal's status and reason
/// (status 0 when the client itself refused the answers, with its message).
fn ask(dir: &Path, at: usize, args: &[&str]) -> Result<Value, (u64, String)> {
    let mut all = vec!["--indicator", GLUCOSE, "--json"];
    all.extend_from_slice(args);
    let (ok, text) = hdg_query(dir, at, &researcher(dir), &all);
    let Ok(json) = serde_json::from_str::<Value>(text.lines().next().unwrap_or_default()) else {
        assert!(!ok, "an answer that is not JSON: {text}");
        return Err((0, text));
    };
    if ok {
        Ok(json)
    } else {
        Err((
            json["status"].as_u64().unwrap_or(0),
            json["error"].as_str().unwrap_or_default().to_string(),
        ))
    }
}

/// The reasons of the abort entries in node `i`'s ledger (the node must be stopped).
fn aborts(dir: &Path, i: usize) -> Vec<String> {
    let store = open_store(dir, i);
    (0..store.tree_size())
        .filter_map(|leaf| {
            let entry = LedgerEntry::from_bytes(&store.leaf(leaf).unwrap()).unwrap();
            (entry.kind == EntryKind::Abort).then(|| store.entry_text(leaf).unwrap().unwrap())
        })
        .collect()
}

/// Asks each statistic with each node in turn as coordinator (the cheat's own answer cannot
/// hide the abort): each must abort with 409 naming the cheat.
fn each_aborts_naming(dir: &Path, cheat: usize, statistics: &[&[&str]]) {
    for (k, args) in statistics.iter().enumerate() {
        let (status, reason) = ask(dir, k % 3, args).expect_err("a deviation must abort");
        assert_eq!(status, 409, "{args:?}: {reason}");
        assert!(
            reason.contains("deviated") && reason.contains(&format!("P{cheat}")),
            "{args:?}: {reason}"
        );
    }
}

/// Stops the nodes; each honest node's ledger then holds `count` aborts, each at `step` (the
/// check that failed) naming the cheat.
fn honest_ledgers_log(mut nodes: Nodes, dir: &Path, cheat: usize, count: usize, step: &str) {
    for i in 0..3 {
        nodes.terminate(i, std::time::Duration::from_secs(20));
    }
    for honest in (0..3).filter(|i| *i != cheat) {
        let logged = aborts(dir, honest);
        assert_eq!(logged.len(), count, "node{honest}: {logged:?}");
        assert!(
            logged
                .iter()
                .all(|r| r.contains(step) && r.contains(&format!("P{cheat}"))),
            "node{honest}: {logged:?}"
        );
    }
}

#[test]
fn an_altered_and_message_aborts_every_comparison_and_is_logged_by_the_honest_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cheat = 1;
    let (nodes, values) = cluster_with_cheat(dir, cheat, "and:0:3:1");
    let statistics: [&[&str]; 3] = [
        &["--stat", "histogram", "--edges", "100,150"],
        &["--stat", "median"],
        &["--stat", "mean", "--where", "value > 126"],
    ];
    each_aborts_naming(dir, cheat, &statistics);
    // Without a comparison the cheat has no AND to lie in: the mean is answered, and right.
    let answer = ask(dir, 0, &["--stat", "mean"]).expect("the mean is answered");
    // glucose is kept in tenths of mg/dL
    let tenths: i64 = values.iter().map(|v| (v * 10.0).round() as i64).sum();
    assert_eq!(
        answer["fixed_point"]["result"]["Mean"]["n"],
        values.len() as u64,
        "{answer}"
    );
    assert_eq!(
        answer["fixed_point"]["result"]["Mean"]["sum"], tenths,
        "{answer}"
    );
    honest_ledgers_log(nodes, dir, cheat, statistics.len(), "verification");
}

#[test]
fn an_altered_product_aborts_every_statistic_with_a_product() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cheat = 2;
    // 2^63 added to the first product share: the error a multiplier from Z_2^64 misses half
    // the time
    let (nodes, values) = cluster_with_cheat(dir, cheat, "product:0:0:9223372036854775808");
    let statistics: [&[&str]; 3] = [
        // a sum of squares (a dot product)
        &["--stat", "variance"],
        // the counts' bit injection
        &["--stat", "histogram", "--edges", "100,150"],
        // the kept values' bit injection and dot product
        &["--stat", "mean", "--where", "value > 126"],
    ];
    each_aborts_naming(dir, cheat, &statistics);
    // The mean multiplies nothing: answered, and right.
    let answer = ask(dir, 1, &["--stat", "mean"]).expect("the mean is answered");
    let tenths: i64 = values.iter().map(|v| (v * 10.0).round() as i64).sum();
    assert_eq!(
        answer["fixed_point"]["result"]["Mean"]["sum"], tenths,
        "{answer}"
    );
    honest_ledgers_log(nodes, dir, cheat, statistics.len(), "verification");
}

#[test]
fn a_lie_in_a_verdict_to_one_node_aborts_at_both_honest_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cheat = 1;
    // The cheat's first verdict of each query, to the next party only, is a signed finding
    // that P1 and P2 differed: the node it reached forwards it, so both honest nodes stop.
    let (nodes, _) = cluster_with_cheat(dir, cheat, "verdict:0:1:1");
    let statistics: [&[&str]; 3] = [
        &["--stat", "histogram", "--edges", "100,150"],
        &["--stat", "median"],
        &["--stat", "mean", "--where", "value > 126"],
    ];
    each_aborts_naming(dir, cheat, &statistics);
    // The plain mean checks nothing before it seals its output: no verdict to lie in.
    ask(dir, 2, &["--stat", "mean"]).expect("the mean is answered");
    honest_ledgers_log(nodes, dir, cheat, statistics.len(), "found that");
}

#[test]
fn a_shifted_noise_draw_aborts_a_private_query() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cheat = 0;
    init_private_cluster(dir, &[]);
    // A million tenths of mg/dL added to the cheat's copy of the count's draw: the answer
    // would move by far more than its noise.
    let (nodes, _) = started_with_cheat(dir, cheat, "noise:0:0:1000000");
    let private: &[&str] = &["--stat", "mean", "--epsilon", "1", "--clip", "50..200"];
    each_aborts_naming(dir, cheat, &[private, private, private]);
    honest_ledgers_log(nodes, dir, cheat, 3, "noise");
}

#[test]
fn shares_sealed_wrong_are_refused_by_the_researcher() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_nodes, _) = cluster_with_cheat(dir, 2, "seal:0:0:1");
    let (_, reason) = ask(dir, 0, &["--stat", "mean"]).expect_err("a wrong share must not open");
    assert!(
        reason.contains("answer refused") && reason.contains("disagree"),
        "{reason}"
    );
}
