//! The five Synthea bundles import with no rejected numeric entry, and the per-indicator counts
//! equal counts derived here by walking the JSON independently of the importer.

mod common;

use std::collections::BTreeMap;

use hdg_schema::{Catalog, Format, Value};
use serde_json::Value as Json;

/// The shared Synthea bundles beside the repository. The path is read when the test runs (cargo
/// sets CARGO_MANIFEST_DIR), not baked in at compile time: a build cache shared between two
/// checkouts would otherwise point at the other checkout.
fn dir() -> String {
    format!(
        "{}/../../shared/data/synthea",
        std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo, which sets CARGO_MANIFEST_DIR")
    )
}

fn first_loinc(code: &Json) -> Option<String> {
    code["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == "http://loinc.org")
        .and_then(|c| c["code"].as_str())
        .map(str::to_string)
}

/// (numeric count per LOINC code, non-numeric count) derived by walking the JSON.
fn expected_counts(doc: &Json) -> (BTreeMap<String, u64>, u64) {
    let mut numeric = BTreeMap::new();
    let mut non_numeric = 0;
    let has_value = |x: &Json| {
        x.as_object()
            .is_some_and(|m| m.keys().any(|k| k.starts_with("value")))
    };
    for entry in doc["entry"].as_array().unwrap() {
        let res = &entry["resource"];
        if res["resourceType"] != "Observation" {
            continue;
        }
        let components = res["component"].as_array().cloned().unwrap_or_default();
        let mut parts = Vec::new();
        if has_value(res) || components.is_empty() {
            parts.push(res.clone());
        }
        parts.extend(components);
        for part in parts {
            if part.get("valueQuantity").is_some() {
                *numeric
                    .entry(first_loinc(&part["code"]).unwrap())
                    .or_insert(0) += 1;
            } else {
                non_numeric += 1;
            }
        }
    }
    (numeric, non_numeric)
}

#[test]
fn all_five_bundles_import_cleanly_with_independently_derived_counts() {
    let mut total_numeric = 0;
    for i in 0..5 {
        let path = format!("{}/patient-{i}.json", dir());
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: Json = serde_json::from_slice(&bytes).unwrap();
        let (want_numeric, want_non_numeric) = expected_counts(&doc);
        for code in want_numeric.keys() {
            assert!(
                Catalog::builtin().get(code).is_some(),
                "{code} missing from the catalog"
            );
        }

        let (report, observations) =
            common::run(&bytes, Format::FhirJson, hdg_schema::Mode::Strict).unwrap();
        assert!(
            report.rejected.is_empty(),
            "patient-{i}: {:?}",
            report.rejected
        );
        assert_eq!(report.accepted_by_indicator, want_numeric, "patient-{i}");
        assert_eq!(report.non_numeric, want_non_numeric, "patient-{i}");
        assert_eq!(
            observations.len() as u64,
            report.numeric_total() + report.non_numeric
        );

        // One patient per bundle, so one pseudonym; never the raw id.
        let patient_id = doc["entry"][0]["resource"]["id"].as_str().unwrap();
        let pseudonyms: std::collections::BTreeSet<_> =
            observations.iter().map(|o| o.patient).collect();
        assert_eq!(pseudonyms.len(), 1);
        let expected =
            hdg_schema::Pseudonym::from_reference(&common::KEY, &format!("Patient/{patient_id}"));
        assert_eq!(*pseudonyms.first().unwrap(), expected);
        total_numeric += report.numeric_total();

        // Values are the catalog's rounding of the input text.
        let bmi = observations
            .iter()
            .find(|o| o.indicator == "39156-5" && o.value.is_numeric())
            .unwrap();
        assert!(matches!(bmi.value, Value::Quantity(q) if (50..=500).contains(&q)));
    }
    assert!(total_numeric > 2000);
}

#[test]
fn a_known_entry_is_encoded_exactly() {
    // patient-0 entry 1: blood-pressure panel 117.4 / 71.8 mm[Hg] at 2015-09-26T22:10:42.330194Z;
    // entry 14 repeats the systolic value as its own Observation: same content, so same id.
    let bytes = std::fs::read(format!("{}/patient-0.json", dir())).unwrap();
    let (_, observations) = common::lenient(&bytes, Format::FhirJson);
    let at = hdg_schema::Timestamp::parse_fhir("2015-09-26T22:10:42.330Z").unwrap();
    let systolic: Vec<_> = observations
        .iter()
        .filter(|o| o.indicator == "8480-6" && o.effective == at)
        .collect();
    assert_eq!(systolic.len(), 2);
    assert_eq!(systolic[0], systolic[1]);
    assert_eq!(systolic[0].value, Value::Quantity(1174));
    assert_eq!(systolic[0].recorded, at);
    assert_eq!(systolic[0].source, "unknown");
    let diastolic = observations
        .iter()
        .find(|o| o.indicator == "8462-4" && o.effective == at)
        .unwrap();
    assert_eq!(diastolic.value, Value::Quantity(718));
}
