//! Researcher queries end to end: three `hdg node` processes, the Synthea bundles posted to
//! node 0 with `hdg ingest --node`, shared to the three parties, then `hdg query --json` through
//! node 1 (the coordinator); each result equals the plaintext computed here straight from the
//! input files (imported with hdg-schema, each value once per record id). Plus the refusals:
//! a key that is not a registered researcher, a replayed signed request, and a party that is
//! down (a clear error within the bound, no answers released). Every wait is bounded; a guard
//! kills the nodes on failure.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hdg_schema::{
    Catalog, Format, ImportOptions, Mode, RecordId, Timestamp, Value as ObsValue, import,
};
use serde_json::Value;

/// The shared Synthea bundles beside the repository. The path is read when the test runs (cargo
/// sets CARGO_MANIFEST_DIR), not baked in at compile time: a build cache shared between two
/// checkouts would otherwise point at the other checkout.
fn synthea() -> String {
    format!(
        "{}/../../shared/data/synthea",
        std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo, which sets CARGO_MANIFEST_DIR")
    )
}

mod common;
use common::*;

/// Writes the cluster with the default body limit (the largest bundle is over the common one),
/// without the consent rule: these patients are not enrolled, and these tests check the
/// statistics (tests/consent.rs checks the consent rule).
fn init_cluster_for_bundles(dir: &Path) {
    let out = hdg(&[
        "init",
        "--cluster",
        dir.to_str().unwrap(),
        "--nodes",
        "3",
        "--without-consent",
        "--privacy",
        "exact",
    ]);
    assert!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills node `i` at once (no clean shutdown) and reaps it.
fn kill(nodes: &mut Nodes, i: usize) {
    let mut child = nodes.children[i].take().expect("node still running");
    child.kill().expect("kill node");
    child.wait().expect("reap node");
}

/// The Synthea bundles, sorted.
fn bundles() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(synthea())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no Synthea bundles in {}", synthea());
    files
}

/// Fixed-point values per indicator straight from the input files, once per record id.
fn plaintext(files: &[PathBuf]) -> BTreeMap<String, Vec<i64>> {
    let catalog = Catalog::builtin();
    let opts = ImportOptions {
        mode: Mode::Strict,
        pseudonym_key: [7; 32],
        catalog,
        enrolled: None,
    };
    let mut by_record: BTreeMap<RecordId, (String, i64)> = BTreeMap::new();
    for path in files {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).unwrap();
        let reader = BufReader::new(file);
        let report = import(reader, Format::FhirJson, &name, &opts, &mut |obs| {
            if let ObsValue::Quantity(v) = obs.value {
                by_record.insert(obs.id(), (obs.indicator.clone(), v));
            }
        })
        .unwrap();
        assert!(report.rejected.is_empty(), "{name}: rejected entries");
    }
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (indicator, v) in by_record.into_values() {
        out.entry(indicator).or_default().push(v);
    }
    out
}

/// Runs `hdg query --json` against node `i`; the exit status and the JSON it printed.
fn query(dir: &Path, i: usize, key: &str, extra: &[&str]) -> (bool, Value) {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let (ok, text) = hdg_query(dir, i, &dir.join("identities").join(key), &args);
    let json = serde_json::from_str(text.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("query printed no JSON ({e}): {text}"));
    (ok, json)
}

/// The bound a query may take at a coordinator in the test cluster, milliseconds.
const QUERY_TIMEOUT_MS: u64 = 8_000;

