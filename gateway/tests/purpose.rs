//! The purpose of a query and the time its consents are judged at are not the researcher's to
//! choose. Two Synthea patients grant their heart rates for treatment only, and later for
//! research with an expiry:
//! - a researcher who claims "treatment" is refused (403): the registry lists the purposes each
//!   researcher may query for (the demo institute: research and statistics);
//! - once the research grants lapsed, a query signed with a time from before the expiry (inside
//!   the clock-skew window, so the signature is fresh) no longer uses them: each node judges
//!   consents at its own clock.

use std::path::Path;
use std::time::Duration;

use hdg_schema::Timestamp;

mod common;
use common::*;

const HEART_RATE: &str = "8867-4";

#[test]
fn the_registry_decides_a_researchers_purposes_and_a_backdated_query_uses_no_lapsed_grant() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (bundles, keys) = consented_cluster(dir, &["patient-0.json", "patient-2.json"]);
    let mut nodes = Nodes::start_healthy(dir);
    ingest_at_node0(dir, &bundles);
    let rows: u64 = bundles.iter().map(|b| numeric_count(b, HEART_RATE)).sum();
    assert!(rows > 0);

    // Granted for treatment only: shared (a grant covers them), never for research.
    for key in &keys {
        let (ok, out) = consent_at(
            dir,
            2,
            key,
            &["grant", "--purpose", "treatment", "--indicator", HEART_RATE],
        );
        assert!(ok, "{out}");
    }
    wait_outbox_empty(&mut nodes, dir, 0);
    let (ok, out) = hdg_query(
        dir,
        1,
        &researcher(dir),
        &[
            "--stat",
            "count",
            "--indicator",
            HEART_RATE,
            "--purpose",
            "treatment",
            "--json",
        ],
    );
    assert!(
        !ok,
        "a researcher's self-declared treatment purpose was accepted: {out}"
    );
    assert!(out.contains("\"status\":403"), "{out}");
    assert!(out.contains("not registered for the purpose"), "{out}");
    let patients: Vec<&Path> = keys.iter().map(|k| k.as_path()).collect();
    assert_eq!(
        patients_used(dir, HEART_RATE, &patients),
        Ok(vec![false, false]),
        "no research grant, yet"
    );

    // Research grants that lapse in a few seconds: counted while they hold.
    let expires = now_ms() + 8_000;
    for key in &keys {
        let (ok, out) = consent_at(
            dir,
            2,
            key,
            &[
                "grant",
                "--purpose",
                "research",
                "--indicator",
                HEART_RATE,
                "--expires",
                &Timestamp(expires).to_string(),
            ],
        );
        assert!(ok, "{out}");
    }
    assert_eq!(
        patients_used(dir, HEART_RATE, &patients),
        Ok(vec![true, true])
    );
    while now_ms() <= expires + 500 {
        std::thread::sleep(Duration::from_millis(200));
    }

    // Signed "before the expiry", posted after it: the nodes judge at their own clock.
    let body = serde_json::json!({
        "statistic": { "kind": "count" },
        "indicator": HEART_RATE,
        "researcher_x25519": hex::encode([7u8; 32]),
        "purpose": "research",
        "epsilon": 1.0,
    })
    .to_string();
    let backdated = signed_query(&researcher(dir), &body, expires - 2_000);
    let bytes = serde_json::to_vec(&backdated).unwrap();
    let (status, answer) = http(
        http_addr(dir, 1),
        "POST",
        "/v1/query",
        Some(("application/json", &bytes)),
    );
    assert_eq!(status, 200, "{answer}");
    let leaf = answer["answers"][1]["ledger_index"].as_u64().unwrap();
    assert_eq!(
        query_used(dir, leaf, &patients),
        vec![false, false],
        "a backdated query used lapsed grants"
    );
}
