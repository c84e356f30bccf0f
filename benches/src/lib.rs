//! Criterion benchmarks across the crates; run with `cargo bench -p hdg-benches`.
//!
//! Each bench group puts the measured path beside a baseline measured in the same run (raw
//! RocksDB writes of the same bytes, a plain memory copy, plaintext arithmetic), because this
//! machine is shared and noisy: compare the ratios, not the absolute times.
#![forbid(unsafe_code)]

use hdg_schema::{Observation, ObservationData, Pseudonym, Status, Timestamp, Value};

/// `n` numeric observations spread over 1,000 patients and two indicators, deterministic;
/// different salts give different ids (so repeated runs never collide as duplicates).
pub fn observations(n: usize, salt: u64) -> Vec<Observation> {
    (0..n as u64)
        .map(|i| {
            let t = Timestamp(1_600_000_000_000 + (i as i64) * 60_000);
            Observation::new(ObservationData {
                patient: Pseudonym(*blake3::hash(&(i % 1000).to_le_bytes()).as_bytes()),
                indicator: if i % 2 == 0 { "4548-4" } else { "8867-4" }.into(),
                value: Value::Quantity(50 + (i % 70) as i64),
                effective: t,
                source: format!("bench {salt}"),
                recorded: t,
                status: Status::Final,
                supersedes: None,
            })
        })
        .collect()
}
