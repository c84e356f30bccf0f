//! Every exact statistic of a live three-node cluster against numpy and scipy on the same data:
//! a synthetic cohort posted to its three home nodes, each query asked with `hdg query`, and the
//! same statistic computed by `tests/reference/statistics.py` from the cohort's rows, with the
//! selection rules written again there. The Python comes from `HDG_PYTHON` (set by `./run
//! test`) or the venv `./run deps` makes; it needs numpy and scipy.

mod common;

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use hdg_schema::{Catalog, Format, ImportOptions, Mode, Value as ObsValue, import};
use serde_json::{Value, json};

/// The interpreter with numpy and scipy.
fn python() -> PathBuf {
    let python = std::env::var_os("HDG_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/hdg-python-venv/bin/python"));
    let ok = Command::new(&python)
        .args(["-c", "import numpy, scipy"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} has no numpy and scipy: run ./run deps (or set HDG_PYTHON to a Python that has them)",
        python.display()
    );
    python
}

/// The cohort's numeric rows as the nodes hold them, one CSV line each:
/// `indicator,patient,day,handle,value` (file k read with its home node's keys, node k mod 3).
fn write_rows(files: &[PathBuf], dir: &Path, out: &Path) {
    let mut csv = String::from("indicator,patient,day,handle,value\n");
    for (k, path) in files.iter().enumerate() {
        let store = open_store(dir, k % 3);
        let opts = ImportOptions {
            mode: Mode::Strict,
            pseudonym_key: store.pseudonym_key(),
            catalog: Catalog::builtin(),
            enrolled: None,
        };
        let reader = BufReader::new(std::fs::File::open(path).unwrap());
        let name = path.display().to_string();
        let report = import(reader, Format::Ndjson, &name, &opts, &mut |o| {
            if let ObsValue::Quantity(v) = o.value {
                csv.push_str(&format!(
                    "{},{},{},{},{v}\n",
                    o.indicator,
                    hex::encode(o.patient.0),
                    o.effective.utc_day().0,
                    hex::encode(store.handle(&o.id()).0),
                ));
            }
        })
        .unwrap();
        assert!(report.rejected.is_empty(), "{name}: rejected entries");
    }
    std::fs::write(out, csv).unwrap();
}

/// A question: its name, the `hdg query` arguments and what the reference is told.
struct Question {
    name: &'static str,
    args: Vec<&'static str>,
    reference: Value,
}

fn questions() -> Vec<Question> {
    let q = |name, args: &[&'static str], reference: Value| {
        let mut reference = reference;
        reference["name"] = json!(name);
        Question {
            name,
            args: args.to_vec(),
            reference,
        }
    };
    vec![
        q(
            "mean",
            &["--stat", "mean", "--indicator", "8480-6"],
            json!({"stat": "mean", "indicator": "8480-6"}),
        ),
        q(
            "variance",
            &["--stat", "variance", "--indicator", "8480-6"],
            json!({"stat": "variance", "indicator": "8480-6"}),
        ),
        q(
            "median",
            &["--stat", "median", "--indicator", "8867-4"],
            json!({"stat": "median", "indicator": "8867-4"}),
        ),
        q(
            "quantile",
            &[
                "--stat",
                "quantile",
                "--quantile",
                "0.9",
                "--indicator",
                "8867-4",
            ],
            json!({"stat": "quantile", "q": 0.9, "indicator": "8867-4"}),
        ),
        q(
            "min",
            &["--stat", "min", "--indicator", "2339-0"],
            json!({"stat": "min", "indicator": "2339-0"}),
        ),
        q(
            "max",
            &["--stat", "max", "--indicator", "2339-0"],
            json!({"stat": "max", "indicator": "2339-0"}),
        ),
        q(
            "histogram",
            &[
                "--stat",
                "histogram",
                "--edges",
                "70,100,126,200",
                "--indicator",
                "2339-0",
            ],
            json!({"stat": "histogram", "edges": [700, 1000, 1260, 2000], "indicator": "2339-0"}),
        ),
        q(
            "filtered mean",
            &[
                "--stat",
                "mean",
                "--where",
                "value > 126",
                "--indicator",
                "2339-0",
            ],
            json!({"stat": "filtered_mean", "threshold": 1260, "indicator": "2339-0"}),
        ),
        q(
            "covariance",
            &[
                "--stat",
                "covariance",
                "--pair",
                "4548-4",
                "--indicator",
                "39156-5",
            ],
            json!({"stat": "covariance", "pair": "4548-4", "indicator": "39156-5"}),
        ),
        q(
            "pearson",
            &[
                "--stat",
                "pearson",
                "--pair",
                "4548-4",
                "--indicator",
                "39156-5",
            ],
            json!({"stat": "pearson", "pair": "4548-4", "indicator": "39156-5"}),
        ),
        q(
            "regression",
            &[
                "--stat",
                "regression",
                "--predictor",
                "39156-5",
                "--predictor",
                "4548-4",
                "--indicator",
                "8480-6",
            ],
            json!({"stat": "regression", "predictors": ["39156-5", "4548-4"], "indicator": "8480-6"}),
        ),
    ]
}

