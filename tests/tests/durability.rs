//! An acknowledged write survives `kill -9`: `hdg ingest --json` is SIGKILLed at random moments;
//! after each kill the store verifies clean and holds every record whose commit was acknowledged.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdg_ledger::NoteVerifier;
use hdg_schema::RecordId;
use hdg_storage::{KeySource, Store};
use hdg_tests::{SplitMix, hdg, hdg_bin};

const TRIALS: usize = 20;

#[test]
fn acknowledged_commits_survive_sigkill() {
    let work = tempfile::tempdir().unwrap();
    let cohort = work.path().join("cohort");
    let out = hdg(&[
        "synth",
        "--patients",
        "300",
        "--seed",
        "5",
        "--per-file",
        "100",
        "--out",
        cohort.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<String> = std::fs::read_dir(&cohort)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("kill-moment seed {seed}");
    let mut rng = SplitMix(seed);
    let mut killed_mid_ingest = 0;
    for trial in 0..TRIALS {
        let data = work.path().join(format!("node-{trial}"));
        // The key that seals the store's keyring lives outside its data folder.
        let key_file = work.path().join(format!("node-{trial}.key"));
        let unlock = ["--key-file", key_file.to_str().unwrap()];
        let mut child = Command::new(hdg_bin())
            .args([
                "ingest",
                "--json",
                "--batch",
                "200",
                "--data",
                data.to_str().unwrap(),
            ])
            .args(unlock)
            .args(&files)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let kill_after = rng.range(0, 25);
        let mut acknowledged: Vec<(RecordId, u64)> = Vec::new();
        for _ in 0..kill_after {
            match lines.next() {
                Some(Ok(line)) => acknowledged.extend(parse_commit(&line)),
                _ => break,
            }
        }
        std::thread::sleep(Duration::from_micros(rng.range(0, 30_000)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if !status.success() {
            killed_mid_ingest += 1;
        }
        // Lines already in the pipe were printed after their commit was durable: acknowledged too.
        // A line cut short by the kill does not parse and is not counted.
        for line in lines.map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                acknowledged.extend(parse_value(&v));
            }
        }

        let verify = hdg(&[&["verify", "--data", data.to_str().unwrap()], &unlock[..]].concat());
        if acknowledged.is_empty()
            && String::from_utf8_lossy(&verify.stderr).contains("no store in")
        {
            // Killed while the store was being created: nothing was acknowledged, nothing lost.
            // The next ingest finishes the creation.
            let resumed = hdg(&[
                &["ingest", "--data", data.to_str().unwrap()],
                &unlock[..],
                &[files[0].as_str()],
            ]
            .concat());
            assert!(
                resumed.status.success(),
                "trial {trial}: interrupted creation does not resume"
            );
            killed_mid_ingest += 1;
            continue;
        }
        assert!(
            verify.status.success(),
            "trial {trial} (seed {seed}): verify failed after kill: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
        let store = Store::open(&data, false, &KeySource::File(key_file.clone())).unwrap();
        store
            .verify(&NoteVerifier::from_vkey(&store.vkey()).unwrap())
            .unwrap();
        let mut seen = HashSet::new();
        for (id, leaf) in &acknowledged {
            assert!(seen.insert(*id), "record {id} acknowledged twice");
            let proof = store.inclusion_proof(id).unwrap_or_else(|e| {
                panic!("trial {trial} (seed {seed}): acknowledged record {id} lost: {e}")
            });
            assert_eq!(proof.leaf_index, *leaf);
            store.get(id).unwrap();
        }
        assert!(store.tree_size() >= acknowledged.len() as u64);
    }
    assert!(
        killed_mid_ingest >= TRIALS / 2,
        "only {killed_mid_ingest} of {TRIALS} kills landed mid-ingest"
    );
}

fn parse_commit(line: &str) -> Vec<(RecordId, u64)> {
    let v: serde_json::Value = serde_json::from_str(line).expect("a complete --json line parses");
    parse_value(&v)
}

fn parse_value(v: &serde_json::Value) -> Vec<(RecordId, u64)> {
    v["records"]
        .as_array()
        .expect("records array")
        .iter()
        .map(|r| {
            let id: RecordId = r["record_id"].as_str().unwrap().parse().unwrap();
            (id, r["leaf_index"].as_u64().unwrap())
        })
        .collect()
}
