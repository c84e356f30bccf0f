//! A consortium on loopback (issue 19): `hdg init --hospitals N` writes N hospitals of which
//! nodes 0-2 are the computing parties. Five hospitals ingest their own files; every value is
//! shared into the three parties and a query, coordinated by a hospital that does not compute,
//! equals the plaintext over all five hospitals' files. A hospital that does not compute holds
//! no share; with one hospital, the two parties that keep no records refuse ingest and hold no
//! record. Every wait is bounded; a guard kills the nodes on failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdg_storage::TimeRange;
use serde_json::Value;

mod common;
use common::*;

/// `hdg init --hospitals N` without the consent rule and with exact answers (synthetic patients
/// nobody enrolled), with the default body limit (a cohort file of 20 patients is over the
/// common harness's).
fn init(dir: &Path, hospitals: usize) {
    let n = hospitals.to_string();
    let (ok, text) = hdg_text(&[
        "init",
        "--cluster",
        dir.to_str().unwrap(),
        "--hospitals",
        &n,
        "--without-consent",
        "--privacy",
        "exact",
    ]);
    assert!(ok, "{text}");
}

/// Runs `hdg query --json` through node `i` as the demo research institute.
fn query(dir: &Path, i: usize, extra: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let key = dir.join("identities/research-institute.key");
    let (ok, text) = hdg_query(dir, i, &key, &args);
    assert!(ok, "query through node{i} failed: {text}");
    serde_json::from_str(text.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("query printed no JSON ({e}): {text}"))
}

/// Every fixed-point value of `indicator` in the files, each read with its home node's
/// pseudonym key.
fn plaintext(files: &[(PathBuf, [u8; 32])], indicator: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for (path, key) in files {
        each_quantity(path, *key, |o, v| {
            if o.indicator == indicator {
                out.push(v);
            }
        });
    }
    out
}

/// Every numeric indicator the stores' records or shares are checked for.
const INDICATORS: [&str; 4] = ["2339-0", "8867-4", "39156-5", "4548-4"];

#[test]
fn five_hospitals_share_into_three_parties_and_a_query_covers_all_of_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(dir, 5);
    assert!(!dir.join("node5.toml").exists());
    let files = synth_cohort(dir, 100, 19, 20);
    assert_eq!(files.len(), 5);
    let keyed: Vec<(PathBuf, [u8; 32])> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.clone(), open_store(dir, i).pseudonym_key()))
        .collect();
    let mut nodes = Nodes::start_all_of(dir, 5);
    for i in 0..5 {
        let health = wait_healthy(&mut nodes, dir, i, 4);
        assert_eq!(health["node"], i as u64, "{health}");
        assert_eq!(health["hospital"], true, "{health}");
        let party = if i < 3 { Value::from(i) } else { Value::Null };
        assert_eq!(health["party"], party, "{health}");
    }
    // File i to hospital i; each shares its values into the three parties.
    for (i, file) in files.iter().enumerate() {
        ingest_file(dir, i, file);
    }
    for i in 0..5 {
        wait_outbox_empty(&mut nodes, dir, i);
    }

    // Coordinated by node4, which does not compute: the union of the five hospitals' values.
    let glucose = plaintext(&keyed, "2339-0");
    let got = query(dir, 4, &["--stat", "mean", "--indicator", "2339-0"]);
    let mean = &got["fixed_point"]["result"]["Mean"];
    assert_eq!(mean["n"], glucose.len() as u64, "{got}");
    assert_eq!(mean["sum"], glucose.iter().sum::<i64>(), "{got}");
    // And by a party: the median of heart rate over all five.
    let mut heart = plaintext(&keyed, "8867-4");
    heart.sort_unstable();
    let got = query(dir, 1, &["--stat", "median", "--indicator", "8867-4"]);
    assert_eq!(
        got["fixed_point"]["result"]["OrderStatistic"]["value"],
        heart[(heart.len() - 1) / 2],
        "{got}"
    );
    // A hospital that does not compute keeps no budget: 421, naming the parties.
    let (status, body) = http(
        http_addr(dir, 3),
        "POST",
        "/v1/budget",
        Some(("application/json", b"{}")),
    );
    assert_eq!(status, 421, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("node0 (P0), node1 (P1), node2 (P2)")),
        "{body}"
    );
    wait_cluster_verified(dir);
    for i in (0..5).rev() {
        nodes.terminate(i, WAIT);
    }

    // The parties hold every hospital's values as shares, the other two hospitals none.
    let stores: Vec<hdg_storage::Store> = (0..5).map(|i| open_store(dir, i)).collect();
    for indicator in INDICATORS {
        let records: usize = stores
            .iter()
            .map(|s| {
                s.scan_indicator(indicator, TimeRange::default())
                    .unwrap()
                    .len()
            })
            .sum();
        let shares: Vec<usize> = stores
            .iter()
            .map(|s| {
                s.scan_shares(indicator, TimeRange::default())
                    .unwrap()
                    .len()
            })
            .collect();
        assert!(records > 0, "the cohort has {indicator}");
        assert_eq!(shares, [records, records, records, 0, 0], "{indicator}");
    }
    for (i, store) in stores.iter().enumerate() {
        store
            .verify(&store.verifier())
            .unwrap_or_else(|e| panic!("node{i}'s store does not verify: {e}"));
        assert_eq!(store.has_share_receipts().unwrap(), i < 3, "node{i}");
    }
}