/// Relative closeness of two floating-point figures.
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

fn assert_close(name: &str, got: &Value, want: &Value) {
    let (g, w) = (got.as_f64(), want.as_f64());
    assert!(
        g.zip(w).is_some_and(|(g, w)| close(g, w)),
        "{name}: MPC {got} vs numpy {want}"
    );
}

/// Compares the cluster's exact answer (`fixed_point.result`) with the reference's figures.
fn compare(name: &str, result: &Value, reference: &Value) {
    let (kind, r) = result
        .as_object()
        .and_then(|o| o.iter().next())
        .unwrap_or_else(|| panic!("{name}: no result in {result}"));
    match kind.as_str() {
        "Mean" => {
            assert_eq!(r["n"], reference["n"], "{name}");
            assert_close(name, &r["mean"], &reference["mean"]);
        }
        "Variance" => {
            assert_eq!(r["n"], reference["n"], "{name}");
            assert_close(name, &r["sample_variance"], &reference["variance"]);
        }
        "OrderStatistic" => assert_close(name, &r["value"], &reference["value"]),
        "Histogram" => assert_eq!(r["counts"], reference["counts"], "{name}"),
        "FilteredMean" => {
            assert_eq!(r["count"], reference["count"], "{name}");
            assert_close(name, &r["mean"], &reference["mean"]);
        }
        "Covariance" => {
            assert_eq!(r["n"], reference["n"], "{name}");
            assert_close(name, &r["sample_covariance"], &reference["covariance"]);
        }
        "Pearson" => {
            assert_eq!(r["n"], reference["n"], "{name}");
            assert_close(name, &r["r"], &reference["r"]);
        }
        "LinearRegression" => {
            assert_eq!(r["n"], reference["n"], "{name}");
            for field in ["coefficients", "standard_errors"] {
                let (got, want) = (
                    r[field].as_array().unwrap(),
                    reference[field].as_array().unwrap(),
                );
                assert_eq!(got.len(), want.len(), "{name} {field}");
                for (g, w) in got.iter().zip(want) {
                    assert_close(&format!("{name} {field}"), g, w);
                }
            }
            assert_close(name, &r["r_squared"], &reference["r_squared"]);
        }
        other => panic!("{name}: unexpected answer {other}: {result}"),
    }
}

#[test]
fn every_exact_statistic_equals_numpy_and_scipy_on_the_same_rows() {
    let python = python();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cohort = dir.join("cohort");
    let out = hdg(&[
        "synth",
        "--patients",
        "120",
        "--seed",
        "23",
        "--per-file",
        "20",
        "--out",
        cohort.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cohort)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 6);
    // An exact cluster with the default body limit (the cohort's files are a few MB each).
    let (ok, text) = hdg_text(&[
        "init",
        "--cluster",
        dir.to_str().unwrap(),
        "--without-consent",
        "--privacy",
        "exact",
    ]);
    assert!(ok, "{text}");
    let rows = dir.join("rows.csv");
    write_rows(&files, dir, &rows);

    let mut nodes = Nodes::start_healthy(dir);
    for (k, file) in files.iter().enumerate() {
        let i = k % 3;
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
    for i in 0..3 {
        wait_outbox_empty(&mut nodes, dir, i);
    }

    let questions = questions();
    let asked = dir.join("questions.json");
    let mut f = std::fs::File::create(&asked).unwrap();
    let list: Vec<&Value> = questions.iter().map(|q| &q.reference).collect();
    f.write_all(serde_json::to_string(&list).unwrap().as_bytes())
        .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/statistics.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&rows)
        .arg(&asked)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: Value = serde_json::from_slice(&out.stdout).unwrap();

    let researcher = dir.join("identities/research-institute.key");
    for (k, q) in questions.iter().enumerate() {
        let mut args = vec!["--json"];
        args.extend(&q.args);
        let (ok, text) = hdg_query(dir, k % 3, &researcher, &args);
        assert!(ok, "{}: {text}", q.name);
        let got: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        compare(q.name, &got["fixed_point"]["result"], &reference[q.name]);
    }
}
