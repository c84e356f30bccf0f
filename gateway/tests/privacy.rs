//! The curious peer: node 1 plays a computing party that tries to learn the values node 0 (their
//! patients' hospital) shares with it. Three Synthea patients enrolled at node 0 consent to
//! research on their vital signs, their values are shared, the researcher asks node 0 and node 1
//! for statistics, a patient audits their data through node 1. Node 1 runs with a wire tap, so
//! afterwards the test holds everything it has: its RocksDB (read through RocksDB's API and
//! opened with its own keys), its log and every message it received from its peers.
//!
//! With all of that — and more: the true effective instant, source, status and recorded time of
//! every one of node 0's observations — the test brute-forces every share row over the whole
//! catalog range of its indicator, looking for any record id (in bytes or hex) anywhere in what
//! node 1 holds. No value is recovered, and no record id of node 0 appears anywhere. The same
//! attack recovers a value at once from a message that carries a record id (as share rows once
//! did), so it would have found one.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use hdg_schema::{Catalog, Observation, ObservationData, Pseudonym, RecordId, Timestamp, Value};
use hdg_storage::{ShareRow, TimeRange, layout};

mod common;
use common::*;

/// The indicators the patients consent to share (vital signs and two lab values, all with
/// catalog ranges small enough to brute-force each row in a test).
const SHARED: [&str; 9] = [
    "8867-4", "39156-5", "8480-6", "8462-4", "8302-2", "29463-7", "9279-1", "4548-4", "2339-0",
];

/// Every 32-byte string a party holds: every window of every byte string, and every 64-digit
/// window of hex text decoded (either case).
#[derive(Default)]
struct Holdings {
    windows: HashSet<[u8; 32]>,
    bytes: usize,
}

impl Holdings {
    fn add(&mut self, b: &[u8]) {
        self.bytes += b.len();
        for w in b.windows(32) {
            self.windows.insert(w.try_into().unwrap());
        }
        let mut run = 0;
        for (i, c) in b.iter().enumerate() {
            run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
            if run >= 64 {
                let text = std::str::from_utf8(&b[i + 1 - 64..=i])
                    .unwrap()
                    .to_lowercase();
                let mut out = [0u8; 32];
                hex::decode_to_slice(text, &mut out).unwrap();
                self.windows.insert(out);
            }
        }
    }

    fn holds(&self, id: &RecordId) -> bool {
        self.windows.contains(&id.0)
    }
}

/// The brute force: every value of the indicator's catalog range in `obs` (all its other fields
/// known), hashed into a record id and looked up in what the peer holds. The value found, if any.
fn recover(obs: &Observation, held: &Holdings) -> Option<i64> {
    let ind = Catalog::builtin().get(&obs.indicator).unwrap();
    let mut guess: ObservationData = obs.data().clone();
    (ind.min_fixed..=ind.max_fixed).find(|v| {
        guess.value = Value::Quantity(*v);
        held.holds(&Observation::new(guess.clone()).id())
    })
}

/// Everything in every column family of the store in `db`, read through RocksDB.
fn dump_db(db: &Path, held: &mut Holdings) {
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), db).unwrap();
    let rdb = rocksdb::DB::open_cf_for_read_only(&rocksdb::Options::default(), db, &names, false)
        .unwrap();
    for name in &names {
        let cf = rdb.cf_handle(name).unwrap();
        for kv in rdb.iterator_cf(cf, rocksdb::IteratorMode::Start) {
            let (k, v) = kv.unwrap();
            held.add(&k);
            held.add(&v);
        }
    }
}

