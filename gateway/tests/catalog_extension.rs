//! A cluster's catalog extension, end to end: `hdg init --catalog-extension` puts the local
//! codes in every node's catalog and the cluster file's; records in a local code are imported,
//! shared and answered like built-in ones, in their unit; a node whose extension differs makes
//! every party refuse to compute, naming the catalog; a bad extension is refused at init.

mod common;

use common::*;

const LOCAL: &str = "http://hospital.example/codes|FEV1PCT";
const HEART_RATE: &str = "8867-4";

const EXTENSION: &str = r#"
[[indicator]]
code = "http://hospital.example/codes|FEV1PCT"
display = "FEV1, percent of predicted (local code)"
unit = "%"
precision = 0
min = "10"
max = "150"
units = [{ unit = "1", factor = "100" }]
"#;

fn init_with_extension(dir: &std::path::Path, extension: &std::path::Path) -> (bool, String) {
    hdg_text(&[
        "init",
        "--cluster",
        dir.to_str().unwrap(),
        "--without-consent",
        "--privacy",
        "exact",
        "--catalog-extension",
        extension.to_str().unwrap(),
    ])
}

#[test]
fn local_codes_are_imported_shared_and_answered_and_a_differing_catalog_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let extension = tmp.path().join("local-codes.toml");
    std::fs::write(&extension, EXTENSION).unwrap();
    let dir = tmp.path().join("cluster");
    let (ok, out) = init_with_extension(&dir, &extension);
    assert!(ok, "{out}");
    for i in 0..3 {
        let config = std::fs::read_to_string(dir.join(format!("node{i}.toml"))).unwrap();
        assert!(
            config.contains("catalog_extension = \"catalog-extension.toml\""),
            "{config}"
        );
    }
    let mut nodes = Nodes::start_healthy(&dir);

    // Twelve patients' FEV1 in the local code (one given as a ratio, converted), and their
    // heart rates, at node0.
    let fev1: Vec<i64> = (0..12).map(|p| 55 + 4 * p).collect();
    let mut csv = String::from("patient,indicator,value,unit,effective,source\n");
    for (p, v) in fev1.iter().enumerate() {
        let (value, unit) = if p == 0 {
            (format!("{}", *v as f64 / 100.0), "1")
        } else {
            (v.to_string(), "%")
        };
        csv.push_str(&format!(
            "p-{p},{LOCAL},{value},{unit},2024-05-0{},lab\n",
            1 + p % 9
        ));
        csv.push_str(&format!(
            "p-{p},{HEART_RATE},{},/min,2024-05-01,ward\n",
            60 + p
        ));
    }
    let (status, receipt) = post_observations(&dir, 0, "", "text/csv", csv.as_bytes());
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["accepted"], 24, "{receipt}");
    wait_outbox_empty(&mut nodes, &dir, 0);

    let researcher = dir.join("identities/research-institute.key");
    let (ok, got) = hdg_query(
        &dir,
        1,
        &researcher,
        &["--stat", "mean", "--indicator", LOCAL, "--json"],
    );
    assert!(ok, "{got}");
    let got: serde_json::Value = serde_json::from_str(got.lines().next().unwrap()).unwrap();
    let mean = &got["fixed_point"]["result"]["Mean"];
    assert_eq!(mean["n"], 12, "{got}");
    assert_eq!(mean["sum"], fev1.iter().sum::<i64>(), "{got}");
    assert_eq!(got["unit"], "%", "{got}");

    // node2 runs with another extension (one more local code): every party refuses to compute,
    // on a built-in indicator too, naming the catalog.
    let other = dir.join("other-extension.toml");
    let more = EXTENSION.to_owned() + &EXTENSION.replace("FEV1PCT", "FVCPCT");
    std::fs::write(&other, more).unwrap();
    nodes.terminate(2, std::time::Duration::from_secs(20));
    set_config(
        &dir,
        2,
        &[("catalog_extension", "\"other-extension.toml\"")],
    );
    nodes.start(&dir, 2);
    for i in 0..3 {
        wait_healthy(&mut nodes, &dir, i, 2);
    }
    for code in [LOCAL, HEART_RATE] {
        let (ok, got) = hdg_query(
            &dir,
            0,
            &researcher,
            &["--stat", "mean", "--indicator", code],
        );
        assert!(!ok, "{got}");
        assert!(got.contains("another catalog"), "{code}: {got}");
    }
}

#[test]
fn a_bad_extension_is_refused_at_init_naming_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    for (text, named) in [
        (
            EXTENSION.replace(LOCAL, "8480-6"),
            "8480-6 is defined more than once",
        ),
        (
            EXTENSION.replace("min = \"10\"", "min = \"200\""),
            "min is above max",
        ),
        ("[[indicator]]\ncode = 5\n".to_owned(), "not valid TOML"),
    ] {
        let extension = tmp.path().join("bad.toml");
        std::fs::write(&extension, &text).unwrap();
        let dir = tmp.path().join("cluster");
        let (ok, out) = init_with_extension(&dir, &extension);
        assert!(!ok, "{out}");
        assert!(out.contains(named), "{named}: {out}");
        assert!(out.contains("bad.toml"), "{out}");
        assert!(!dir.exists(), "nothing written for a refused extension");
    }
}
