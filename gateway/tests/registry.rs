//! Registry changes approved by k of n node administrators, end to end: a new research
//! institution's queries are refused as an unknown key; one admin's approval is not enough; two
//! admins' approval registers it at the three nodes (its queries now pass the registry check at
//! every party) for research, the purpose it has without a list; two admins set its purposes to
//! statistics, and research is refused; a restarted node keeps the changes; two admins remove
//! it again. Every wait is
//! bounded.

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde_json::Value;

mod common;
use common::*;

/// The refusal of a mean query for research signed with `key` at node `i` (there is no data,
/// so a query that passes the registry check is refused for its cohort instead).
fn query_refusal(dir: &Path, i: usize, key: &Path) -> String {
    query_refusal_for(dir, i, key, "research")
}

/// [`query_refusal`] for `purpose`.
fn query_refusal_for(dir: &Path, i: usize, key: &Path, purpose: &str) -> String {
    let args = [
        "--stat",
        "mean",
        "--indicator",
        "8867-4",
        "--purpose",
        purpose,
        "--json",
    ];
    let (ok, text) = hdg_query(dir, i, key, &args);
    assert!(!ok, "{text}");
    let json: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    json["error"].as_str().unwrap().to_string()
}

fn registry(dir: &Path, admins: &[&str], change: &[&str]) -> (bool, String) {
    let url = format!("https://{}", http_addr(dir, 0));
    let keys: Vec<String> = admins
        .iter()
        .map(|a| {
            dir.join(format!("identities/{a}.key"))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec![
        "registry",
        "--node",
        &url,
        "--cluster",
        dir.to_str().unwrap(),
    ];
    for k in &keys {
        args.extend(["--approve", k.as_str()]);
    }
    args.extend_from_slice(change);
    hdg_text(&args)
}

#[test]
fn two_of_three_admins_change_the_registry_at_every_node_and_it_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init_cluster_without_consent(dir);
    let mut nodes = Nodes::start_all(dir);
    for i in 0..3 {
        wait_healthy(&mut nodes, dir, i, 2);
    }
    let key_file = dir.join("new-institute.key");
    std::fs::write(&key_file, hex::encode([42u8; 32])).unwrap();
    let public = hex::encode(SigningKey::from_bytes(&[42; 32]).verifying_key().to_bytes());

    let refused = query_refusal(dir, 1, &key_file);
    assert!(refused.contains("unknown key"), "{refused}");

    let add = [
        "add",
        "--name",
        "new-institute",
        "--role",
        "researcher",
        "--key",
        &public,
    ];
    let (ok, out) = registry(dir, &["admin-0"], &add);
    assert!(
        !ok && out
            .contains("not enough approvals: 1 registered administrator(s) approved, 2 needed"),
        "{out}"
    );
    let (ok, out) = registry(dir, &["admin-0", "research-institute"], &add);
    assert!(
        !ok && out
            .contains("not enough approvals: 1 registered administrator(s) approved, 2 needed"),
        "{out}"
    );
    let (ok, out) = registry(dir, &["admin-0", "admin-1"], &add);
    assert!(ok, "{out}");

    // Registered at every party: the query now fails only for want of data.
    let refused = query_refusal(dir, 1, &key_file);
    assert!(refused.contains("cohort too small"), "{refused}");
    // Registered without purposes it may query for research only; admins allow statistics
    // instead, and research is refused.
    let refused = query_refusal_for(dir, 1, &key_file, "statistics");
    assert!(
        refused.contains("not registered for the purpose"),
        "{refused}"
    );
    let purposes = ["purposes", "--key", &public, "--purpose", "statistics"];
    let (ok, out) = registry(dir, &["admin-0"], &purposes);
    assert!(!ok && out.contains("not enough approvals"), "{out}");
    let (ok, out) = registry(dir, &["admin-0", "admin-2"], &purposes);
    assert!(ok, "{out}");
    let refused = query_refusal(dir, 1, &key_file);
    assert!(
        refused.contains("not registered for the purpose"),
        "{refused}"
    );

    // Node 2 restarts and applies the stored changes again.
    nodes.terminate(2, Duration::from_secs(20));
    nodes.start(dir, 2);
    for i in 0..3 {
        wait_healthy(&mut nodes, dir, i, 2);
    }
    let refused = query_refusal_for(dir, 2, &key_file, "statistics");
    assert!(refused.contains("cohort too small"), "{refused}");
    let refused = query_refusal(dir, 2, &key_file);
    assert!(
        refused.contains("not registered for the purpose"),
        "{refused}"
    );

    let (ok, out) = registry(dir, &["admin-1", "admin-2"], &["remove", "--key", &public]);
    assert!(ok, "{out}");
    let refused = query_refusal(dir, 0, &key_file);
    assert!(refused.contains("unknown key"), "{refused}");

    // The changes are anchored and the ledgers still cosigned and consistent.
    wait_cluster_verified(dir);
    for i in 0..3 {
        nodes.assert_running(i);
    }
}
