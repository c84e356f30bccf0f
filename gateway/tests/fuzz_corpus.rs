//! The fuzz corpora (`fuzz/corpus/<target>/`) replayed through the same entry points the
//! fuzzers call (`hdg_gateway::fuzzing`): the CI smoke pass of the fuzzing, on the stable
//! toolchain. Every input a fuzzer kept, and every crash it found (added under its target with
//! the fix), must run to the end without a panic.

use std::path::PathBuf;

use hdg_gateway::fuzzing::TARGETS;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn every_target_has_a_corpus_and_every_input_in_it_runs_clean() {
    let mut total = 0;
    for (name, run) in TARGETS {
        let dir = corpus_dir(name);
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{name} has no corpus");
        for input in &inputs {
            let data = std::fs::read(input).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{name} panicked on {}", input.display());
        }
        total += inputs.len();
    }
    println!("{total} corpus inputs replayed");
}

#[test]
fn every_target_has_a_fuzz_binary() {
    let targets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
    for (name, _) in TARGETS {
        let file = targets.join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            text.contains(&format!("hdg_gateway::fuzzing::{name}(data)")),
            "{} does not run {name}",
            file.display()
        );
    }
}
