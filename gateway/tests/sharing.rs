//! Ingest into shares end to end: three `hdg node` processes, a Synthea bundle posted to
//! node 0, its numeric observations secret-shared to the three parties over QUIC. After a
//! SIGTERM the test opens the three stores and checks every party holds one pair per record,
//! the pairs reconstruct node 0's plaintext values and the redundant copies agree; and that a
//! party that is down delays the sharing (the outbox stays non-empty) without losing or
//! duplicating anything. Every wait is bounded; a guard kills the nodes on failure.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use hdg_schema::{RecordId, Value as ObsValue};
use hdg_storage::{ShareRow, Store, TimeRange};
use serde_json::Value;

const PATIENT_0: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/synthea/patient-0.json"
);
/// The body limit the test cluster is written with (patient-0.json is about a third of it).
const BODY_LIMIT: usize = 1_000_000;

fn hdg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hdg"))
        .args(args)
        .output()
        .expect("run hdg")
}

/// Running node processes, killed when dropped (a failed assertion must not leak them).
struct Nodes {
    children: Vec<Option<Child>>,
}

impl Nodes {
    fn none() -> Nodes {
        Nodes {
            children: vec![None, None, None],
        }
    }

    /// Starts node `i` (its log appended to `node{i}.log`).
    fn start(&mut self, dir: &Path, i: usize) {
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
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start hdg node"),
        );
    }

    /// Sends SIGTERM to node `i` and waits (bounded) for it to exit.
    fn terminate(&mut self, i: usize, within: Duration) -> ExitStatus {
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

    fn assert_running(&mut self, i: usize) {
        let child = self.children[i].as_mut().expect("node started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "node{i} exited unexpectedly"
        );
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One HTTP/1.1 exchange (Connection: close): the status and the JSON body.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<(&str, &[u8])>) -> (u16, Value) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let bytes: &[u8] = match body {
        Some((content_type, bytes)) => {
            request.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            ));
            bytes
        }
        None => b"",
    };
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send headers");
    // The server may answer (413) and stop reading before the whole body is sent.
    let _ = stream.write_all(bytes);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> (u16, Value) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response has a header end");
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII headers");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "status {status}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, json)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16)
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// The HTTP address in node `i`'s config.
fn http_addr(dir: &Path, i: usize) -> SocketAddr {
    let text = std::fs::read_to_string(dir.join(format!("node{i}.toml"))).unwrap();
    let config: toml::Table = toml::from_str(&text).unwrap();
    config["http_listen"].as_str().unwrap().parse().unwrap()
}