#[test]
fn with_one_hospital_the_other_two_parties_keep_no_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(dir, 1);
    let files = synth_cohort(dir, 30, 23, 30);
    let key = open_store(dir, 0).pseudonym_key();
    let mut nodes = Nodes::start_all_of(dir, 3);
    for i in 0..3 {
        let health = wait_healthy(&mut nodes, dir, i, 2);
        assert_eq!(health["hospital"], i == 0, "{health}");
    }
    // A party that keeps no records refuses ingest before reading it, naming the hospital.
    // One entry: the refusal comes before the body is read, so a large one would still be
    // being written when the node answers and closes.
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let body = text.lines().next().unwrap().as_bytes().to_vec();
    let media = "application/fhir+ndjson";
    let headers = ingest_signature(&dir.join("identities/source-node0.key"), media, &body);
    let (status, answer) = http_with(
        http_addr(dir, 1),
        "POST",
        "/v1/observations",
        &headers,
        Some((media, &body)),
    );
    assert_eq!(status, 421, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("node1 holds no records") && e.contains("node0 (P0)")),
        "{answer}"
    );
    ingest_file(dir, 0, &files[0]);
    wait_outbox_empty(&mut nodes, dir, 0);
    let heart = plaintext(&[(files[0].clone(), key)], "8867-4");
    let got = query(dir, 2, &["--stat", "mean", "--indicator", "8867-4"]);
    assert_eq!(
        got["fixed_point"]["result"]["Mean"]["sum"],
        heart.iter().sum::<i64>(),
        "{got}"
    );
    for i in (0..3).rev() {
        nodes.terminate(i, WAIT);
    }
    let mut records = BTreeMap::new();
    for i in 0..3 {
        let store = open_store(dir, i);
        let held: usize = INDICATORS
            .iter()
            .map(|ind| {
                store
                    .scan_indicator(ind, TimeRange::default())
                    .unwrap()
                    .len()
            })
            .sum();
        let shares = store
            .scan_shares("8867-4", TimeRange::default())
            .unwrap()
            .len();
        assert_eq!(
            shares,
            heart.len(),
            "node{i} holds every heart rate as a share"
        );
        records.insert(i, held);
    }
    assert!(records[&0] > 0);
    assert_eq!((records[&1], records[&2]), (0, 0), "{records:?}");
}
