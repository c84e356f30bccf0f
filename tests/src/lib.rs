//! Helpers for the end-to-end tests: finding the `hdg` binary and the shared test data.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `hdg` binary of this build (`target/<profile>/hdg`).
///
/// `cargo test --workspace` builds it, because the gateway crate has integration tests; when
/// running this crate alone, build it first with `cargo build --release --bin hdg`.
pub fn hdg_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executables live in target/<profile>/deps");
    let bin = profile_dir.join("hdg");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release --bin hdg` (or the whole workspace's tests) first",
        bin.display()
    );
    bin
}

/// Runs `hdg` with `args` to completion.
pub fn hdg(args: &[&str]) -> Output {
    Command::new(hdg_bin())
        .args(args)
        .output()
        .expect("hdg runs")
}

/// The shared FHIR test data (`../shared/data/synthea` beside the repository).
pub fn synthea_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo, which sets CARGO_MANIFEST_DIR"),
    )
    .join("../../shared/data/synthea")
}

/// The five synthea bundles.
pub fn synthea_files() -> Vec<PathBuf> {
    (0..5)
        .map(|i| synthea_dir().join(format!("patient-{i}.json")))
        .collect()
}

/// A small deterministic generator for test randomness (kill moments), seeded per run.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
}
