//! The process-test harness shared by the node, sharing and query tests: `hdg` runs, a guard
//! over node processes (killed when dropped), a client of the nodes' TLS API (the gateway's own,
//! pinned to the cluster file's keys), and bounded waits on a node's health.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod consented;
#[allow(
    unused_imports,
    reason = "each test binary uses a different part of the harness"
)]
pub use consented::*;

/// The first shared Synthea bundle. The path is read when the test runs (cargo sets
/// CARGO_MANIFEST_DIR), not baked in at compile time: a build cache shared between two
/// checkouts would otherwise point at the other checkout.
pub fn patient_0() -> String {
    format!(
        "{}/../../shared/data/synthea/patient-0.json",
        std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo, which sets CARGO_MANIFEST_DIR")
    )
}
/// The body limit the test cluster is written with (patient-0.json is about a third of it).
pub const BODY_LIMIT: usize = 1_000_000;

pub fn hdg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hdg"))
        .args(args)
        .output()
        .expect("run hdg")
}

/// Runs `hdg args`: whether it succeeded, and its stdout then stderr.
pub fn hdg_text(args: &[&str]) -> (bool, String) {
    let out = hdg(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `hdg COMMAND --node <node i's API> --cluster DIR ARGS...` (the node pinned by the cluster
/// file; `hdg query` takes its `--cluster` among `args`): success, and stdout then stderr.
pub fn hdg_at(dir: &Path, i: usize, command: &str, args: &[&str]) -> (bool, String) {
    let url = format!("https://{}", http_addr(dir, i));
    let mut all = vec![command, "--node", url.as_str()];
    if command != "query" {
        all.extend(["--cluster", dir.to_str().unwrap()]);
    }
    all.extend_from_slice(args);
    hdg_text(&all)
}

/// `hdg query --cluster DIR --node <node i's API> --key KEY ARGS...` (the answers checked
/// against the cluster file's keys): success, and stdout then stderr.
pub fn hdg_query(dir: &Path, i: usize, key: &Path, args: &[&str]) -> (bool, String) {
    let mut all = vec![
        "--cluster",
        dir.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    hdg_at(dir, i, "query", &all)
}

/// `hdg verify --cluster DIR`: success, and what it printed.
pub fn verify_cluster(dir: &Path) -> (bool, String) {
    hdg_text(&["verify", "--cluster", dir.to_str().unwrap()])
}

/// Waits (bounded) until `hdg verify --cluster DIR` passes: every head cosigned and consistent.
pub fn wait_cluster_verified(dir: &Path) {
    wait_for("hdg verify --cluster passes", || {
        let (ok, out) = verify_cluster(dir);
        if ok { Ok(()) } else { Err(out) }
    });
}

/// Opens stopped node `i`'s store, unlocked with the key file `hdg init` wrote for it.
pub fn open_store(dir: &Path, i: usize) -> hdg_storage::Store {
    let keys = hdg_storage::KeySource::File(dir.join("keys").join(format!("node{i}.key")));
    hdg_storage::Store::open(&dir.join(format!("node{i}")), false, &keys)
        .unwrap_or_else(|e| panic!("cannot open node{i}'s store: {e}"))
}

/// Running node processes, killed when dropped (a failed assertion must not leak them).
pub struct Nodes {
    pub children: Vec<Option<Child>>,
}

impl Nodes {
    pub fn none() -> Nodes {
        Nodes::none_of(3)
    }

    /// None of the `n` nodes of a cluster running yet.
    pub fn none_of(n: usize) -> Nodes {
        Nodes {
            children: (0..n).map(|_| None).collect(),
        }
    }

    /// Starts all three nodes.
    pub fn start_all(dir: &Path) -> Nodes {
        Nodes::start_all_of(dir, 3)
    }

    /// Starts all `n` nodes of the cluster in `dir`.
    pub fn start_all_of(dir: &Path, n: usize) -> Nodes {
        let mut nodes = Nodes::none_of(n);
        for i in 0..n {
            nodes.start(dir, i);
        }
        nodes
    }

    /// Starts all three nodes and waits (bounded) until each has both peers connected.
    pub fn start_healthy(dir: &Path) -> Nodes {
        let mut nodes = Nodes::start_all(dir);
        for i in 0..3 {
            wait_healthy(&mut nodes, dir, i, 2);
        }
        nodes
    }

    /// Starts node `i` (its log appended to `node{i}.log`).
    pub fn start(&mut self, dir: &Path, i: usize) {
        self.start_with_env(dir, i, &[]);
    }

    /// Starts node `i` with extra environment variables (e.g. the fault a test build reads).
    pub fn start_with_env(&mut self, dir: &Path, i: usize, env: &[(&str, &str)]) {
        assert!(self.children[i].is_none(), "node{i} already running");
        let config = dir.join(format!("node{i}.toml"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("node{i}.log")))
            .unwrap();
        self.children[i] = Some(
            Command::new(env!("CARGO_BIN_EXE_hdg"))
                .args(["node", "--config"])
                .arg(&config)
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start hdg node"),
        );
    }

    /// Sends SIGTERM to node `i` and waits (bounded) for it to exit.
    pub fn terminate(&mut self, i: usize, within: Duration) -> ExitStatus {
        let child = self.children[i].as_mut().expect("node still running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.children[i] = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node{i} did not exit within {within:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn assert_running(&mut self, i: usize) {
        let child = self.children[i].as_mut().expect("node started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "node{i} exited unexpectedly"
        );
    }

    /// The nodes started and not stopped that have exited (a peer that could not start, say).
    pub fn exited(&mut self) -> Vec<usize> {
        (0..self.children.len())
            .filter(|&i| {
                self.children[i]
                    .as_mut()
                    .is_some_and(|c| c.try_wait().unwrap().is_some())
            })
            .collect()
    }
}

/// Every node's log in `dir`, each under its name (what a failed wait prints).
pub fn node_logs(dir: &Path) -> String {
    (0..)
        .take_while(|i| dir.join(format!("node{i}.toml")).exists())
        .map(|i| {
            let log = std::fs::read_to_string(dir.join(format!("node{i}.log")));
            format!("--- node{i}.log\n{}", log.unwrap_or_default())
        })
        .collect()
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One exchange with a node's API over TLS, the node pinned by its key from the cluster file
/// (as every client of a node does): the status and the JSON body. `addr` comes from
/// [`http_addr`], which remembers the cluster's keys for it.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
) -> (u16, Value) {
    http_with(addr, method, path, &[], body)
}

/// [`http`] with extra request headers.
pub fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<(&str, &[u8])>,
) -> (u16, Value) {
    use hdg_gateway::cli::http::{NodeUrl, get, post_with_headers};
    let pins = PINS
        .lock()
        .unwrap()
        .get(&addr)
        .cloned()
        .unwrap_or_else(|| panic!("{addr} was not looked up with http_addr"));
    let node = NodeUrl::open(&format!("https://{addr}"), Some(&pins), false).unwrap();
    let timeout = Duration::from_secs(30);
    let headers: Vec<(&str, String)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    match (method, body) {
        ("GET", None) => get(&node, path, timeout),
        ("POST", Some((content_type, bytes))) => {
            post_with_headers(&node, path, content_type, &headers, bytes, timeout)
        }
        other => panic!("the test client sends GET without a body or POST with one: {other:?}"),
    }
    .unwrap_or_else(|e| panic!("{method} {path} at {addr}: {e:#}"))
}

/// The cluster keys of every node address [`http_addr`] handed out (the test client pins them).
static PINS: std::sync::Mutex<std::collections::BTreeMap<SocketAddr, Vec<[u8; 32]>>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The signing key in the seed file `key_file` (64 hex digits, as `hdg init` writes it).
pub fn seed_key(key_file: &Path) -> ed25519_dalek::SigningKey {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(std::fs::read_to_string(key_file).unwrap().trim(), &mut seed).unwrap();
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

/// Now, unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `(signer, nonce, signature)` in hex of a request signed as `node::signed` documents it:
/// `domain || signer || len(nonce) || nonce || time || len(body) || body`, with a fresh nonce.
pub fn sign_request(
    key: &ed25519_dalek::SigningKey,
    domain: &[u8],
    body: &[u8],
    time: i64,
) -> (String, String, String) {
    use ed25519_dalek::Signer;
    let nonce: [u8; 16] = rand::random();
    let signer = key.verifying_key().to_bytes();
    let mut m = domain.to_vec();
    m.extend_from_slice(&signer);
    m.extend_from_slice(&(nonce.len() as u64).to_be_bytes());
    m.extend_from_slice(&nonce);
    m.extend_from_slice(&time.to_be_bytes());
    m.extend_from_slice(&(body.len() as u64).to_be_bytes());
    m.extend_from_slice(body);
    (
        hex::encode(signer),
        hex::encode(nonce),
        hex::encode(key.sign(&m).to_bytes()),
    )
}

/// A researcher's signed query (the JSON `POST /v1/query` takes) of `body`, dated `time`.
pub fn signed_query(key_file: &Path, body: &str, time: i64) -> Value {
    let (signer, nonce, signature) = sign_request(
        &seed_key(key_file),
        b"hdg query request v2\n",
        body.as_bytes(),
        time,
    );
    serde_json::json!({
        "body": body,
        "signer": signer,
        "nonce": nonce,
        "time": time,
        "signature": signature,
    })
}

/// The headers that sign `body` sent as `content_type` by the source whose seed is in
/// `key_file`, as `node::ingest_auth` documents them: an ingest-kind request signature over
/// `content-type:<media type>\nsha256:<hex of the body>`.
pub fn ingest_signature(key_file: &Path, content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    use sha2::Digest;
    let media = content_type
        .split(';')
        .next()
        .unwrap()
        .trim()
        .to_ascii_lowercase();
    let statement = format!(
        "content-type:{media}\nsha256:{}",
        hex::encode(sha2::Sha256::digest(body))
    );
    let time = now_ms();
    let (signer, nonce, signature) = sign_request(
        &seed_key(key_file),
        b"hdg ingest request v2\n",
        statement.as_bytes(),
        time,
    );
    vec![
        ("Hdg-Signer".into(), signer),
        ("Hdg-Nonce".into(), nonce),
        ("Hdg-Time".into(), time.to_string()),
        ("Hdg-Signature".into(), signature),
    ]
}

/// Posts `body` to node `i`'s `/v1/observations` (with `query`, e.g. `?lenient=true`), signed by
/// node i's demo source (`identities/source-node{i}.key`, written by `hdg init`).
pub fn post_observations(
    dir: &Path,
    i: usize,
    query: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Value) {
    let key = dir.join(format!("identities/source-node{i}.key"));
    let headers = ingest_signature(&key, content_type, body);
    http_with(
        http_addr(dir, i),
        "POST",
        &format!("/v1/observations{query}"),
        &headers,
        Some((content_type, body)),
    )
}

/// The HTTP address in node `i`'s config.
pub fn http_addr(dir: &Path, i: usize) -> SocketAddr {
    let text = std::fs::read_to_string(dir.join(format!("node{i}.toml"))).unwrap();
    let config: toml::Table = toml::from_str(&text).unwrap();
    let addr = config["http_listen"].as_str().unwrap().parse().unwrap();
    let pins = hdg_client::cluster_file::ClusterFile::load(dir)
        .and_then(|c| c.node_keys())
        .unwrap_or_else(|e| panic!("the cluster file in {}: {e:#}", dir.display()));
    PINS.lock().unwrap().insert(addr, pins);
    addr
}

/// How long a process test waits for a cluster to reach a state. Generous: the machines the
/// tests run on are shared, and a restarted peer is noticed only after the links' idle timeout.
pub const WAIT: Duration = Duration::from_secs(90);

/// Waits (bounded) until node `i` answers health with at least `peers` peers connected.
pub fn wait_healthy(nodes: &mut Nodes, dir: &Path, i: usize, peers: u64) -> Value {
    let addr = http_addr(dir, i);
    let deadline = Instant::now() + WAIT;
    loop {
        nodes.assert_running(i);
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            let (status, health) = http(addr, "GET", "/v1/health", None);
            if status == 200 && health["peers_connected"].as_u64() >= Some(peers) {
                return health;
            }
        }
        // A peer that exited (it could not bind its port, say) is reported at once, by name.
        let gone = nodes.exited();
        assert!(
            gone.is_empty(),
            "node{gone:?} exited while node{i} waited for {peers} peers; logs:\n{}",
            node_logs(dir)
        );
        assert!(
            Instant::now() < deadline,
            "node{i} not healthy with {peers} peers within {WAIT:?}; logs:\n{}",
            node_logs(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `hdg synth` of `patients` patients from `seed` into `dir/cohort`, `per_file` to a file: the
/// files, sorted.
pub fn synth_cohort(dir: &Path, patients: u32, seed: u64, per_file: u32) -> Vec<PathBuf> {
    let cohort = dir.join("cohort");
    let (patients, seed, per_file) = (patients.to_string(), seed.to_string(), per_file.to_string());
    let (ok, text) = hdg_text(&[
        "synth",
        "--patients",
        &patients,
        "--seed",
        &seed,
        "--per-file",
        &per_file,
        "--out",
        cohort.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cohort)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Feeds `each` every numeric observation of the NDJSON cohort file `path` with its fixed-point
/// value, read as a home node reads it (strict, built-in catalog, pseudonyms under
/// `pseudonym_key`); panics when the file has a rejected entry.
pub fn each_quantity(
    path: &Path,
    pseudonym_key: [u8; 32],
    mut each: impl FnMut(&hdg_schema::Observation, i64),
) {
    let opts = hdg_schema::ImportOptions {
        mode: hdg_schema::Mode::Strict,
        pseudonym_key,
        catalog: hdg_schema::Catalog::builtin(),
        enrolled: None,
    };
    let reader = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let name = path.display().to_string();
    let report = hdg_schema::import(reader, hdg_schema::Format::Ndjson, &name, &opts, &mut |o| {
        if let hdg_schema::Value::Quantity(v) = o.value {
            each(&o, v);
        }
    })
    .unwrap();
    assert!(report.rejected.is_empty(), "{name}: rejected entries");
}

/// `hdg ingest` of `file` at node `i`, signed by its demo source; panics on a refusal.
pub fn ingest_file(dir: &Path, i: usize, file: &Path) {
    let url = format!("https://{}", http_addr(dir, i));
    let source = dir.join(format!("identities/source-node{i}.key"));
    let (ok, text) = hdg_text(&[
        "ingest",
        "--node",
        &url,
        "--cluster",
        dir.to_str().unwrap(),
        "--key",
        source.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
}

/// `hdg init` of a three-node cluster (consent required, the default).
pub fn init_cluster(dir: &Path) {
    init_cluster_with(dir, &[]);
}

/// `hdg init --without-consent --privacy exact`: for tests of sharing and exact queries on
/// patients nobody enrolled (synthetic data, the only data exact answers are for).
pub fn init_cluster_without_consent(dir: &Path) {
    init_cluster_with(dir, &["--without-consent", "--privacy", "exact"]);
}

/// `hdg init --without-consent` with differential privacy (the default), then every node's
/// config with each `(key, value)` of `settings` set (e.g. a smaller budget).
pub fn init_private_cluster(dir: &Path, settings: &[(&str, &str)]) {
    init_cluster_with(dir, &["--without-consent"]);
    for i in 0..3 {
        set_config(dir, i, settings);
    }
}

/// Sets top-level `key = value` lines of node `i`'s config (each key must be there already).
pub fn set_config(dir: &Path, i: usize, settings: &[(&str, &str)]) {
    let path = dir.join(format!("node{i}.toml"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (key, value) in settings {
        let prefix = format!("{key} = ");
        let line = text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("node{i}.toml has no {key}"))
            .to_string();
        text = text.replace(&line, &format!("{prefix}{value}"));
    }
    std::fs::write(&path, text).unwrap();
}

/// `hdg init` with `extra` arguments (e.g. `--hospitals 5`).
pub fn init_cluster_with(dir: &Path, extra: &[&str]) {
    let limit = BODY_LIMIT.to_string();
    let mut args = vec![
        "init",
        "--cluster",
        dir.to_str().unwrap(),
        "--max-body-bytes",
        &limit,
    ];
    args.extend_from_slice(extra);
    let out = hdg(&args);
    assert!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Node `i`'s outbox length from its health report.
pub fn outbox(dir: &Path, i: usize) -> u64 {
    let (status, health) = http(http_addr(dir, i), "GET", "/v1/health", None);
    assert_eq!(status, 200, "{health}");
    health["outbox"]
        .as_u64()
        .expect("health reports the outbox")
}

/// Waits (bounded) until node `i`'s outbox is empty.
pub fn wait_outbox_empty(nodes: &mut Nodes, dir: &Path, i: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        nodes.assert_running(i);
        if outbox(dir, i) == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node{i}'s outbox did not drain within {WAIT:?}; log:\n{}",
            std::fs::read_to_string(dir.join(format!("node{i}.log"))).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `check` every 200 ms for at most [`WAIT`]; panics with `what` and the last value.
pub fn wait_for<T: std::fmt::Debug>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) => assert!(
                Instant::now() < deadline,
                "{what} within {WAIT:?}; last: {last}"
            ),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The kinds of the entries `hdg audit --json` lists for the patient of `key` at each node,
/// asked at node `i`.
pub fn audit_kinds(dir: &Path, i: usize, key: &Path) -> Vec<Vec<String>> {
    let (ok, out) = hdg_at(dir, i, "audit", &["--key", key.to_str().unwrap(), "--json"]);
    assert!(ok, "{out}");
    let answer: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    answer["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["kind"].as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}