/// Waits (bounded) until node `i` answers health with at least `peers` peers connected.
fn wait_healthy(nodes: &mut Nodes, dir: &Path, i: usize, peers: u64) -> Value {
    let addr = http_addr(dir, i);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        nodes.assert_running(i);
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            let (status, health) = http(addr, "GET", "/v1/health", None);
            if status == 200 && health["peers_connected"].as_u64() >= Some(peers) {
                return health;
            }
        }
        assert!(
            Instant::now() < deadline,
            "node{i} not healthy with {peers} peers within 30 s; log:\n{}",
            std::fs::read_to_string(dir.join(format!("node{i}.log"))).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn init_cluster(dir: &Path) {
    let out = hdg(&[
        "init",
        "--cluster",
        dir.to_str().unwrap(),
        "--nodes",
        "3",
        "--max-body-bytes",
        &BODY_LIMIT.to_string(),
    ]);
    assert!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Node `i`'s outbox length from its health report.
fn outbox(dir: &Path, i: usize) -> u64 {
    let (status, health) = http(http_addr(dir, i), "GET", "/v1/health", None);
    assert_eq!(status, 200, "{health}");
    health["outbox"]
        .as_u64()
        .expect("health reports the outbox")
}

/// Waits (bounded) until node `i`'s outbox is empty.
fn wait_outbox_empty(nodes: &mut Nodes, dir: &Path, i: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        nodes.assert_running(i);
        if outbox(dir, i) == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node{i}'s outbox did not drain within 60 s; log:\n{}",
            std::fs::read_to_string(dir.join(format!("node{i}.log"))).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Posts patient-0's bundle to node 0; the number of records it stored.
fn post_patient_0(dir: &Path) -> usize {
    let bundle = std::fs::read(PATIENT_0).unwrap();
    let (status, receipt) = http(
        http_addr(dir, 0),
        "POST",
        "/v1/observations",
        Some(("application/fhir+json", &bundle)),
    );
    assert_eq!(status, 200, "{receipt}");
    receipt["records"].as_array().unwrap().len()
}

/// Indicators of patient-0 checked (heart rate, BMI, systolic pressure, HbA1c if present).
const INDICATORS: [&str; 4] = ["8867-4", "39156-5", "8480-6", "4548-4"];

/// With the nodes stopped: every store verifies; for each checked indicator every party holds
/// exactly one row per numeric record of node 0, for its own party index, the three pairs
/// reconstruct node 0's fixed-point value and the redundant copies agree. Returns the rows
/// checked.
fn check_shares(dir: &Path) -> usize {
    let stores: Vec<Store> = (0..3)
        .map(|i| Store::open(&dir.join(format!("node{i}")), false).expect("open store"))
        .collect();
    for (i, store) in stores.iter().enumerate() {
        store
            .verify(&store.verifier())
            .unwrap_or_else(|e| panic!("node{i}'s store does not verify: {e}"));
        // Parties 1 and 2 hold no records: their ledgers hold the receipts of their shares.
        assert!(store.tree_size() > 0, "node{i} anchored no share receipt");
    }
    let mut checked = 0;
    for indicator in INDICATORS {
        let ids = stores[0]
            .scan_indicator(indicator, TimeRange::default())
            .unwrap();
        let mut plain: BTreeMap<RecordId, u64> = BTreeMap::new();
        for id in &ids {
            match stores[0].get(id).unwrap().value {
                ObsValue::Quantity(v) => {
                    plain.insert(*id, v as u64);
                }
                _ => panic!("{indicator} is numeric"),
            }
        }
        if indicator == "8867-4" {
            assert!(!plain.is_empty(), "patient-0 has heart rates");
        }
        let parties: Vec<Vec<ShareRow>> = stores
            .iter()
            .map(|s| s.scan_shares(indicator, TimeRange::default()).unwrap())
            .collect();
        let want: Vec<RecordId> = plain.keys().copied().collect();
        for (i, rows) in parties.iter().enumerate() {
            let got: Vec<RecordId> = rows.iter().map(|r| r.record).collect();
            assert_eq!(got, want, "party {i}'s {indicator} records (once each)");
            assert!(rows.iter().all(|r| usize::from(r.party) == i));
        }
        for (k, (id, x)) in plain.iter().enumerate() {
            let pairs: Vec<(u64, u64)> = parties.iter().map(|rows| rows[k].pair).collect();
            for i in 0..3 {
                let sum = pairs[i]
                    .0
                    .wrapping_add(pairs[(i + 1) % 3].0)
                    .wrapping_add(pairs[(i + 2) % 3].0);
                assert_eq!(sum, *x, "record {id}: shares do not reconstruct");
                assert_eq!(
                    pairs[i].1,
                    pairs[(i + 1) % 3].0,
                    "record {id}: party {i}'s second share differs from party {}'s first",
                    (i + 1) % 3
                );
            }
            assert!(
                pairs.iter().any(|p| p.0 != *x),
                "record {id}: a share equals the value"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn ingested_values_are_shared_to_the_three_parties() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster(&dir);
    let mut nodes = Nodes::none();
    for i in 0..3 {
        nodes.start(&dir, i);
    }
    for i in 0..3 {
        let health = wait_healthy(&mut nodes, &dir, i, 2);
        assert_eq!(health["outbox"], 0);
    }
    let stored = post_patient_0(&dir);
    assert!(stored > 0);
    wait_outbox_empty(&mut nodes, &dir, 0);
    // A second post stores nothing new and queues nothing.
    assert_eq!(post_patient_0(&dir), 0);
    assert_eq!(outbox(&dir, 0), 0);
    for i in 0..3 {
        let status = nodes.terminate(i, Duration::from_secs(10));
        assert!(status.success(), "node{i} exited with {status}");
    }
    let checked = check_shares(&dir);
    assert!(checked >= 36, "only {checked} shared values checked");
}

#[test]
fn a_party_that_is_down_gets_its_shares_when_it_is_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster(&dir);
    let mut nodes = Nodes::none();
    nodes.start(&dir, 0);
    nodes.start(&dir, 1);
    wait_healthy(&mut nodes, &dir, 0, 1);
    wait_healthy(&mut nodes, &dir, 1, 1);
    let stored = post_patient_0(&dir);
    assert!(stored > 0);
    // Party 2 is down: nothing can be fully shared, so the outbox keeps every value.
    let queued = outbox(&dir, 0);
    assert!(queued > 0);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(outbox(&dir, 0), queued, "sharing completed without party 2");
    nodes.assert_running(0);
    nodes.start(&dir, 2);
    wait_healthy(&mut nodes, &dir, 2, 2);
    wait_outbox_empty(&mut nodes, &dir, 0);
    for i in 0..3 {
        let status = nodes.terminate(i, Duration::from_secs(10));
        assert!(status.success(), "node{i} exited with {status}");
    }
    let checked = check_shares(&dir);
    assert!(checked >= 36, "only {checked} shared values checked");
}
