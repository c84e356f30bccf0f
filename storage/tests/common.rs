//! Shared fixtures for the storage integration tests.
#![allow(dead_code)]

use hdg_schema::{Observation, ObservationData, Pseudonym, RecordId, Status, Timestamp, Value};
use hdg_storage::{Erasure, ErasureOrder, KeySource, SecretKey, Store};

/// A numeric observation of `indicator` for patient `p` at time `t`.
pub fn obs(p: u8, indicator: &str, value: i64, t: i64) -> Observation {
    Observation::new(ObservationData {
        patient: Pseudonym([p; 32]),
        indicator: indicator.into(),
        value: Value::Quantity(value),
        effective: Timestamp(t),
        source: "test device".into(),
        recorded: Timestamp(t),
        status: Status::Final,
        supersedes: None,
    })
}

/// A correction of `old` with a new value.
pub fn correction(old: &Observation, value: i64) -> Observation {
    let mut d = old.data().clone();
    d.value = Value::Quantity(value);
    d.status = Status::Amended;
    d.supersedes = Some(old.id());
    Observation::new(d)
}

/// The key that unlocks every test store's keyring (held by the test, as a key-management
/// service would hand it to a node).
pub fn keys() -> KeySource {
    KeySource::Key(SecretKey::from_bytes([0x42; 32]))
}

/// Who asks for an erasure in these tests (an actor key).
pub const ERASER: [u8; 32] = [0xE5; 32];

/// Erases patient `p` at time `at`, asked by [`ERASER`] with `text`, and runs the compaction it
/// owes.
pub fn erase(store: &mut Store, p: Pseudonym, text: &str, at: Timestamp) -> Erasure {
    let order = ErasureOrder {
        patient: p,
        actor: ERASER,
        text,
        owed: None,
    };
    let outcome = store.erase_patient(&order, at).unwrap();
    if let Some(c) = store.pending_compaction().unwrap() {
        c.run().unwrap();
    }
    outcome
}

/// A store in a fresh temporary folder.
pub fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true, &keys()).unwrap();
    (dir, store)
}

/// Three patients, two indicators, `n` observations each, spread over time.
pub fn cohort(n: i64) -> Vec<Observation> {
    let mut out = Vec::new();
    for p in 1..=3u8 {
        for i in 0..n {
            out.push(obs(p, "4548-4", 50 + i, 1_000_000 * i + i64::from(p)));
            out.push(obs(
                p,
                "8867-4",
                600 + i,
                1_000_000 * i + 500 + i64::from(p),
            ));
        }
    }
    out
}

/// The ids of `obs`.
pub fn ids(obs: &[Observation]) -> Vec<RecordId> {
    obs.iter().map(|o| o.id()).collect()
}

/// Now, in schema time.
pub fn t(ms: i64) -> Timestamp {
    Timestamp(ms)
}