#[test]
fn a_curious_peer_recovers_no_value_and_sees_no_record_id() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (bundles, keys) =
        consented_cluster(dir, &["patient-0.json", "patient-2.json", "patient-3.json"]);
    let config = dir.join("node1.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("wire_tap = \"tap1.bin\"\n{text}")).unwrap();
    let mut nodes = Nodes::start_healthy(dir);
    let ids: Vec<RecordId> = ingest_at_node0(dir, &bundles).concat();
    for key in &keys {
        let mut grant = vec!["grant", "--purpose", "research"];
        for code in SHARED {
            grant.extend(["--indicator", code]);
        }
        let (ok, out) = consent_at(dir, 1, key, &grant);
        assert!(ok, "{out}");
    }
    wait_outbox_empty(&mut nodes, dir, 0);
    // Queries coordinated by node 1 (it relays the others' answers) and by node 0 (node 1 gets
    // the query forwarded); a patient's audit through node 1 (it relays node 0's report).
    count_query(dir, "8867-4").unwrap();
    for (node, stat) in [(0, "mean"), (1, "median"), (0, "variance")] {
        let args = ["--stat", stat, "--indicator", "8480-6"];
        let (ok, out) = hdg_query(dir, node, &researcher(dir), &args);
        assert!(ok, "{out}");
    }
    let (ok, out) = hdg_at(dir, 1, "audit", &["--key", keys[0].to_str().unwrap()]);
    assert!(ok, "{out}");
    for i in 0..3 {
        nodes.terminate(i, Duration::from_secs(20));
    }

    // Everything node 1 holds: its database, its log, every message it received.
    let mut held = Holdings::default();
    dump_db(&dir.join("node1/db"), &mut held);
    held.add(&std::fs::read(dir.join("node1.log")).unwrap());
    let tap = std::fs::read(dir.join("tap1.bin")).unwrap();
    assert!(tap.len() > 10_000, "the tap recorded the peers' messages");
    held.add(&tap);

    // No record id of node 0's, in bytes or hex, anywhere.
    assert!(ids.len() > 100);
    for id in &ids {
        assert!(!held.holds(id), "node 1 holds node 0's record id {id}");
    }

    // The rows node 1 stores, opened with its own keys: days only, never instants.
    let peer = open_store(dir, 1);
    let rows: Vec<ShareRow> = SHARED
        .iter()
        .flat_map(|c| peer.scan_shares(c, TimeRange::default()).unwrap())
        .collect();
    drop(peer);
    assert!(rows.len() > 100, "{} rows shared", rows.len());
    assert!(rows.iter().all(|r| r.day.is_utc_day() && r.party == 1));

    // The brute force, given node 0's true metadata of every observation of the row's patient,
    // indicator and day.
    let home = open_store(dir, 0);
    let mut truth: BTreeMap<(Pseudonym, String, Timestamp), Vec<Observation>> = BTreeMap::new();
    let patients: HashSet<Pseudonym> = rows.iter().map(|r| r.patient).collect();
    for p in &patients {
        for h in home.scan_patient(p, None).unwrap() {
            let o = home.get_handle(&h).unwrap();
            truth
                .entry((o.patient, o.indicator.clone(), o.effective.utc_day()))
                .or_default()
                .push(o);
        }
    }
    drop(home);
    // The attack works: one id in a message, the value comes back.
    let (_, sample) = truth.iter().next().unwrap();
    let leaked = format!("{{\"record\":\"{}\"}}", sample[0].id());
    let mut old_row = Holdings::default();
    old_row.add(leaked.as_bytes());
    let Value::Quantity(v) = sample[0].value else {
        unreachable!("shared values are numeric")
    };
    assert_eq!(recover(&sample[0], &old_row), Some(v));

    let mut tried = 0;
    for row in &rows {
        let candidates = &truth[&(row.patient, row.indicator.clone(), row.day)];
        for obs in candidates {
            assert_eq!(
                recover(obs, &held),
                None,
                "node 1 recovered a value of {}",
                row.indicator
            );
            tried += 1;
        }
    }
    assert!(tried >= rows.len());
    eprintln!(
        "curious peer: {} rows, {tried} brute-forced over their catalog ranges, against {} bytes ({} distinct 32-byte strings); nothing recovered",
        rows.len(),
        held.bytes,
        held.windows.len()
    );

    // Node 1's share keys hold days, and its database no instant of node 0's observations as
    // a share key's time.
    let db = rocksdb::DB::open_cf_for_read_only(
        &rocksdb::Options::default(),
        dir.join("node1/db"),
        layout::ALL,
        false,
    )
    .unwrap();
    for kv in db.iterator_cf(
        db.cf_handle(layout::SHARES).unwrap(),
        rocksdb::IteratorMode::Start,
    ) {
        let (k, _) = kv.unwrap();
        let (_, day, _) = layout::decode_index_tail(&k).unwrap();
        assert!(day.is_utc_day());
    }
}
