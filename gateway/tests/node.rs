//! The node process end to end: `hdg init` a cluster, run three `hdg node` processes, use the
//! HTTP API (a tiny HTTP/1.1 client over `TcpStream`, no extra dependencies), stop them with
//! SIGTERM and check their stores. Every wait is bounded; a guard kills the nodes on failure.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::*;

/// What `hdg import --check --json` says the file holds: accepted observations.
fn import_check_count(file: &str) -> u64 {
    let out = hdg(&["import", "--check", "--json", file]);
    assert!(out.status.success(), "import --check failed");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let numeric: u64 = report["accepted_by_indicator"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    numeric + report["non_numeric"].as_u64().unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_keys_configs_and_identities() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster(&dir);
    let mut keys = Vec::new();
    let (mut publics, mut pinned) = (Vec::new(), Vec::new());
    for i in 0..3 {
        let data = dir.join(format!("node{i}"));
        // The data folder holds the sealed keyring and the public key, never a plaintext key;
        // the key that unlocks it is outside the folder, readable by its owner only.
        for plaintext in ["node.key", "master.key"] {
            assert!(!data.join(plaintext).exists(), "node{i}/{plaintext}");
        }
        let key_file = dir.join(format!("keys/node{i}.key"));
        #[cfg(unix)]
        {
            assert_eq!(mode(&key_file), 0o600, "keys/node{i}.key");
            assert_eq!(mode(&dir.join("keys")), 0o700, "keys/");
            assert_eq!(mode(&data.join("keyring")), 0o600, "node{i}/keyring");
        }
        keys.push(std::fs::read_to_string(&key_file).unwrap());
        let public = std::fs::read_to_string(data.join("node.pub")).unwrap();
        let config: toml::Table =
            toml::from_str(&std::fs::read_to_string(dir.join(format!("node{i}.toml"))).unwrap())
                .unwrap();
        assert_eq!(config["party"].as_integer(), Some(i as i64));
        // The parties check each other unless a cluster is made semi-honest on purpose.
        assert_eq!(config["security"].as_str(), Some("malicious"));
        let peers = config["peers"].as_array().unwrap();
        assert_eq!(peers.len(), 2);
        assert_eq!(
            config["key_file"].as_str(),
            Some(format!("keys/node{i}.key").as_str())
        );
        publics.push(public.trim().to_owned());
        pinned.extend(peers.iter().map(|p| {
            (
                p["party"].as_integer().unwrap() as usize,
                p["public_key"].as_str().unwrap().to_owned(),
            )
        }));
        assert!(
            peers
                .iter()
                .all(|p| p["party"].as_integer() != Some(i as i64))
        );
    }
    assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
    // Each node's public key (beside its keyring) is the key its peers pin.
    assert_eq!(pinned.len(), 6);
    for (party, key) in pinned {
        assert_eq!(key, publics[party], "node{party}'s pin");
    }
    let other = tmp.path().join("semi-honest");
    let (ok, out) = hdg_text(&[
        "init",
        "--cluster",
        other.to_str().unwrap(),
        "--security",
        "semi-honest",
    ]);
    assert!(ok, "{out}");
    let config = std::fs::read_to_string(other.join("node0.toml")).unwrap();
    assert!(config.contains("security = \"semi-honest\""), "{config}");
    let (ok, out) = hdg_text(&[
        "init",
        "--cluster",
        other.to_str().unwrap(),
        "--security",
        "paranoid",
    ]);
    assert!(!ok && out.contains("semi-honest"), "{out}");
    let addrs: std::collections::HashSet<SocketAddr> = (0..3).map(|i| http_addr(&dir, i)).collect();
    assert_eq!(addrs.len(), 3, "HTTP ports must be distinct");
    let registry: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.join("identities/registry.toml")).unwrap())
            .unwrap();
    let ids = registry["identity"].as_array().unwrap();
    assert!(ids.iter().any(|i| i["role"].as_str() == Some("researcher")));
    assert!(
        ids.iter()
            .filter(|i| i["role"].as_str() == Some("patient"))
            .count()
            >= 2
    );
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("identities/research-institute.key")), 0o600);

    // A second init into the same folder refuses rather than overwriting keys.
    let again = hdg(&["init", "--cluster", dir.to_str().unwrap()]);
    assert!(!again.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.join("keys/node0.key")).unwrap(),
        keys[0]
    );
    let wrong = hdg(&[
        "init",
        "--cluster",
        tmp.path().join("c2").to_str().unwrap(),
        "--nodes",
        "4",
    ]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("--nodes"));
}

