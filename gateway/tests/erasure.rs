//! Erasure as a cluster operation: four Synthea patients enrolled at node 0 consent and their
//! values are shared. A patient asks a node that is not their hospital to erase them: every
//! party destroys their share rows and their home node shreds their records, each anchoring it;
//! a count query drops by exactly their rows; their audit lists the erasure at the three nodes.
//! A second patient is erased while a party is down: the party gets it when it is back. The
//! third is erased by two administrators. Unsigned, replayed, non-patient, unknown-patient and
//! one-admin requests are refused with their reasons. Afterwards no party's store holds any of
//! the erased patients' rows, handles or pseudonyms in its share data, and every ledger verifies.

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use hdg_schema::{Pseudonym, RecordHandle};
use hdg_storage::{TimeRange, layout};
use serde_json::{Value, json};

mod common;
use common::*;

const HEART_RATE: &str = "8867-4";

/// `hdg erase --json` with `args` at node `i`: success and output.
fn erase_at(dir: &Path, i: usize, args: &[&str]) -> (bool, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    hdg_at(dir, i, "erase", &all)
}

/// The JSON `hdg erase --json` printed: (HTTP status, the node's answer).
fn answer(out: &str) -> (u64, Value) {
    let v: Value = serde_json::from_str(out.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no JSON ({e}): {out}"));
    (v["status"].as_u64().unwrap(), v["answer"].clone())
}

/// `hdg erase --json` with `args` at node `i`, which must be refused with `status` and a reason
/// containing `reason`.
fn refused(dir: &Path, i: usize, args: &[&str], status: u64, reason: &str) {
    let (ok, out) = erase_at(dir, i, args);
    let (got, e) = answer(&out);
    assert!(!ok && got == status, "{out}");
    assert!(e["error"].as_str().unwrap().contains(reason), "{e}");
}

/// Posts `body` to `/v1/erasure` at node `i`: status and answer.
fn post_erasure(dir: &Path, i: usize, body: &Value) -> (u16, Value) {
    http(
        http_addr(dir, i),
        "POST",
        "/v1/erasure",
        Some(("application/json", body.to_string().as_bytes())),
    )
}

fn seed(path: &Path) -> SigningKey {
    let mut s = [0u8; 32];
    hex::decode_to_slice(std::fs::read_to_string(path).unwrap().trim(), &mut s).unwrap();
    SigningKey::from_bytes(&s)
}

fn pseudonym(key: &Path) -> Pseudonym {
    Pseudonym::from_public_key(&seed(key).verifying_key().to_bytes())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn erasure_reaches_every_party_and_leaves_nothing_of_the_patient_in_share_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (bundles, keys) = consented_cluster(
        dir,
        &[
            "patient-0.json",
            "patient-2.json",
            "patient-3.json",
            "patient-1.json",
        ],
    );
    let [a_key, b_key, c_key, d_key] = &keys[..] else {
        unreachable!("four bundles, four keys")
    };
    let abcd = [a_key, b_key, c_key, d_key].map(|k| k.as_path());
    let used = || patients_used(dir, HEART_RATE, &abcd);
    let mut nodes = Nodes::start_healthy(dir);
    let record_ids = ingest_at_node0(dir, &bundles);
    for key in &keys {
        let (ok, out) = consent_at(dir, 1, key, &["grant", "--purpose", "research"]);
        assert!(ok, "{out}");
    }
    wait_outbox_empty(&mut nodes, dir, 0);
    let counts = [0, 1, 2, 3].map(|i| numeric_count(&bundles[i], HEART_RATE));
    assert!(counts.iter().all(|c| *c > 0));
    assert_eq!(used(), Ok(vec![true; 4]));

    // Refused, each with its reason, and nothing erased.
    let unsigned = json!({ "by": "patient", "signed": {
        "body": r#"{"action":"erase"}"#,
        "signer": hex::encode(seed(b_key).verifying_key().to_bytes()),
        "nonce": "00".repeat(16), "time": 0, "signature": "" } });
    let (status, e) = post_erasure(dir, 1, &unsigned);
    assert_eq!(status, 401, "{e}");
    assert!(e["error"].as_str().unwrap().contains("unsigned"), "{e}");
    let institute = researcher(dir);
    let as_researcher = ["--key", institute.to_str().unwrap()];
    refused(dir, 1, &as_researcher, 403, "not a registered patient");
    // A registered patient of whom no node holds anything.
    let nobody = dir.join("identities/patient-1.key");
    refused(
        dir,
        0,
        &["--key", nobody.to_str().unwrap()],
        404,
        "unknown patient",
    );
    let admin = |i: usize| dir.join(format!("identities/admin-{i}.key"));
    let a_pseudonym = pseudonym(a_key).to_string();
    let (admin_0, admin_1) = (admin(0), admin(1));
    let one_admin = [
        "--approve",
        admin_0.to_str().unwrap(),
        "--patient",
        &a_pseudonym,
    ];
    refused(dir, 2, &one_admin, 403, "1 registered administrator");
    assert_eq!(used(), Ok(vec![true; 4]));

    // B asks node 1 (not their hospital): erased at the three nodes.
    let saved = dir.join("erase-b.json");
    let (ok, out) = erase_at(
        dir,
        1,
        &[
            "--key",
            b_key.to_str().unwrap(),
            "--save-request",
            saved.to_str().unwrap(),
        ],
    );
    let (status, done) = answer(&out);
    assert!(ok && status == 200, "{out}");
    for (i, n) in done["nodes"].as_array().unwrap().iter().enumerate() {
        assert_eq!(n["outcome"], "erased", "node{i}: {done}");
        assert!(n["ledger_index"].is_u64(), "{done}");
    }
    // The same request again is refused as replayed.
    let b_request: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    let (status, e) = post_erasure(dir, 1, &b_request);
    assert_eq!(status, 403, "{e}");
    assert!(e["error"].as_str().unwrap().contains("replayed"), "{e}");
    assert_eq!(used(), Ok(vec![true, false, true, true]));
    for (i, kinds) in audit_kinds(dir, 2, b_key).iter().enumerate() {
        assert_eq!(
            kinds.iter().filter(|k| *k == "erasure").count(),
            1,
            "node{i}: {kinds:?}"
        );
    }

    // C is erased while node 2 is down: queued for it, delivered when it is back.
    nodes.terminate(2, Duration::from_secs(20));
    let (ok, out) = erase_at(dir, 0, &["--key", c_key.to_str().unwrap()]);
    let (status, queued) = answer(&out);
    assert!(ok && status == 202, "{out}");
    assert_eq!(queued["nodes"][2]["outcome"], "queued", "{queued}");
    assert_eq!(queued["pending"].as_array().unwrap().len(), 1, "{queued}");
    nodes.start(dir, 2);
    for i in 0..3 {
        wait_healthy(&mut nodes, dir, i, 2);
    }
    wait_for(
        "node2 takes the queued erasure and C's rows are gone",
        || match used() {
            Ok(u) if u == [true, false, false, true] => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );

    // A is erased by two administrators, by pseudonym.
    let (ok, out) = erase_at(
        dir,
        2,
        &[
            "--approve",
            admin_0.to_str().unwrap(),
            "--approve",
            admin_1.to_str().unwrap(),
            "--patient",
            &a_pseudonym,
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(
        used(),
        Ok(vec![false, false, false, true]),
        "only D is left"
    );
    wait_cluster_verified(dir);
    for i in 0..3 {
        nodes.terminate(i, Duration::from_secs(20));
    }

    // Through RocksDB: no party holds a row, handle or pseudonym of the erased patients in its
    // share data, and every ledger verifies.
    let home = open_store(dir, 0);
    let handles: Vec<RecordHandle> = record_ids
        .iter()
        .flatten()
        .map(|id| home.handle(id))
        .collect();
    drop(home);
    let erased: Vec<Pseudonym> = keys[..3].iter().map(|k| pseudonym(k)).collect();
    let erased_handles = &handles[..record_ids[..3].iter().map(Vec::len).sum::<usize>()];
    for i in 0..3 {
        let store = open_store(dir, i);
        store.verify(&store.verifier()).unwrap();
        for code in [HEART_RATE, "39156-5", "8480-6"] {
            let rows = store.scan_shares(code, TimeRange::default()).unwrap();
            assert!(
                rows.iter().all(|r| !erased.contains(&r.patient)),
                "node{i} still holds {code} rows of an erased patient"
            );
        }
        drop(store);
        let db = rocksdb::DB::open_cf_for_read_only(
            &rocksdb::Options::default(),
            dir.join(format!("node{i}/db")),
            layout::ALL,
            false,
        )
        .unwrap();
        for family in [
            layout::SHARES,
            layout::SHARE_IDS,
            layout::SHARE_PATIENTS,
            layout::SHARE_RECEIPTS,
            layout::SHARES_ERASED,
        ] {
            let cf = db.cf_handle(family).unwrap();
            for kv in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
                let (k, v) = kv.unwrap();
                for h in erased_handles {
                    assert!(
                        !contains(&k, &h.0) && !contains(&v, &h.0),
                        "node{i} {family}"
                    );
                }
                for p in &erased {
                    assert!(
                        !contains(&k, &p.0) && !contains(&v, &p.0),
                        "node{i} {family}"
                    );
                }
            }
        }
    }
}
