//! `hdg init --patients N`: N demo patients, registered and enrolled at every node as the
//! patients of `hdg synth --patients N`, so their records carry the pseudonyms of their own keys:
//! each patient's audit lists their records, at the hospital that took them in and nowhere
//! else, and another patient's key sees none of them.

mod common;

use std::path::Path;

use common::*;

/// How many `record` entries the patient of `key` finds at each node (`hdg audit --json`).
fn records_per_node(dir: &Path, key: &Path) -> Vec<usize> {
    audit_kinds(dir, 0, key)
        .iter()
        .map(|kinds| kinds.iter().filter(|k| *k == "record").count())
        .collect()
}

#[test]
fn init_patients_enrols_the_synth_cohort_so_each_patient_audits_their_own_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = hdg(&[
        "init",
        "--cluster",
        dir.to_str().unwrap(),
        "--nodes",
        "3",
        "--patients",
        "4",
    ]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("patient-1 to patient-4"), "{printed}");
    for i in 0..3 {
        let config = std::fs::read_to_string(dir.join(format!("node{i}.toml"))).unwrap();
        assert!(
            config.contains("enrolments = \"identities/enrolments.toml\""),
            "{config}"
        );
    }
    let _nodes = Nodes::start_healthy(dir);
    // Two files of two patients: patients 1 and 2 at node 0, patients 3 and 4 at node 1.
    let files = synth_cohort(dir, 4, 1, 2);
    assert_eq!(files.len(), 2);
    for (k, file) in files.iter().enumerate() {
        ingest_file(dir, k, file);
    }
    for patient in 1..=4 {
        let key = dir.join(format!("identities/patient-{patient}.key"));
        let found = records_per_node(dir, &key);
        let home = if patient <= 2 { 0 } else { 1 };
        for (node, n) in found.iter().enumerate() {
            if node == home {
                assert!(
                    *n > 0,
                    "patient-{patient}: no records at node{node}: {found:?}"
                );
            } else {
                assert_eq!(*n, 0, "patient-{patient}: records at node{node}: {found:?}");
            }
        }
    }
    // A count out of range is refused before anything is written.
    let other = tmp.path().join("other");
    let out = hdg(&[
        "init",
        "--cluster",
        other.to_str().unwrap(),
        "--patients",
        "0",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--patients 0: from 1 to 10000"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!other.exists(), "nothing written");
}
