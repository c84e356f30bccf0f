//! Witnessing end to end: three `hdg node` processes cosign each other's ledger heads, and
//! `hdg verify --cluster` confirms every head is cosigned by the two others and consistent with
//! what they witnessed. Then node 0's store is rolled back to an earlier copy: its peers refuse
//! to cosign, keep both signed heads as evidence (each verifies under node 0's key, so the
//! evidence convinces anyone), and `hdg verify --cluster` names the fork. Every wait is bounded.

use std::path::Path;
use std::time::Duration;

use hdg_ledger::{Checkpoint, NoteVerifier};
use serde_json::Value;

mod common;
use common::*;

/// A Synthea bundle of the shared test data.
fn bundle(name: &str) -> Vec<u8> {
    let path = patient_0().replace("patient-0.json", name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn post(dir: &Path, i: usize, body: &[u8]) {
    let (status, receipt) = post_observations(dir, i, "", "application/fhir+json", body);
    assert_eq!(status, 200, "{receipt}");
}

fn get(dir: &Path, i: usize, path: &str) -> Value {
    let (status, body) = http(http_addr(dir, i), "GET", path, None);
    assert_eq!(status, 200, "GET {path} at node{i}: {body}");
    body
}

/// The size node `witness` last cosigned for node `log` (0 if none).
fn witnessed_size(dir: &Path, witness: usize, log: usize) -> u64 {
    get(dir, witness, "/v1/witness")["witnessed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["party"] == log)
        .map_or(0, |w| w["size"].as_u64().unwrap())
}

fn tree_size(dir: &Path, i: usize) -> u64 {
    get(dir, i, "/v1/head")["tree_size"].as_u64().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Waits until both peers of node 0 witnessed its current size and `verify --cluster` passes.
fn wait_witnessed_and_verified(nodes: &mut Nodes, dir: &Path) -> u64 {
    wait_outbox_empty(nodes, dir, 0);
    let size = tree_size(dir, 0);
    for witness in [1, 2] {
        wait_for(
            &format!("node{witness} witnesses node0 at size {size}"),
            || {
                let seen = witnessed_size(dir, witness, 0);
                if seen == size {
                    Ok(())
                } else {
                    Err(format!("witnessed {seen}"))
                }
            },
        );
    }
    wait_cluster_verified(dir);
    size
}

#[test]
fn peers_cosign_every_ledger_and_refuse_a_rolled_back_node_with_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_cluster_without_consent(dir);
    let mut nodes = Nodes::start_all(dir);
    for i in 0..3 {
        wait_healthy(&mut nodes, dir, i, 2);
    }

    // Ingest at node 0: its records and the three parties' share receipts grow all ledgers.
    post(dir, 0, &bundle("patient-0.json"));
    let first = wait_witnessed_and_verified(&mut nodes, dir);
    let (ok, out) = verify_cluster(dir);
    assert!(ok, "{out}");
    for name in ["node0", "node1", "node2"] {
        assert!(out.contains(&format!("ok: {name}: size")), "{out}");
    }
    let head = get(dir, 0, "/v1/head");
    assert!(
        head["cosigned_head"].as_str().unwrap().lines().count()
            >= head["signed_head"].as_str().unwrap().lines().count() + 2,
        "the cosigned head carries both peers' lines: {head}"
    );

    // Keep a copy of node 0's store at this point (stopped cleanly), then let it grow.
    nodes.terminate(0, Duration::from_secs(20));
    copy_dir(&dir.join("node0"), &dir.join("node0-copy"));
    nodes.start(dir, 0);
    wait_healthy(&mut nodes, dir, 0, 2);
    post(dir, 0, &bundle("patient-2.json"));
    let grown = wait_witnessed_and_verified(&mut nodes, dir);
    assert!(grown > first, "the second bundle grew node0's ledger");

    // Roll node 0 back to the copy: its head is now smaller than what both peers witnessed.
    nodes.terminate(0, Duration::from_secs(20));
    std::fs::rename(dir.join("node0"), dir.join("node0-grown")).unwrap();
    std::fs::rename(dir.join("node0-copy"), dir.join("node0")).unwrap();
    nodes.start(dir, 0);
    wait_healthy(&mut nodes, dir, 0, 2);
    let vkey = get(dir, 0, "/v1/head")["vkey"]
        .as_str()
        .unwrap()
        .to_string();
    let verifier = NoteVerifier::from_vkey(&vkey).unwrap();
    for witness in [1, 2] {
        let fork = wait_for(&format!("node{witness} reports node0's fork"), || {
            let report = get(dir, witness, "/v1/witness");
            report["forks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["party"] == 0)
                .cloned()
                .ok_or_else(|| report.to_string())
        });
        let reason = fork["reason"].as_str().unwrap();
        assert!(reason.contains("rolled back"), "{reason}");
        // Both heads are signed by node 0: the witnessed one at the grown size, the presented
        // one at the copy's smaller size.
        let (witnessed, _) = Checkpoint::open(fork["witnessed"].as_str().unwrap(), &verifier)
            .expect("the witnessed head verifies under node0's key");
        let (presented, _) = Checkpoint::open(fork["presented"].as_str().unwrap(), &verifier)
            .expect("the presented head verifies under node0's key");
        assert_eq!(witnessed.size, grown);
        assert!(presented.size < grown, "{presented:?}");
        // The witness did not move on to the rolled-back head.
        assert_eq!(witnessed_size(dir, witness, 0), grown);
    }
    let (ok, out) = verify_cluster(dir);
    assert!(!ok, "verify --cluster must fail on a forked node: {out}");
    assert!(
        out.contains("FAILED: node0") && out.contains("fork"),
        "{out}"
    );
    assert!(
        out.contains("ok: node1") && out.contains("ok: node2"),
        "{out}"
    );
    let log = std::fs::read_to_string(dir.join("node0.log")).unwrap();
    assert!(
        log.contains("reports a fork"),
        "node0 logs its peers' refusal:\n{log}"
    );

    // Growing the rolled-back ledger past the witnessed size does not fool the witnesses: the
    // new history does not extend the one they cosigned.
    post(dir, 0, &bundle("patient-1.json"));
    post(dir, 0, &bundle("patient-3.json"));
    wait_outbox_empty(&mut nodes, dir, 0);
    assert!(
        tree_size(dir, 0) > grown,
        "the rolled-back node grew past the witnessed size"
    );
    wait_for("node1 refuses the regrown history too", || {
        let forks = get(dir, 1, "/v1/witness")["forks"]
            .as_array()
            .unwrap()
            .clone();
        forks
            .iter()
            .find(|f| f["reason"].as_str().unwrap().contains("not an extension"))
            .cloned()
            .ok_or_else(|| format!("{forks:?}"))
    });
    assert_eq!(witnessed_size(dir, 1, 0), grown);
    for i in 0..3 {
        nodes.assert_running(i);
    }
}
