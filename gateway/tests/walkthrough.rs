//! The README's walkthrough, from `hdg init` to a consented, answered query: the shell block
//! after `<!-- walkthrough -->` in README.md, run as it is written, with this build's `hdg`
//! first on the PATH and `W` (the cluster folder the block defaults to /tmp) set to a
//! temporary folder. The nodes it starts are stopped by the block's last line, or by the
//! wrapper's trap when a command fails.

use std::path::Path;
use std::process::Command;

/// The shell block that follows the walkthrough marker in the README.
fn walkthrough() -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    let after = text
        .split_once("<!-- walkthrough -->")
        .expect("README.md has the walkthrough marker")
        .1;
    let block = after
        .split_once("```sh\n")
        .expect("a sh block follows the marker")
        .1;
    block
        .split_once("```")
        .expect("the block is closed")
        .0
        .to_owned()
}

#[test]
fn the_readmes_walkthrough_ends_in_a_consented_private_answer() {
    let script = walkthrough();
    assert!(
        script
            .lines()
            .filter(|l| l.starts_with("hdg ") || l.starts_with("for "))
            .count()
            < 10,
        "under ten commands:\n{script}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("walk");
    let bin = Path::new(env!("CARGO_BIN_EXE_hdg")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Stop the nodes however the block ends (its last line stops them when all went well), and
    // wait for them to close their stores before the folder goes.
    let wrapped =
        format!("set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n{script}");
    let out = Command::new("bash")
        .args(["-c", &wrapped])
        .env("PATH", path)
        .env("W", &w)
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let logs: String = (0..3)
        .map(|i| std::fs::read_to_string(w.join(format!("node{i}.log"))).unwrap_or_default())
        .collect();
    assert!(out.status.success(), "{text}\nnode logs:\n{logs}");
    assert!(text.contains("ready: 3 nodes"), "{text}");
    assert!(
        text.contains("mean of 8867-4 (differentially private, epsilon 1)"),
        "{text}"
    );
    // A hundred consents, each stored at the three parties.
    assert_eq!(
        text.matches("stored at the three parties").count(),
        100,
        "{text}"
    );
}