fn start_cluster(dir: &Path) -> Nodes {
    init_cluster_for_bundles(dir);
    for i in 0..3 {
        let path = dir.join(format!("node{i}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let line = "query_timeout_ms = 60000\n";
        assert!(text.contains(line), "init writes the default bound");
        let text = text.replace(line, &format!("query_timeout_ms = {QUERY_TIMEOUT_MS}\n"));
        // The fixture has five patients: the cluster's minimum cohort (of patients) is 2.
        let text = text.replace("min_cohort = 10\n", "min_cohort = 2\n");
        std::fs::write(&path, text).unwrap();
    }
    let mut nodes = Nodes::none();
    for i in 0..3 {
        nodes.start(dir, i);
    }
    for i in 0..3 {
        wait_healthy(&mut nodes, dir, i, 2);
    }
    nodes
}

fn ingest_bundles(nodes: &mut Nodes, dir: &Path, files: &[PathBuf]) {
    let url = format!("https://{}", http_addr(dir, 0));
    let source = dir
        .join("identities/source-node0.key")
        .display()
        .to_string();
    let mut args = vec![
        "ingest".to_string(),
        "--node".to_string(),
        url,
        "--cluster".to_string(),
        dir.display().to_string(),
        "--key".to_string(),
        source,
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = hdg(&args);
    assert!(
        out.status.success(),
        "hdg ingest --node failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wait_outbox_empty(nodes, dir, 0);
}

/// Posts `request` (a signed request's JSON) to node 0's `/v1/query`.
fn post_query(dir: &Path, request: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(request).unwrap();
    http(
        http_addr(dir, 0),
        "POST",
        "/v1/query",
        Some(("application/json", &bytes)),
    )
}

#[test]
fn queries_equal_the_plaintext_of_the_input_files_and_refusals_name_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let files = bundles();
    let plain = plaintext(&files);
    let mut nodes = start_cluster(dir);
    ingest_bundles(&mut nodes, dir, &files);
    let researcher = "research-institute.key";

    // Mean heart rate, coordinated by node 1.
    let hr = &plain["8867-4"];
    let (ok, got) = query(
        dir,
        1,
        researcher,
        &["--stat", "mean", "--indicator", "8867-4"],
    );
    assert!(ok, "{got}");
    assert_eq!(got["rows"], hr.len() as u64, "{got}");
    // Every party logged the query in its own ledger before computing.
    let logged = got["query_ledger_index"].as_array().unwrap();
    assert_eq!(logged.len(), 3);
    assert!(logged.iter().all(|l| l.as_u64().is_some()), "{got}");
    assert_eq!(
        got["fixed_point"]["result"]["Mean"]["n"],
        hr.len() as u64,
        "{got}"
    );
    assert_eq!(
        got["fixed_point"]["result"]["Mean"]["sum"],
        hr.iter().sum::<i64>(),
        "{got}"
    );
    // The figures are in the indicator's unit: the fixed-point mean over the scale.
    let ind = Catalog::builtin().get("8867-4").unwrap();
    let scale = 10f64.powi(ind.precision as i32);
    assert_eq!(got["unit"], ind.unit.as_str(), "{got}");
    let figure = |got: &Value, name: &str| {
        got["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no figure {name}: {got}"))
    };
    let mean = figure(&got, "mean");
    assert_eq!(mean["unit"], ind.unit.as_str(), "{got}");
    let expected = hr.iter().sum::<i64>() as f64 / hr.len() as f64 / scale;
    assert!(
        (mean["value"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{got}"
    );
    assert_eq!(figure(&got, "count")["value"], hr.len() as f64, "{got}");
    // The same answer as CSV: a header and one line per figure, in the unit.
    let (ok, csv) = hdg_query(
        dir,
        0,
        &dir.join("identities").join(researcher),
        &["--stat", "mean", "--indicator", "8867-4", "--format", "csv"],
    );
    assert!(ok, "{csv}");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("figure,value,unit,low,high,noise_sd"),
        "{csv}"
    );
    let mean_line = lines.find(|l| l.starts_with("mean,")).unwrap();
    let value: f64 = mean_line.split(',').nth(1).unwrap().parse().unwrap();
    assert!((value - expected).abs() < 1e-9, "{csv}");

    // Variance of systolic blood pressure, coordinated by node 2.
    let sbp = &plain["8480-6"];
    let (ok, got) = query(
        dir,
        2,
        researcher,
        &["--stat", "variance", "--indicator", "8480-6"],
    );
    assert!(ok, "{got}");
    let v = &got["fixed_point"]["result"]["Variance"];
    assert_eq!(v["n"], sbp.len() as u64, "{got}");
    assert_eq!(v["sum"], sbp.iter().sum::<i64>(), "{got}");
    assert_eq!(
        v["sum_squares"],
        sbp.iter().map(|x| x * x).sum::<i64>(),
        "{got}"
    );

    // Filtered mean: systolic above 120 mmHg (fixed point at the catalog's precision).
    let precision = Catalog::builtin().get("8480-6").unwrap().precision;
    let threshold = 120 * 10i64.pow(precision);
    let above: Vec<i64> = sbp.iter().copied().filter(|x| *x > threshold).collect();
    assert!(
        above.len() >= 10,
        "the fixture has too few values above the threshold"
    );
    let (ok, got) = query(
        dir,
        0,
        researcher,
        &[
            "--stat",
            "mean",
            "--indicator",
            "8480-6",
            "--where",
            "value > 120",
        ],
    );
    assert!(ok, "{got}");
    let f = &got["fixed_point"]["result"]["FilteredMean"];
    assert_eq!(f["threshold"], threshold, "{got}");
    assert_eq!(f["count"], above.len() as u64, "{got}");
    assert_eq!(f["sum"], above.iter().sum::<i64>(), "{got}");

    // Histogram of heart rate between public edges, and its lower median.
    let hr_scale = 10i64.pow(Catalog::builtin().get("8867-4").unwrap().precision);
    let edges = [70 * hr_scale, 100 * hr_scale];
    let expected: Vec<u64> = (0..=edges.len())
        .map(|b| {
            hr.iter()
                .filter(|x| (b == 0 || **x >= edges[b - 1]) && (b == edges.len() || **x < edges[b]))
                .count() as u64
        })
        .collect();
    let (ok, got) = query(
        dir,
        1,
        researcher,
        &[
            "--stat",
            "histogram",
            "--indicator",
            "8867-4",
            "--edges",
            "70,100",
        ],
    );
    assert!(ok, "{got}");
    assert_eq!(
        got["fixed_point"]["result"]["Histogram"]["counts"],
        serde_json::json!(expected),
        "{got}"
    );
    let mut sorted = hr.clone();
    sorted.sort_unstable();
    let (ok, got) = query(
        dir,
        2,
        researcher,
        &["--stat", "median", "--indicator", "8867-4"],
    );
    assert!(ok, "{got}");
    assert_eq!(
        got["fixed_point"]["result"]["OrderStatistic"]["value"],
        sorted[(sorted.len() - 1) / 2],
        "{got}"
    );
    // The 90th percentile: the ceil(0.9 n)-th smallest.
    let (ok, got) = query(
        dir,
        0,
        researcher,
        &[
            "--stat",
            "quantile",
            "--quantile",
            "0.9",
            "--indicator",
            "8867-4",
        ],
    );
    assert!(ok, "{got}");
    assert_eq!(
        got["fixed_point"]["result"]["OrderStatistic"]["value"],
        sorted[(sorted.len() * 9).div_ceil(10) - 1],
        "{got}"
    );

    // A window in which nobody has a value: fewer patients than the minimum cohort, so every
    // party refuses before computing anything.
    let (ok, got) = query(
        dir,
        0,
        researcher,
        &[
            "--stat",
            "mean",
            "--indicator",
            "39156-5",
            "--from",
            "2100-01-01",
        ],
    );
    assert!(!ok, "{got}");
    assert_eq!(got["status"], 422, "{got}");
    assert!(
        got["error"].as_str().unwrap().contains("cohort too small"),
        "{got}"
    );

    // A registered patient's key is not a researcher's: refused, naming the reason.
    let (ok, got) = query(
        dir,
        0,
        "patient-1.key",
        &["--stat", "mean", "--indicator", "8867-4"],
    );
    assert!(!ok);
    assert_eq!(got["status"], 403, "{got}");
    assert!(
        got["error"].as_str().unwrap().contains("unknown key"),
        "{got}"
    );

    // A replayed signed request: the first is answered, the same bytes again are refused.
    let saved = dir.join("request.json");
    let (ok, got) = query(
        dir,
        1,
        researcher,
        &[
            "--stat",
            "count",
            "--indicator",
            "8867-4",
            "--save-request",
            saved.to_str().unwrap(),
        ],
    );
    assert!(ok, "{got}");
    assert_eq!(
        got["fixed_point"]["result"]["Count"]["n"],
        hr.len() as u64,
        "{got}"
    );
    let body = std::fs::read(&saved).unwrap();
    let (status, refusal) = http(
        http_addr(dir, 1),
        "POST",
        "/v1/query",
        Some(("application/json", &body)),
    );
    assert_eq!(status, 403, "{refusal}");
    assert!(
        refusal["error"].as_str().unwrap().contains("replayed"),
        "{refusal}"
    );
    assert!(refusal.get("answers").is_none(), "{refusal}");
    // The same bytes sent to another node (its own cache) are refused there too.
    let (status, refusal) = http(
        http_addr(dir, 2),
        "POST",
        "/v1/query",
        Some(("application/json", &body)),
    );
    assert_eq!(status, 403, "{refusal}");
    let log = std::fs::read_to_string(dir.join("node1.log")).unwrap();
    assert!(log.contains("replayed"), "the refusal is logged");

    // Tampered (a changed nonce no longer matches the signature) and unsigned requests.
    let mut tampered: Value = serde_json::from_slice(&body).unwrap();
    tampered["nonce"] = Value::from("00".repeat(16));
    let (status, refusal) = post_query(dir, &tampered);
    assert_eq!(status, 401, "{refusal}");
    assert!(
        refusal["error"].as_str().unwrap().contains("bad signature"),
        "{refusal}"
    );
    tampered["signature"] = Value::from("");
    let (status, refusal) = post_query(dir, &tampered);
    assert_eq!(status, 401, "{refusal}");
    assert!(
        refusal["error"].as_str().unwrap().contains("unsigned"),
        "{refusal}"
    );

    // A histogram over more edges than a party computes: 422 naming the cap, before any row
    // is read (at 10^6 edges over these rows it would ask each party for gigabytes).
    let edges: Vec<String> = (0..65).map(|i| (40 + i).to_string()).collect();
    let (ok, got) = query(
        dir,
        1,
        researcher,
        &[
            "--stat",
            "histogram",
            "--indicator",
            "8867-4",
            "--edges",
            &edges.join(","),
        ],
    );
    assert!(!ok, "{got}");
    assert_eq!(got["status"], 422, "{got}");
    assert!(
        got["error"]
            .as_str()
            .unwrap()
            .contains("65 edges, at most 64"),
        "{got}"
    );

    // A two-group comparison is answered only with differential privacy: this exact cluster
    // refuses it with the query's shape, 422 naming why.
    let (ok, got) = query(
        dir,
        2,
        researcher,
        &[
            "--stat",
            "two-groups",
            "--indicator",
            "8867-4",
            "--by",
            "8480-6",
            "--where",
            "value > 120",
        ],
    );
    assert!(!ok, "{got}");
    assert_eq!(got["status"], 422, "{got}");
    assert!(
        got["error"]
            .as_str()
            .unwrap()
            .contains("only with differential privacy"),
        "{got}"
    );

    // A party down before the query: a clear error within the bound, no answers.
    kill(&mut nodes, 2);
    let started = Instant::now();
    let (ok, got) = query(
        dir,
        0,
        researcher,
        &["--stat", "mean", "--indicator", "8867-4"],
    );
    assert!(!ok, "{got}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(got["status"] == 502 || got["status"] == 504, "{got}");
    assert!(
        got["error"].as_str().unwrap().contains("P2"),
        "names the party: {got}"
    );
    assert!(got.get("result").is_none(), "{got}");
    // Restarted, it serves the next query.
    nodes.start(dir, 2);
    for i in 0..3 {
        wait_healthy(&mut nodes, dir, i, 2);
    }
    let (ok, got) = query(
        dir,
        0,
        researcher,
        &["--stat", "mean", "--indicator", "8867-4"],
    );
    assert!(ok, "{got}");
    assert_eq!(
        got["fixed_point"]["result"]["Mean"]["sum"],
        hr.iter().sum::<i64>(),
        "{got}"
    );
}

/// One value of the synthetic cohort: patient, effective time, record id (as its home node
/// derives it), fixed-point value.
type CohortRow = (hdg_schema::Pseudonym, i64, RecordId, i64);

/// The synthetic cohort's values per indicator, each home node's file read with that node's
/// pseudonym key (so record ids, and the pairing's tie-break, are the nodes' own).
fn cohort_rows(files: &[(PathBuf, [u8; 32])]) -> BTreeMap<String, Vec<CohortRow>> {
    let mut out: BTreeMap<String, Vec<CohortRow>> = BTreeMap::new();
    for (path, key) in files {
        each_quantity(path, *key, |o, v| {
            out.entry(o.indicator.clone())
                .or_default()
                .push((o.patient, o.effective.0, o.id(), v));
        });
    }
    out
}

/// Pearson's r over each patient's latest x and latest y (latest effective time, then larger
/// record id), computed in f64 from the plaintext: the documented pairing rule, independently.
fn latest_pair_pearson(x: &[CohortRow], y: &[CohortRow]) -> (usize, f64, f64) {
    let latest = |rows: &[CohortRow]| {
        let mut m: BTreeMap<hdg_schema::Pseudonym, (i64, RecordId, i64)> = BTreeMap::new();
        for &(p, t, id, v) in rows {
            let e = m.entry(p).or_insert((t, id, v));
            if (t, id) > (e.0, e.1) {
                *e = (t, id, v);
            }
        }
        m
    };
    let (lx, ly) = (latest(x), latest(y));
    let pairs: Vec<(f64, f64)> = lx
        .iter()
        .filter_map(|(p, a)| ly.get(p).map(|b| (a.2 as f64, b.2 as f64)))
        .collect();
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let cov: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let vx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let vy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
    (pairs.len(), cov / (vx * vy).sqrt(), cov / (n - 1.0))
}

#[test]
fn a_synthetic_cohort_ingested_at_three_home_nodes_gives_the_plaintext_statistics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let files = synth_cohort(dir, 90, 11, 30);
    assert_eq!(files.len(), 3);
    init_cluster_for_bundles(dir);
    // Each node's pseudonym key, read before the node opens its store.
    let keyed: Vec<(PathBuf, [u8; 32])> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let store = open_store(dir, i);
            (f.clone(), store.pseudonym_key())
        })
        .collect();
    let plain = cohort_rows(&keyed);
    let mut nodes = Nodes::start_all(dir);
    for i in 0..3 {
        wait_healthy(&mut nodes, dir, i, 2);
    }
    // File i to home node i.
    for (i, file) in files.iter().enumerate() {
        ingest_file(dir, i, file);
    }
    for i in 0..3 {
        wait_outbox_empty(&mut nodes, dir, i);
    }
    let researcher = "research-institute.key";

    // Pearson BMI ~ HbA1c over all 90 patients, three home nodes' rows together.
    let (n, r, cov) = latest_pair_pearson(&plain["39156-5"], &plain["4548-4"]);
    assert!(n >= 80, "the cohort pairs most patients: {n}");
    let (ok, got) = query(
        dir,
        1,
        researcher,
        &[
            "--stat",
            "pearson",
            "--indicator",
            "39156-5",
            "--pair",
            "4548-4",
        ],
    );
    assert!(ok, "{got}");
    let p = &got["fixed_point"]["result"]["Pearson"];
    assert_eq!(p["n"], n as u64, "{got}");
    let got_r = p["r"].as_f64().unwrap();
    assert!((got_r - r).abs() < 1e-9, "MPC r {got_r} vs plaintext {r}");

    // Their covariance, the same pairs (fixed point of both: tenths of kg/m2 times tenths of %).
    let (ok, got) = query(
        dir,
        2,
        researcher,
        &[
            "--stat",
            "covariance",
            "--indicator",
            "39156-5",
            "--pair",
            "4548-4",
        ],
    );
    assert!(ok, "{got}");
    let c = &got["fixed_point"]["result"]["Covariance"];
    assert_eq!(c["n"], n as u64, "{got}");
    let got_cov = c["sample_covariance"].as_f64().unwrap();
    assert!(
        (got_cov - cov).abs() < 1e-9 * cov.abs().max(1.0),
        "MPC covariance {got_cov} vs plaintext {cov}"
    );
    // In the units: kg/m2 times %, divided by both scales.
    let figure = got["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "covariance")
        .unwrap()
        .clone();
    assert_eq!(figure["unit"], "(kg/m2).%", "{got}");
    assert!((figure["value"].as_f64().unwrap() - cov / 100.0).abs() < 1e-9 * cov.abs().max(1.0));

    // Mean and median of glucose over the three nodes' rows, within a time window.
    let from = Timestamp::parse_fhir("2015-01-01").unwrap().0;
    let glucose: Vec<i64> = plain["2339-0"]
        .iter()
        .filter(|r| r.1 >= from)
        .map(|r| r.3)
        .collect();
    assert!(glucose.len() >= 10 && glucose.len() < plain["2339-0"].len());
    let (ok, got) = query(
        dir,
        2,
        researcher,
        &[
            "--stat",
            "mean",
            "--indicator",
            "2339-0",
            "--from",
            "2015-01-01",
        ],
    );
    assert!(ok, "{got}");
    assert_eq!(
        got["fixed_point"]["result"]["Mean"]["n"],
        glucose.len() as u64,
        "{got}"
    );
    assert_eq!(
        got["fixed_point"]["result"]["Mean"]["sum"],
        glucose.iter().sum::<i64>(),
        "{got}"
    );
    let mut sorted = glucose.clone();
    sorted.sort_unstable();
    let (ok, got) = query(
        dir,
        0,
        researcher,
        &[
            "--stat",
            "median",
            "--indicator",
            "2339-0",
            "--from",
            "2015-01-01",
        ],
    );
    assert!(ok, "{got}");
    assert_eq!(
        got["fixed_point"]["result"]["OrderStatistic"]["value"],
        sorted[(sorted.len() - 1) / 2],
        "{got}"
    );
}
