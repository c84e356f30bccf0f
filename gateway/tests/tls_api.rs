//! The client API is TLS only, and a client trusts a node by its key. Attacks: a man in the
//! middle with a key of its own (a client pinned to other keys must not connect), a client
//! speaking plain HTTP to a node (it gets no answer), and a user pointing `hdg` at an `http://`
//! URL or at an `https://` URL without the keys to pin (refused before anything is sent).

use std::time::Duration;

use hdg_gateway::cli::http::{NodeUrl, get};

mod common;
use common::*;

#[test]
fn the_api_answers_only_over_tls_to_a_client_that_pins_the_node_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster(&dir);
    let mut nodes = Nodes::none();
    nodes.start(&dir, 0);
    let addr = http_addr(&dir, 0);
    wait_healthy(&mut nodes, &dir, 0, 0);
    let timeout = Duration::from_secs(10);

    // The node's own key, from the cluster file: the health answer comes back.
    let (status, health) = http(addr, "GET", "/v1/health", None);
    assert_eq!(status, 200, "{health}");

    // Pinned to other keys (what a man in the middle presenting its own certificate looks
    // like from the client's side): no connection, and the error says why.
    let pinned_elsewhere = NodeUrl::open(&format!("https://{addr}"), Some(&[[7; 32]]), false)
        .expect("a pinned client is configured");
    let err = get(&pinned_elsewhere, "/v1/health", timeout).unwrap_err();
    let chain = format!("{err:#}");
    assert!(
        chain.contains("invalid peer certificate") && chain.contains("UnpinnedKey"),
        "the refusal should say the key is not pinned: {chain}"
    );

    // Plain HTTP to the TLS port: the handshake fails and nothing is answered.
    let plain = NodeUrl::open(&format!("http://{addr}"), None, true).unwrap();
    assert!(
        get(&plain, "/v1/health", timeout).is_err(),
        "a plain-HTTP request got an answer from a TLS-only node"
    );

    // The CLI refuses an http:// URL without --insecure-http, and https:// without keys.
    let key = dir.join("identities/patient-1.key");
    let (ok, out) = hdg_text(&[
        "audit",
        "--node",
        &format!("http://{addr}"),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("in the clear"), "{out}");
    let (ok, out) = hdg_text(&[
        "audit",
        "--node",
        &format!("https://{addr}"),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("--cluster"), "{out}");

    nodes.terminate(0, Duration::from_secs(20));
}
