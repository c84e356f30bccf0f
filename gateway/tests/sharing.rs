//! Ingest into shares end to end: three `hdg node` processes, a Synthea bundle posted to
//! node 0, its numeric observations secret-shared to the three parties over QUIC. After a
//! SIGTERM the test opens the three stores and checks every party holds one pair per record,
//! the pairs reconstruct node 0's plaintext values and the redundant copies agree; and that a
//! party that is down delays the sharing (the outbox stays non-empty) without losing or
//! duplicating anything. Every wait is bounded; a guard kills the nodes on failure.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hdg_schema::{RecordHandle, Value as ObsValue};
use hdg_storage::{ShareRow, Store, TimeRange};

mod common;
use common::*;

/// Posts patient-0's bundle to node 0; the number of records it stored.
fn post_patient_0(dir: &Path) -> usize {
    let bundle = std::fs::read(patient_0()).unwrap();
    let (status, receipt) = post_observations(dir, 0, "", "application/fhir+json", &bundle);
    assert_eq!(status, 200, "{receipt}");
    receipt["records"].as_array().unwrap().len()
}

/// Indicators of patient-0 checked (heart rate, BMI, systolic pressure, HbA1c if present).
const INDICATORS: [&str; 4] = ["8867-4", "39156-5", "8480-6", "4548-4"];

/// With the nodes stopped: every store verifies; for each checked indicator every party holds
/// exactly one row per numeric record of node 0, for its own party index, the three pairs
/// reconstruct node 0's fixed-point value and the redundant copies agree. Returns the rows
/// checked.
fn check_shares(dir: &Path) -> usize {
    let stores: Vec<Store> = (0..3).map(|i| open_store(dir, i)).collect();
    for (i, store) in stores.iter().enumerate() {
        store
            .verify(&store.verifier())
            .unwrap_or_else(|e| panic!("node{i}'s store does not verify: {e}"));
        // Parties 1 and 2 hold no records: their ledgers hold the receipts of their shares.
        assert!(store.tree_size() > 0, "node{i} anchored no share receipt");
    }
    let mut checked = 0;
    for indicator in INDICATORS {
        let ids = stores[0]
            .scan_indicator(indicator, TimeRange::default())
            .unwrap();
        // The parties name records by handle and hold their days; node 0 knows both.
        let mut plain: BTreeMap<RecordHandle, u64> = BTreeMap::new();
        let mut days = BTreeMap::new();
        for id in &ids {
            let obs = stores[0].get_handle(id).unwrap();
            days.insert(*id, obs.effective.utc_day());
            match obs.value {
                ObsValue::Quantity(v) => {
                    plain.insert(*id, v as u64);
                }
                _ => panic!("{indicator} is numeric"),
            }
        }
        if indicator == "8867-4" {
            assert!(!plain.is_empty(), "patient-0 has heart rates");
        }
        let parties: Vec<Vec<ShareRow>> = stores
            .iter()
            .map(|s| s.scan_shares(indicator, TimeRange::default()).unwrap())
            .collect();
        let want: Vec<RecordHandle> = plain.keys().copied().collect();
        for (i, rows) in parties.iter().enumerate() {
            let got: Vec<RecordHandle> = rows.iter().map(|r| r.handle).collect();
            assert_eq!(got, want, "party {i}'s {indicator} records (once each)");
            assert!(rows.iter().all(|r| usize::from(r.party) == i));
            assert!(
                rows.iter().all(|r| r.day == days[&r.handle]),
                "days, not instants"
            );
        }
        for (k, (id, x)) in plain.iter().enumerate() {
            let pairs: Vec<(u64, u64)> = parties.iter().map(|rows| rows[k].pair).collect();
            for i in 0..3 {
                let sum = pairs[i]
                    .0
                    .wrapping_add(pairs[(i + 1) % 3].0)
                    .wrapping_add(pairs[(i + 2) % 3].0);
                assert_eq!(sum, *x, "record {id}: shares do not reconstruct");
                assert_eq!(
                    pairs[i].1,
                    pairs[(i + 1) % 3].0,
                    "record {id}: party {i}'s second share differs from party {}'s first",
                    (i + 1) % 3
                );
            }
            assert!(
                pairs.iter().any(|p| p.0 != *x),
                "record {id}: a share equals the value"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn ingested_values_are_shared_to_the_three_parties() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster_without_consent(&dir);
    let mut nodes = Nodes::none();
    for i in 0..3 {
        nodes.start(&dir, i);
    }
    for i in 0..3 {
        let health = wait_healthy(&mut nodes, &dir, i, 2);
        assert_eq!(health["outbox"], 0);
    }
    let stored = post_patient_0(&dir);
    assert!(stored > 0);
    wait_outbox_empty(&mut nodes, &dir, 0);
    // A second post stores nothing new and queues nothing.
    assert_eq!(post_patient_0(&dir), 0);
    assert_eq!(outbox(&dir, 0), 0);
    for i in 0..3 {
        let status = nodes.terminate(i, Duration::from_secs(10));
        assert!(status.success(), "node{i} exited with {status}");
    }
    let checked = check_shares(&dir);
    assert!(checked >= 36, "only {checked} shared values checked");
}

#[test]
fn a_party_that_is_down_gets_its_shares_when_it_is_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster_without_consent(&dir);
    let mut nodes = Nodes::none();
    nodes.start(&dir, 0);
    nodes.start(&dir, 1);
    wait_healthy(&mut nodes, &dir, 0, 1);
    wait_healthy(&mut nodes, &dir, 1, 1);
    let stored = post_patient_0(&dir);
    assert!(stored > 0);
    // Party 2 is down: nothing can be fully shared, so the outbox keeps every value.
    let queued = outbox(&dir, 0);
    assert!(queued > 0);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(outbox(&dir, 0), queued, "sharing completed without party 2");
    nodes.assert_running(0);
    nodes.start(&dir, 2);
    wait_healthy(&mut nodes, &dir, 2, 2);
    wait_outbox_empty(&mut nodes, &dir, 0);
    for i in 0..3 {
        let status = nodes.terminate(i, Duration::from_secs(10));
        assert!(status.success(), "node{i} exited with {status}");
    }
    let checked = check_shares(&dir);
    assert!(checked >= 36, "only {checked} shared values checked");
}