#[test]
fn a_bad_config_names_the_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster(&dir);
    let file = dir.join("node0.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text.replacen("party = 0", "party = 7", 1);
    assert_ne!(broken, text);
    std::fs::write(&file, broken).unwrap();
    let out = hdg(&["node", "--config", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node0.toml") && err.contains("party"), "{err}");
}

#[test]
fn a_node_refuses_to_start_with_a_wrong_or_missing_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster(&dir);
    let file = dir.join("node0.toml");
    let key = dir.join("keys/node0.key");
    let good = std::fs::read_to_string(&key).unwrap();
    // Another operator key: the keyring does not open, and the node says so.
    std::fs::write(&key, "07".repeat(32)).unwrap();
    let out = hdg(&["node", "--config", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong key"), "{err}");
    // No key file at all: named.
    std::fs::remove_file(&key).unwrap();
    let out = hdg(&["node", "--config", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node0.key"), "{err}");
    // A passphrase instead of the key file: the keyring says what it was sealed under.
    let text = std::fs::read_to_string(&file).unwrap();
    let with_passphrase = text.replace(
        "key_file = \"keys/node0.key\"",
        "passphrase_env = \"HDG_TEST_PASSPHRASE\"",
    );
    assert_ne!(with_passphrase, text);
    std::fs::write(&file, with_passphrase).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hdg"))
        .args(["node", "--config", file.to_str().unwrap()])
        .env("HDG_TEST_PASSPHRASE", "correct horse battery staple")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sealed under a key file"), "{err}");
    // The right key again: the node's store opens (checked offline by verify).
    std::fs::write(&key, good).unwrap();
    let out = hdg(&[
        "verify",
        "--data",
        dir.join("node0").to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn three_nodes_ingest_refuse_bad_bodies_and_stop_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster(&dir);
    let mut nodes = Nodes::start_all(&dir);
    for i in 0..3 {
        let health = wait_healthy(&mut nodes, &dir, i, 2);
        assert_eq!(health["party"], i);
        assert_eq!(health["name"], format!("node{i}"));
        assert_eq!(health["ledger_size"], 0);
    }
    let node0 = http_addr(&dir, 0);

    // A Synthea bundle: every observation the importer accepts is in the receipt.
    let expected = import_check_count(&patient_0());
    assert!(expected > 0);
    let bundle = std::fs::read(patient_0()).unwrap();
    assert!(bundle.len() < BODY_LIMIT);
    let (status, receipt) = post_observations(&dir, 0, "", "application/fhir+json", &bundle);
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(
        receipt["source"], "source-node0",
        "the receipt names the source"
    );
    let records = receipt["records"].as_array().unwrap();
    let duplicates = receipt["duplicates"].as_array().unwrap();
    assert_eq!(receipt["accepted"], expected);
    assert_eq!(records.len() as u64 + duplicates.len() as u64, expected);
    assert_eq!(receipt["tree_size"], records.len());
    let leaves: Vec<u64> = records
        .iter()
        .map(|r| r["leaf_index"].as_u64().unwrap())
        .collect();
    assert_eq!(leaves, (0..records.len() as u64).collect::<Vec<_>>());
    let signed_head = receipt["signed_head"].as_str().unwrap();
    assert!(signed_head.contains(&format!("\n{}\n", records.len())));
    let (status, head) = http(node0, "GET", "/v1/head", None);
    assert_eq!(status, 200);
    assert_eq!(head["signed_head"].as_str(), Some(signed_head));
    assert!(head["vkey"].as_str().unwrap().contains('+'));

    // Records come only from a registered source, signed: unsigned 401; signed by a key that is
    // not a source 403; the signature of another body 401; the same signed request again 403.
    let csv =
        b"patient,indicator,value,unit,effective,source\np-9,8867-4,70,/min,2024-05-01,ward\n";
    let (status, err) = http(node0, "POST", "/v1/observations", Some(("text/csv", csv)));
    assert_eq!(status, 401, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("registered source"),
        "{err}"
    );
    let not_a_source = dir.join("identities/research-institute.key");
    let headers = ingest_signature(&not_a_source, "text/csv", csv);
    let (status, err) = http_with(
        node0,
        "POST",
        "/v1/observations",
        &headers,
        Some(("text/csv", csv)),
    );
    assert_eq!(status, 403, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("unknown key"),
        "{err}"
    );
    let source = dir.join("identities/source-node0.key");
    let other = ingest_signature(&source, "text/csv", b"another body");
    let (status, err) = http_with(
        node0,
        "POST",
        "/v1/observations",
        &other,
        Some(("text/csv", csv)),
    );
    assert_eq!(status, 401, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("bad signature"),
        "{err}"
    );
    let signed = ingest_signature(&source, "text/csv", csv);
    let (status, first) = http_with(
        node0,
        "POST",
        "/v1/observations",
        &signed,
        Some(("text/csv", csv)),
    );
    assert_eq!(status, 200, "{first}");
    let (status, err) = http_with(
        node0,
        "POST",
        "/v1/observations",
        &signed,
        Some(("text/csv", csv)),
    );
    assert_eq!(status, 403, "{err}");
    assert!(err["error"].as_str().unwrap().contains("replayed"), "{err}");
    let extra = first["records"].as_array().unwrap().len();
    let csv_signed = csv;

    // Posting it again stores nothing new.
    let (status, again) = post_observations(&dir, 0, "", "application/fhir+json", &bundle);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["records"].as_array().unwrap().len(), 0);
    // Sharing may have anchored share receipts meanwhile, never removed anything.
    assert!(again["tree_size"].as_u64().unwrap() >= records.len() as u64);

    // Malformed JSON: 400 naming the problem; the node stays up.
    let (status, err) =
        post_observations(&dir, 0, "", "application/fhir+json", b"{\"resourceType\": ");
    assert_eq!(status, 400, "{err}");
    let message = err["error"].as_str().unwrap();
    assert!(message.contains("malformed JSON"), "{message}");
    // An unsupported type: 415 naming it.
    let (status, err) = post_observations(&dir, 0, "", "image/png", b"x");
    assert_eq!(status, 415, "{err}");
    assert!(err["error"].as_str().unwrap().contains("image/png"));
    // Oversized: 413 naming the limit.
    let big = vec![b' '; BODY_LIMIT + 1];
    let (status, err) = post_observations(&dir, 0, "", "application/fhir+json", &big);
    assert_eq!(status, 413, "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains(&BODY_LIMIT.to_string()),
        "{err}"
    );
    // A CSV with one implausible value: strict refuses it all (422 naming line and field, not
    // the value); lenient stores the good row and reports the bad one.
    let csv = b"patient,indicator,value,unit,effective,source\n\
                p-77,8867-4,72,/min,2024-05-01T08:30:00Z,ward\n\
                p-77,8867-4,98765,/min,2024-05-02T08:30:00Z,ward\n";
    let (status, err) = post_observations(&dir, 0, "", "text/csv", csv);
    assert_eq!(status, 422, "{err}");
    let message = err["error"].as_str().unwrap();
    assert!(
        message.contains("line 3") && message.contains("value"),
        "{message}"
    );
    assert!(
        !message.contains("98765"),
        "a health value leaked: {message}"
    );
    let (status, lenient) = post_observations(&dir, 0, "?lenient=true", "text/csv", csv);
    assert_eq!(status, 200, "{lenient}");
    assert_eq!(lenient["records"].as_array().unwrap().len(), 1);
    assert_eq!(lenient["rejected"].as_array().unwrap().len(), 1);
    let stored = records.len() + extra + 1;
    let leaf = lenient["records"][0]["leaf_index"].as_u64().unwrap();
    assert!(leaf >= records.len() as u64);
    assert_eq!(lenient["tree_size"].as_u64().unwrap(), leaf + 1);

    nodes.assert_running(0);
    let (status, health) = http(node0, "GET", "/v1/health", None);
    assert_eq!(status, 200);
    // The ledger holds the records plus any share receipts the sharing worker anchored.
    assert!(health["ledger_size"].as_u64().unwrap() > leaf);

    // SIGTERM: each node exits 0 within a few seconds, and its store verifies.
    for i in 0..3 {
        let status = nodes.terminate(i, Duration::from_secs(10));
        assert!(status.success(), "node{i} exited with {status}");
    }
    let data: PathBuf = dir.join("node0");
    let out = hdg(&[
        "verify",
        "--data",
        data.to_str().unwrap(),
        "--key-file",
        dir.join("keys/node0.key").to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "verify failed: {stdout}");
    assert!(stdout.contains(&format!("{stored} records")), "{stdout}");
    // The ledger names the source that wrote each record.
    let registry: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.join("identities/registry.toml")).unwrap())
            .unwrap();
    let source_key = registry["identity"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"].as_str() == Some("source-node0"))
        .and_then(|i| i["public_key"].as_str())
        .unwrap()
        .to_owned();
    let store = open_store(&dir, 0);
    let entry = hdg_ledger::LedgerEntry::from_bytes(&store.leaf(0).unwrap()).unwrap();
    assert_eq!(hex::encode(entry.actor), source_key);
    drop(store);
    for i in 1..3 {
        let d = dir.join(format!("node{i}"));
        assert!(
            hdg(&[
                "verify",
                "--data",
                d.to_str().unwrap(),
                "--key-file",
                dir.join(format!("keys/node{i}.key")).to_str().unwrap(),
            ])
            .status
            .success()
        );
    }

    // The replay cache outlives a restart: the ingest signed before it is still a replay.
    nodes.start(&dir, 0);
    wait_healthy(&mut nodes, &dir, 0, 0);
    let (status, err) = http_with(
        node0,
        "POST",
        "/v1/observations",
        &signed,
        Some(("text/csv", csv_signed)),
    );
    assert_eq!(status, 403, "{err}");
    assert!(err["error"].as_str().unwrap().contains("replayed"), "{err}");
    assert!(nodes.terminate(0, Duration::from_secs(10)).success());
}
