//! The `hdg` command line, run as a user would: exit codes, JSON shapes, and error messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hdg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hdg"))
        .args(args)
        .output()
        .expect("hdg runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn synthea(i: usize) -> String {
    let p = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo, which sets CARGO_MANIFEST_DIR"),
    )
    .join(format!("../../shared/data/synthea/patient-{i}.json"));
    p.display().to_string()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

const BAD_UNIT: &str = r#"{"resourceType":"Observation","status":"final",
 "code":{"coding":[{"system":"http://loinc.org","code":"2339-0"}]},
 "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-02T03:04:05Z",
 "valueQuantity":{"value":5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}"#;

const GOOD: &str = r#"{"resourceType":"Observation","status":"final",
 "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
 "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-02T03:04:05Z",
 "valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}"#;

#[test]
fn import_check_json_reports_synthea_bundles_clean() {
    let files: Vec<String> = (0..5).map(synthea).collect();
    let mut args = vec!["import", "--check", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = hdg(&args);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["rejected"].as_array().unwrap().is_empty());
    let hba1c = report["accepted_by_indicator"]["4548-4"]
        .as_u64()
        .unwrap_or(0);
    let heart = report["accepted_by_indicator"]["8867-4"].as_u64().unwrap();
    assert!(heart > 0 && hba1c > 0, "{report}");
    assert!(report["non_numeric"].as_u64().unwrap() > 0);
}

#[test]
fn strict_check_fails_on_a_bad_entry_and_lenient_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.ndjson",
        &format!(
            "{}\n{}\n",
            GOOD.replace('\n', ""),
            BAD_UNIT.replace('\n', "")
        ),
    );
    let strict = hdg(&["import", "--check", "--json", &bad]);
    assert!(!strict.status.success());
    let report: serde_json::Value = serde_json::from_slice(&strict.stdout).unwrap();
    let rejected = &report["rejected"][0];
    assert_eq!(rejected["file"], bad.as_str());
    assert!(
        rejected["field"]
            .as_str()
            .unwrap()
            .contains("valueQuantity"),
        "{rejected}"
    );
    assert!(
        rejected["reason"].as_str().unwrap().contains("kg"),
        "{rejected}"
    );

    let lenient = hdg(&["import", "--check", "--json", "--lenient", &bad]);
    assert!(lenient.status.success(), "{}", text(&lenient));
    let report: serde_json::Value = serde_json::from_slice(&lenient.stdout).unwrap();
    assert_eq!(report["accepted_by_indicator"]["8867-4"], 1);
    assert_eq!(report["rejected"].as_array().unwrap().len(), 1);
}

#[test]
fn malformed_json_is_an_error_with_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "broken.json",
        r#"{"resourceType":"Bundle","entry":[{"resource": }]}"#,
    );
    let out = hdg(&["import", "--check", &f]);
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(msg.contains("broken.json"), "{msg}");
    assert!(msg.contains("column") || msg.contains("offset"), "{msg}");
}

