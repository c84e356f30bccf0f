//! A cluster whose patients can consent: Synthea patients enrolled at node 0 with their own keys
//! (and registered as patients with the cluster), the cluster's minimum cohort lowered to 2, and
//! the helpers that read what a bundle holds and count what a query sees.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use hdg_schema::{Catalog, Format, ImportOptions, Mode, RecordId, Value as ObsValue, import};
use serde_json::Value;

use super::{hdg_at, hdg_query, hdg_text, http_addr, patient_0};

/// A Synthea bundle of the shared data by file name (`patient-2.json`).
pub fn synthea_bundle(name: &str) -> Vec<u8> {
    std::fs::read(patient_0().replace("patient-0.json", name)).unwrap()
}

/// The `Patient/{id}` reference of a bundle's patient (what the importer pseudonymises).
pub fn patient_reference(bundle: &[u8]) -> String {
    let json: Value = serde_json::from_slice(bundle).unwrap();
    let patient = json["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Patient")
        .expect("the bundle has a Patient");
    format!("Patient/{}", patient["id"].as_str().unwrap())
}

/// Numeric observations of `indicator` in a bundle, once per record, read straight from it.
pub fn numeric_count(bundle: &[u8], indicator: &str) -> u64 {
    let opts = ImportOptions {
        mode: Mode::Strict,
        pseudonym_key: [3; 32],
        catalog: Catalog::builtin(),
        enrolled: None,
    };
    let mut ids: BTreeSet<RecordId> = BTreeSet::new();
    import(
        Cursor::new(bundle),
        Format::FhirJson,
        "b",
        &opts,
        &mut |o| {
            if o.indicator == indicator && matches!(o.value, ObsValue::Quantity(_)) {
                ids.insert(o.id());
            }
        },
    )
    .unwrap();
    ids.len() as u64
}

/// A consent-requiring cluster written to `dir` (`hdg init`) whose node 0 enrols the patients of
/// the shared Synthea bundles `names` ([`enrol_at_node0`]); not started. The bundles and the
/// patients' key files, in `names` order.
pub fn consented_cluster(dir: &Path, names: &[&str]) -> (Vec<Vec<u8>>, Vec<PathBuf>) {
    super::init_cluster(dir);
    let bundles: Vec<Vec<u8>> = names.iter().map(|n| synthea_bundle(n)).collect();
    let keys = enrol_at_node0(dir, &bundles);
    (bundles, keys)
}

/// Enrols the patients of `bundles` at node 0 of the (not yet started) cluster in `dir`, each
/// with a key of their own written to `dir/patient-{a,b,c,...}.key`, registers those keys as
/// patients with the cluster, and lowers every node's minimum cohort to 2. The key files, in
/// bundle order.
pub fn enrol_at_node0(dir: &Path, bundles: &[Vec<u8>]) -> Vec<PathBuf> {
    let keys = register_patients(dir, bundles.len());
    let mut enrolments = String::new();
    for (body, key) in bundles.iter().zip(&keys) {
        let public = hex::encode(super::seed_key(key).verifying_key().to_bytes());
        enrolments.push_str(&format!(
            "[[patient]]\nreference = \"{}\"\npublic_key = \"{public}\"\n\n",
            patient_reference(body),
        ));
    }
    std::fs::write(dir.join("enrolments.toml"), enrolments).unwrap();
    // Node 0 is the patients' hospital.
    let text = std::fs::read_to_string(dir.join("node0.toml")).unwrap();
    std::fs::write(
        dir.join("node0.toml"),
        format!("enrolments = \"enrolments.toml\"\n{text}"),
    )
    .unwrap();
    keys
}

