//! A malicious coordinator: a proxy between `hdg query` and node 0 rewrites the three answers it
//! relays — forging one, swapping two, replaying an earlier query's, relabelling the statistic.
//! The researcher's client must refuse each, name the check that failed, and print no value.
//! Three real `hdg node` processes; every wait is bounded; a guard kills the nodes on failure.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;

mod common;
use common::*;

/// A one-connection proxy to `upstream` that passes the query through (over TLS, as any
/// client) and the answer back after `tamper` rewrote its JSON body; what upstream answered is
/// kept in `seen`. The client reaches the proxy over plain HTTP (`--insecure-http`): the
/// coordinator is the adversary here, not the network.
fn proxy(
    upstream: SocketAddr,
    seen: Arc<Mutex<Option<Value>>>,
    tamper: impl FnOnce(&mut Value) + Send + 'static,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let request = read_request(&mut client);
        let split = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let (status, mut body) = http(
            upstream,
            "POST",
            "/v1/query",
            Some(("application/json", &request[split + 4..])),
        );
        *seen.lock().unwrap() = Some(body.clone());
        tamper(&mut body);
        let text = body.to_string();
        let answer = format!(
            "HTTP/1.1 {status} Relayed\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
        client.write_all(answer.as_bytes()).unwrap();
    });
    (addr, handle)
}

/// One HTTP request: its headers, then as many body bytes as Content-Length says.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "request ended early");
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if raw.len() >= end + 4 + length {
                return raw;
            }
        }
    }
}

/// `hdg query` of the mean heart rate through `via`: success, stdout, stderr.
fn ask_via(dir: &Path, via: SocketAddr) -> (bool, String, String) {
    let out = hdg(&[
        "query",
        "--cluster",
        dir.to_str().unwrap(),
        "--node",
        &format!("http://{via}"),
        "--insecure-http",
        "--key",
        dir.join("identities/research-institute.key")
            .to_str()
            .unwrap(),
        "--stat",
        "mean",
        "--indicator",
        "8867-4",
        "--json",
    ]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asks through a proxy applying `tamper`; returns what upstream answered and the client's run.
fn tampered(
    dir: &Path,
    tamper: impl FnOnce(&mut Value) + Send + 'static,
) -> (Value, (bool, String, String)) {
    let seen = Arc::new(Mutex::new(None));
    let (addr, relay) = proxy(http_addr(dir, 0), seen.clone(), tamper);
    let run = ask_via(dir, addr);
    relay.join().unwrap();
    let upstream = seen
        .lock()
        .unwrap()
        .take()
        .expect("the proxy relayed an answer");
    (upstream, run)
}

#[test]
fn a_coordinator_that_forges_swaps_replays_or_relabels_answers_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    init_cluster_without_consent(&dir);
    let mut nodes = Nodes::start_healthy(&dir);
    let cohort = tmp.path().join("cohort");
    let (ok, text) = hdg_text(&[
        "synth",
        "--patients",
        "24",
        "--seed",
        "11",
        "--per-file",
        "4",
        "--out",
        cohort.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let mut files: Vec<String> = std::fs::read_dir(&cohort)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".json") || p.ends_with(".ndjson"))
        .collect();
    files.sort();
    let url = format!("https://{}", http_addr(&dir, 0));
    let source = dir.join("identities/source-node0.key");
    let mut args = vec![
        "ingest",
        "--node",
        url.as_str(),
        "--cluster",
        dir.to_str().unwrap(),
        "--key",
        source.to_str().unwrap(),
    ];
    args.extend(files.iter().map(String::as_str));
    let (ok, text) = hdg_text(&args);
    assert!(ok, "{text}");
    wait_outbox_empty(&mut nodes, &dir, 0);

    // Relayed as is: the client checks and opens it.
    let (honest, (ok, out, err)) = tampered(&dir, |_| {});
    assert!(ok, "{out}{err}");
    let result: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        result["fixed_point"]["result"]["Mean"].is_object(),
        "{result}"
    );
    let shown = out.clone();

    let refused = |(ok, out, err): (bool, String, String), check: &str| {
        assert!(!ok, "a tampered answer was accepted: {out}");
        assert!(out.trim().is_empty(), "a value was printed: {out}");
        assert!(err.contains(check), "expected `{check}`: {err}");
        assert!(!err.contains(&shown), "{err}");
    };
    // Forged: one byte of node 1's ciphertext, its signature left as it was.
    let (_, run) = tampered(&dir, |v| {
        let ct = &mut v["answers"][1]["sealed"]["output"]["ciphertext"][0];
        *ct = Value::from(ct.as_u64().unwrap() ^ 1);
    });
    refused(run, "answer refused (forged or altered): node1");
    // Swapped: node 0's and node 2's answers change places.
    let (_, run) = tampered(&dir, |v| {
        v["answers"].as_array_mut().unwrap().swap(0, 2);
    });
    refused(run, "answer refused (swapped)");
    // Replayed: the first query's answers, validly signed, relayed for a new query.
    let earlier = honest["answers"].clone();
    let (_, run) = tampered(&dir, move |v| v["answers"] = earlier);
    refused(run, "answer refused (replayed)");
    // Relabelled: the three answers claim to be a sum.
    let (_, run) = tampered(&dir, |v| {
        for a in v["answers"].as_array_mut().unwrap() {
            a["sealed"]["statistic"] = Value::from("Sum");
        }
    });
    refused(run, "answer refused (relabelled)");
    // Dropped: two answers instead of three.
    let (_, run) = tampered(&dir, |v| {
        v["answers"].as_array_mut().unwrap().pop();
    });
    refused(run, "2 answers relayed");
    for i in 0..3 {
        nodes.assert_running(i);
    }
}