#[test]
fn ingest_prove_and_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let data = data.to_str().unwrap();
    // The store's keyring is sealed under a key file outside its data folder.
    let key_file = dir.path().join("node.key");
    let kf = key_file.to_str().unwrap();
    let out = hdg(&[
        "ingest",
        "--json",
        "--key-file",
        kf,
        "--data",
        data,
        &synthea(0),
        &synthea(1),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = lines[0]["records"][0]["record_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(first.len(), 64);
    assert!(
        first
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    let key = String::from_utf8(hdg(&["key", "--key-file", kf, "--data", data]).stdout).unwrap();
    let key = key.trim();
    let proof = hdg(&[
        "proof",
        "--key-file",
        kf,
        "--data",
        data,
        "--record",
        &first,
    ]);
    assert!(proof.status.success(), "{}", text(&proof));
    let proof_file = write(
        dir.path(),
        "proof.json",
        &String::from_utf8(proof.stdout).unwrap(),
    );
    let ok = hdg(&["proof", "--verify", &proof_file, "--key", key]);
    assert!(ok.status.success(), "{}", text(&ok));

    let mut tampered: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&proof_file).unwrap()).unwrap();
    let leaf = tampered["leaf"].as_str().unwrap().to_owned();
    let flipped = if leaf.ends_with('0') { "1" } else { "0" };
    tampered["leaf"] = serde_json::json!(format!("{}{flipped}", &leaf[..leaf.len() - 1]));
    let bad_file = write(dir.path(), "bad-proof.json", &tampered.to_string());
    let bad = hdg(&["proof", "--verify", &bad_file, "--key", key]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("FAILED"), "{}", text(&bad));

    let verify = hdg(&["verify", "--key-file", kf, "--data", data]);
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(text(&verify).starts_with("ok:"), "{}", text(&verify));
    let again = hdg(&[
        "ingest",
        "--json",
        "--key-file",
        kf,
        "--data",
        data,
        &synthea(0),
    ]);
    assert!(again.status.success());
    assert!(again.stdout.is_empty(), "re-ingest writes nothing new");
}

#[test]
fn unknown_record_and_bad_ids_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let data = data.to_str().unwrap();
    // The store's keyring is sealed under a key file outside its data folder.
    let key_file = dir.path().join("node.key");
    let kf = key_file.to_str().unwrap();
    let made = hdg(&["ingest", "--key-file", kf, "--data", data, &synthea(0)]);
    assert!(made.status.success(), "{}", text(&made));
    let unlocked = hdg(&["proof", "--data", data, "--record", &"ab".repeat(32)]);
    assert!(!unlocked.status.success());
    assert!(
        text(&unlocked).contains("--key-file"),
        "{}",
        text(&unlocked)
    );
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, "07".repeat(32)).unwrap();
    let out = hdg(&[
        "proof",
        "--key-file",
        wrong.to_str().unwrap(),
        "--data",
        data,
        "--record",
        &"ab".repeat(32),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("wrong key"), "{}", text(&out));
    let out = hdg(&[
        "proof",
        "--key-file",
        kf,
        "--data",
        data,
        "--record",
        &"ab".repeat(32),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("not in the store"), "{}", text(&out));
    let out = hdg(&[
        "history",
        "--key-file",
        kf,
        "--data",
        data,
        "--record",
        "xyz",
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("64 lowercase hex"), "{}", text(&out));
}

#[test]
fn history_then_erase_shreds_the_patient_and_the_store_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let data = data.to_str().unwrap();
    // The store's keyring is sealed under a key file outside its data folder.
    let key_file = dir.path().join("node.key");
    let kf = key_file.to_str().unwrap();
    let out = hdg(&[
        "ingest",
        "--json",
        "--key-file",
        kf,
        "--data",
        data,
        &synthea(2),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    let record = first["records"][0]["record_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let history = hdg(&[
        "history",
        "--key-file",
        kf,
        "--data",
        data,
        "--record",
        &record,
    ]);
    assert!(history.status.success(), "{}", text(&history));
    let line = String::from_utf8(history.stdout).unwrap();
    assert!(line.starts_with(&format!("* {record}")), "{line}");
    let patient = line.split_whitespace().last().unwrap().to_owned();
    assert_eq!(patient.len(), 64);

    let erase = hdg(&[
        "erase",
        "--key-file",
        kf,
        "--data",
        data,
        "--patient",
        &patient,
    ]);
    assert!(erase.status.success(), "{}", text(&erase));
    let gone = hdg(&[
        "history",
        "--key-file",
        kf,
        "--data",
        data,
        "--record",
        &record,
    ]);
    assert!(!gone.status.success());
    assert!(text(&gone).contains("was erased"), "{}", text(&gone));
    let again = hdg(&[
        "erase",
        "--key-file",
        kf,
        "--data",
        data,
        "--patient",
        &patient,
    ]);
    assert!(!again.status.success());
    let verify = hdg(&["verify", "--key-file", kf, "--data", data]);
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(text(&verify).contains("shredded"), "{}", text(&verify));
}

#[test]
fn the_demo_runs_a_three_node_cluster_and_every_result_agrees_with_plaintext() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    // A small cohort: four times the default epsilon keeps the answers readable (an estimate
    // the noise leaves undefined is printed as such).
    let out = hdg(&[
        "demo",
        "--patients",
        "300",
        "--epsilon",
        "4",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // Nine sample statistics, each printed beside its plaintext value and agreeing.
    let agreeing = t.lines().filter(|l| l.contains(" yes ")).count();
    assert_eq!(agreeing, 9, "{t}");
    assert!(!t.contains(" NO "), "{t}");
    // Three nodes stopped cleanly and verified, every value shared to every party.
    for i in 0..3 {
        assert!(t.contains(&format!("node{i}: ledger of")), "{t}");
        let log = std::fs::read_to_string(dir.join(format!("cluster/node{i}.log"))).unwrap();
        assert!(log.contains("stopped: store closed"), "node{i}: {log}");
    }
    assert_eq!(t.matches("share rows against their receipts").count(), 3);
    assert!(t.contains("verified offline with the vkey"), "{t}");
}

#[test]
fn the_demo_runs_on_a_consortium_of_five_hospitals_and_every_result_agrees_with_plaintext() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = hdg(&[
        "demo",
        "--hospitals",
        "5",
        "--patients",
        "300",
        "--epsilon",
        "4",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("5 node processes (5 hospitals, three computing parties)"),
        "{t}"
    );
    assert!(t.contains("node4 (hospital): HTTP"), "{t}");
    // The nine statistics over the five hospitals' rows agree with the plaintext.
    assert_eq!(t.lines().filter(|l| l.contains(" yes ")).count(), 9, "{t}");
    assert!(!t.contains(" NO "), "{t}");
    // Five stores verified; nodes 3 and 4 hold records but no share row.
    for i in 0..5 {
        assert!(t.contains(&format!("node{i}: ledger of")), "{t}");
    }
    for i in 3..5 {
        assert!(
            t.lines()
                .any(|l| l.starts_with(&format!("node{i}: ledger of"))
                    && l.contains(" 0 share rows")),
            "{t}"
        );
    }
}

#[test]
fn the_consent_demo_uses_only_consented_rows_and_shows_a_revocation_in_the_audit() {
    // 600 patients, so the 360 who grant are a cohort as large as the plain demo test's (with
    // fewer, the noise often leaves the BMI > 30 regression's estimates degenerate). A private
    // answer lands outside four noise deviations of the plaintext by chance (about one run in
    // twenty here: 40-odd estimates, some noise spreads from a bootstrap around the noisy
    // value); such a run is repeated once, any other failure is not.
    let run = || {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let out = hdg(&[
            "demo",
            "--consent",
            "--patients",
            "600",
            "--epsilon",
            "4",
            "--dir",
            dir.to_str().unwrap(),
        ]);
        (out.status.success(), text(&out))
    };
    let (mut ok, mut t) = run();
    if !ok && t.contains(" NO ") {
        (ok, t) = run();
    }
    assert!(ok, "{t}");
    assert!(
        t.contains("360 of 600 patients granted research use"),
        "{t}"
    );
    // The nine statistics agree with the plaintext of the granting patients' rows only.
    assert_eq!(t.lines().filter(|l| l.contains(" yes ")).count(), 9, "{t}");
    assert!(!t.contains(" NO "), "{t}");
    // The revoking patient's audit: the query before, at every node; the one after, nowhere.
    assert!(
        t.contains("the query before the revocation is in the ledger of 3 of 3 nodes as using their rows, the query after it in 0"),
        "{t}"
    );
    assert_eq!(t.matches("share rows against their receipts").count(), 3);
}

#[test]
fn bench_cluster_runs_every_workload_between_three_processes_and_checks_it() {
    let out = hdg(&[
        "bench", "cluster", "--n", "2000,3e3", "--ingest", "1000", "--reps", "1", "--no-spu",
        "--json",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // One JSON line per n, in order; the ingest figures in the first.
    let reports: Vec<serde_json::Value> = t
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 2, "{t}");
    assert_eq!(reports[0]["n"], 2000);
    assert_eq!(reports[1]["n"], 3000);
    assert!(reports[1]["ingest"].is_null());
    let report = &reports[0];
    let workloads = reports
        .iter()
        .flat_map(|r| r["workloads"].as_array().unwrap().clone())
        .collect::<Vec<_>>();
    assert_eq!(workloads.len(), 10, "{t}");
    for w in &workloads {
        assert_eq!(w["correct"], true, "{w}");
        // Each party measured its peak memory (Linux), at least its binary's resident pages.
        for peak in w["peak_rss_bytes_per_party"].as_array().unwrap() {
            assert!(peak.as_u64().unwrap() > 1 << 20, "{w}");
        }
        // Over QUIC the parties send exactly the protocols' byte count.
        assert_eq!(
            w["bytes_sent_per_party"], w["theoretical_bytes_per_party"],
            "{w}"
        );
    }
    let ingest = &report["ingest"];
    assert!(ingest["observations"].as_u64().unwrap() >= 1000, "{ingest}");
    assert!(ingest["shared_per_second"].as_f64().unwrap() > 0.0);
    assert!(report["spu"].as_str().unwrap().contains("--no-spu"));
}

/// `hdg identity new` makes a key nobody else can read and prints its public key and registry
/// entry; `show` prints the same public key for the file; a second `new` to the same path and an
/// unknown role are refused with the reason.
#[test]
fn identity_new_writes_a_private_key_that_show_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("patient-7.key");
    let key_arg = key.to_str().unwrap();
    let made = hdg(&["identity", "new", "--role", "patient", "--out", key_arg]);
    let made_text = text(&made);
    assert!(made.status.success(), "{made_text}");
    let public = |t: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix("public key: "))
            .unwrap_or_else(|| panic!("no public key in {t}"))
            .to_owned()
    };
    assert!(made_text.contains("name = \"patient-7\""), "{made_text}");
    assert!(made_text.contains("role = \"patient\""), "{made_text}");
    let shown = hdg(&["identity", "show", key_arg]);
    assert!(shown.status.success(), "{}", text(&shown));
    assert_eq!(public(&text(&shown)), public(&made_text));
    assert_eq!(public(&made_text).len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let again = hdg(&["identity", "new", "--role", "patient", "--out", key_arg]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("never overwritten"),
        "{}",
        text(&again)
    );
    let other = tmp.path().join("x.key");
    let bad = hdg(&[
        "identity",
        "new",
        "--role",
        "doctor",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("unknown role \"doctor\""),
        "{}",
        text(&bad)
    );
    assert!(!other.exists());
}
