//! Every exact statistic of a live three-node cluster against numpy and scipy on the same data:
//! a synthetic cohort posted to its three home nodes, each query asked with `hdg query`, and the
//! same statistic computed by `tests/reference/statistics.py` from the cohort's rows, with the
//! selection rules written again there. The Python comes from `HDG_PYTHON` (set by `./run
//! test`) or the venv `./run deps` makes; it needs numpy and scipy.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
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
        each_quantity(path, store.pseudonym_key(), |o, v| {
            csv.push_str(&format!(
                "{},{},{},{},{v}\n",
                o.indicator,
                hex::encode(o.patient.0),
                o.effective.utc_day().0,
                hex::encode(store.handle(&o.id()).0),
            ));
        });
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

/// A cluster of `privacy` ("exact" or "dp", the latter allowing epsilon up to 100) holding a
/// synthetic cohort of 120 patients posted to three home nodes, with the rows file of the
/// reference. The nodes run until the returned [`Nodes`] is dropped.
fn cohort_cluster(dir: &Path, privacy: &str) -> (Nodes, PathBuf) {
    let files = synth_cohort(dir, 120, 23, 20);
    assert_eq!(files.len(), 6);
    // The default body limit (the cohort's files are a few MB each).
    let (ok, text) = hdg_text(&[
        "init",
        "--cluster",
        dir.to_str().unwrap(),
        "--without-consent",
        "--privacy",
        privacy,
    ]);
    assert!(ok, "{text}");
    if privacy == "dp" {
        for i in 0..3 {
            set_config(
                dir,
                i,
                &[
                    ("dp_max_epsilon", "100.0"),
                    ("dp_budget_epsilon", "10000.0"),
                ],
            );
        }
    }
    let rows = dir.join("rows.csv");
    write_rows(&files, dir, &rows);

    let mut nodes = Nodes::start_healthy(dir);
    for (k, file) in files.iter().enumerate() {
        ingest_file(dir, k % 3, file);
    }
    for i in 0..3 {
        wait_outbox_empty(&mut nodes, dir, i);
    }
    (nodes, rows)
}

/// The reference's answers to `questions` over `rows`, by question name.
fn reference(dir: &Path, rows: &Path, questions: &[Question]) -> Value {
    let python = python();
    let asked = dir.join("questions.json");
    let list: Vec<&Value> = questions.iter().map(|q| &q.reference).collect();
    std::fs::File::create(&asked)
        .unwrap()
        .write_all(serde_json::to_string(&list).unwrap().as_bytes())
        .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/statistics.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(rows)
        .arg(&asked)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `hdg query --json` of question `k` at node k mod 3: the answer's fixed-point result.
fn ask(dir: &Path, k: usize, q: &Question) -> Value {
    let researcher = dir.join("identities/research-institute.key");
    let mut args = vec!["--json"];
    args.extend(&q.args);
    let (ok, text) = hdg_query(dir, k % 3, &researcher, &args);
    assert!(ok, "{}: {text}", q.name);
    let got: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    got["fixed_point"]["result"].clone()
}

#[test]
fn every_exact_statistic_equals_numpy_and_scipy_on_the_same_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_nodes, rows) = cohort_cluster(dir, "exact");
    let questions = questions();
    let reference = reference(dir, &rows, &questions);
    for (k, q) in questions.iter().enumerate() {
        compare(q.name, &ask(dir, k, q), &reference[q.name]);
    }
}

/// The private statistics whose formulas are more than a sum: the two-group comparison against
/// scipy's Welch test (`ttest_ind(equal_var=False)`: t and its degrees of freedom), the
/// regression against numpy's least squares, and both a mean and a regression in a cohort chosen
/// by another indicator (BMI over 30), each patient's latest values clipped as the query asks. At epsilon 100 the noise is small; each estimate must be within 4 of its noise sds
/// (narrow enough to tell Welch from Student: with the pooled test's degrees of freedom, 118
/// here against Welch's 67, noise sd 3.6, it fails).
#[test]
fn private_two_groups_regression_and_cohorts_equal_scipy_within_their_noise() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_nodes, rows) = cohort_cluster(dir, "dp");
    let q = |name, args: &[&'static str], reference: Value| {
        let mut reference = reference;
        reference["name"] = json!(name);
        let mut args = args.to_vec();
        args.extend(["--epsilon", "100"]);
        Question {
            name,
            args,
            reference,
        }
    };
    let questions = [
        q(
            "two groups",
            &[
                "--stat",
                "two-groups",
                "--indicator",
                "4548-4",
                "--clip",
                "4.5..8.5",
                "--by",
                "39156-5",
                "--where",
                "value > 30",
            ],
            json!({"stat": "two_groups", "indicator": "4548-4", "clip": [45, 85],
                   "by": "39156-5", "threshold": 300}),
        ),
        q(
            "private regression",
            &[
                "--stat",
                "regression",
                "--indicator",
                "8480-6",
                "--clip",
                "90..180",
                "--predictor",
                "39156-5:18..40",
                "--predictor",
                "4548-4:4.5..8.5",
            ],
            json!({"stat": "regression", "indicator": "8480-6", "clip": [900, 1800],
                   "predictors": ["39156-5", "4548-4"], "predictor_clips": [[180, 400], [45, 85]]}),
        ),
        q(
            "cohort mean",
            &[
                "--stat",
                "mean",
                "--indicator",
                "4548-4",
                "--clip",
                "4.5..8.5",
                "--by",
                "39156-5",
                "--where",
                "value > 30",
            ],
            json!({"stat": "cohort_mean", "indicator": "4548-4", "clip": [45, 85],
                   "cohort": {"by": "39156-5", "threshold": 300}}),
        ),
        q(
            "cohort regression",
            &[
                "--stat",
                "regression",
                "--indicator",
                "8480-6",
                "--clip",
                "90..180",
                "--predictor",
                "4548-4:4.5..8.5",
                "--by",
                "39156-5",
                "--where",
                "value > 30",
            ],
            json!({"stat": "regression", "indicator": "8480-6", "clip": [900, 1800],
                   "predictors": ["4548-4"], "predictor_clips": [[45, 85]],
                   "cohort": {"by": "39156-5", "threshold": 300}}),
        ),
    ];
    let reference = reference(dir, &rows, &questions);
    for (k, q) in questions.iter().enumerate() {
        let got = ask(dir, k, q);
        let estimates = got["Private"]["estimates"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: not private: {got}", q.name));
        let want = reference[q.name].as_object().unwrap();
        for e in estimates {
            let name = e["name"].as_str().unwrap();
            let w = want
                .get(name)
                .and_then(Value::as_f64)
                .unwrap_or_else(|| panic!("{}: the reference has no {name}", q.name));
            let (v, sd) = (
                e["value"].as_f64().unwrap(),
                e["noise_sd"].as_f64().unwrap(),
            );
            assert!(
                (v - w).abs() <= 4.0 * sd + 1e-9 * w.abs().max(1.0),
                "{} {name}: private {v} (noise sd {sd}) vs scipy {w}",
                q.name
            );
        }
        assert_eq!(estimates.len(), want.len(), "{}: {got}", q.name);
    }
}
