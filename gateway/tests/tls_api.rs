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

/// A CA, and a certificate it issued for 127.0.0.1 with its key, as PEM.
struct HospitalPki {
    ca: String,
    chain: String,
    key: String,
}

fn hospital_pki() -> HospitalPki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    HospitalPki {
        ca: ca.pem(),
        chain: leaf.pem() + &ca.pem(),
        key: leaf_key.serialize_pem(),
    }
}

#[test]
fn a_node_with_a_chain_from_its_hospital_ca_is_trusted_with_ca_and_only_by_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster(&dir);
    let pki = hospital_pki();
    std::fs::write(dir.join("api-chain.pem"), &pki.chain).unwrap();
    std::fs::write(dir.join("api-key.pem"), &pki.key).unwrap();
    std::fs::write(dir.join("ca.pem"), &pki.ca).unwrap();
    std::fs::write(dir.join("other-ca.pem"), hospital_pki().ca).unwrap();
    let config_path = dir.join("node0.toml");
    let mut config: toml::Table =
        toml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config.insert("api_certificate".into(), "api-chain.pem".into());
    config.insert("api_private_key".into(), "api-key.pem".into());
    std::fs::write(&config_path, config.to_string()).unwrap();

    let mut nodes = Nodes::none();
    nodes.start(&dir, 0);
    let addr = http_addr(&dir, 0);
    let url = format!("https://{addr}");
    let timeout = Duration::from_secs(10);
    let roots = hdg_gateway::net::ca::load_certificates(&dir.join("ca.pem")).expect("the CA's PEM");
    let by_ca = NodeUrl::open_with_ca(&url, &roots).unwrap();
    let (status, health) = wait_for("the node answers over its CA chain", || {
        nodes.assert_running(0);
        get(&by_ca, "/v1/health", timeout).map_err(|e| format!("{e:#}"))
    });
    assert_eq!(status, 200, "{health}");

    // Another CA's roots, or the node keys of the cluster file: no connection.
    let other = hdg_gateway::net::ca::load_certificates(&dir.join("other-ca.pem")).unwrap();
    let err = get(
        &NodeUrl::open_with_ca(&url, &other).unwrap(),
        "/v1/health",
        timeout,
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("invalid peer certificate"),
        "{err:#}"
    );
    let pins = hdg_client::cluster_file::ClusterFile::load(&dir)
        .and_then(|c| c.pins())
        .unwrap();
    let pinned = NodeUrl::open(&url, Some(&pins), false).unwrap();
    assert!(get(&pinned, "/v1/health", timeout).is_err());

    // The CLI takes one way of trusting a node, not two.
    let (ok, out) = hdg_text(&[
        "audit",
        "--node",
        &url,
        "--ca",
        dir.join("ca.pem").to_str().unwrap(),
        "--cluster",
        dir.to_str().unwrap(),
        "--key",
        dir.join("identities/patient-1.key").to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("cannot be used with"), "{out}");

    nodes.terminate(0, Duration::from_secs(20));
}