/// Registers `n` patients with the cluster in `dir` (not yet started), each with a key of its
/// own written to `dir/patient-{a,b,c,...}.key`, none of them enrolled anywhere, and lowers
/// every node's minimum cohort to 2 (consent required, as `hdg init` writes it). The key files.
pub fn register_patients(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut registry = std::fs::read_to_string(dir.join("identities/registry.toml")).unwrap();
    let mut keys = Vec::new();
    for i in 0..n {
        let file = dir.join(format!("patient-{}.key", (b'a' + i as u8) as char));
        let seed = [11 * (i as u8 + 1); 32];
        std::fs::write(&file, hex::encode(seed)).unwrap();
        let public = hex::encode(SigningKey::from_bytes(&seed).verifying_key().to_bytes());
        registry.push_str(&format!(
            "\n[[identity]]\nname = \"enrolled-{i}\"\nrole = \"patient\"\npublic_key = \"{public}\"\n"
        ));
        keys.push(file);
    }
    std::fs::write(dir.join("identities/registry.toml"), registry).unwrap();
    for i in 0..3 {
        let path = dir.join(format!("node{i}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("consent_required = true"),
            "init requires consent"
        );
        let text = text.replace("min_cohort = 10\n", "min_cohort = 2\n");
        std::fs::write(&path, text).unwrap();
    }
    keys
}

/// Posts each bundle to node 0; the record ids each receipt names, per bundle.
pub fn ingest_at_node0(dir: &Path, bundles: &[Vec<u8>]) -> Vec<Vec<RecordId>> {
    bundles
        .iter()
        .map(|body| {
            let (status, receipt) =
                super::post_observations(dir, 0, "", "application/fhir+json", body);
            assert_eq!(status, 200, "{receipt}");
            receipt["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["record_id"].as_str().unwrap().parse().unwrap())
                .collect()
        })
        .collect()
}

/// `hdg consent` at node `i` as the patient whose seed is in `key`: success and output.
pub fn consent_at(dir: &Path, i: usize, key: &Path, action: &[&str]) -> (bool, String) {
    let mut args = vec!["--key", key.to_str().unwrap()];
    args.extend_from_slice(action);
    hdg_at(dir, i, "consent", &args)
}

/// The demo research institution's key file.
pub fn researcher(dir: &Path) -> PathBuf {
    dir.join("identities/research-institute.key")
}

/// `hdg query --stat count --json` at node 1 as the demo research institution (a private
/// count: its answer is noised, and says nothing exact); the answer's JSON or the refusal's
/// text.
pub fn count_query(dir: &Path, indicator: &str) -> Result<Value, String> {
    let (ok, text) = hdg_query(
        dir,
        1,
        &researcher(dir),
        &["--stat", "count", "--indicator", indicator, "--json"],
    );
    let json: Value = serde_json::from_str(text.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no JSON ({e}): {text}"));
    if ok {
        Ok(json)
    } else {
        Err(json["error"].as_str().unwrap_or_default().to_string())
    }
}

/// `hdg audit` as the patient whose seed is in `key`, asked at node `i`: success and output.
pub fn audit_at(dir: &Path, i: usize, key: &Path, extra: &[&str]) -> (bool, String) {
    let url = format!("https://{}", http_addr(dir, i));
    let mut args = vec![
        "audit",
        "--node",
        &url,
        "--cluster",
        dir.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    hdg_text(&args)
}

/// A private count of `indicator` (see [`count_query`]) and which of `patients` (seed files)
/// its rows came from: what the consent rule decides, read where a patient reads it, in each
/// patient's audit at node 1 (which lists every query that selected their rows).
pub fn patients_used(dir: &Path, indicator: &str, patients: &[&Path]) -> Result<Vec<bool>, String> {
    let answer = count_query(dir, indicator)?;
    let leaf = answer["query_ledger_index"][1]
        .as_u64()
        .unwrap_or_else(|| panic!("no ledger index at node1: {answer}"));
    Ok(query_used(dir, leaf, patients))
}

/// Which of `patients` (seed files) the query anchored at `leaf` of node 1's ledger used, by
/// each patient's audit at node 1.
pub fn query_used(dir: &Path, leaf: u64, patients: &[&Path]) -> Vec<bool> {
    patients
        .iter()
        .map(|key| {
            let (ok, out) = audit_at(dir, 1, key, &["--json"]);
            assert!(ok, "{out}");
            let audit: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
            audit["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["node"] == "node1")
                .flat_map(|n| n["entries"].as_array().unwrap().iter())
                .any(|e| e["kind"] == "query" && e["leaf_index"].as_u64() == Some(leaf))
        })
        .collect()
}
