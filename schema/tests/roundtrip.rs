//! import(to_fhir(x)) == x, and ids do not depend on JSON key order or whitespace.

mod common;

use common::{arb, lenient};
use hdg_schema::{Catalog, Format, Observation, to_fhir};
use proptest::prelude::*;
use serde_json::Value as Json;

/// Writes JSON with object keys in a seed-dependent order and seed-dependent whitespace.
fn write_shuffled(v: &Json, seed: &mut u64, out: &mut String) {
    let mut next = || {
        // SplitMix64 step: a throwaway permutation source for the test.
        *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let space = ["", " ", "\n  ", "\t"][(next() % 4) as usize];
    match v {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            for i in (1..keys.len()).rev() {
                keys.swap(i, (next() % (i as u64 + 1)) as usize);
            }
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(space);
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push_str(space);
                out.push(':');
                write_shuffled(&map[k], seed, out);
            }
            out.push_str(space);
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(space);
                write_shuffled(item, seed, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn import_one(text: &str, format: Format) -> Vec<Observation> {
    let (report, got) = lenient(text.as_bytes(), format);
    assert!(report.rejected.is_empty(), "{:?}\n{text}", report.rejected);
    got
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn import_of_export_is_identity(data in arb::observation_data()) {
        let obs = Observation::new(data);
        let fhir = to_fhir(&obs, Catalog::builtin());
        prop_assert_eq!(fhir["id"].as_str().map(str::to_string), Some(obs.id().to_string()));
        let got = import_one(&fhir.to_string(), Format::FhirJson);
        prop_assert_eq!(&got, &vec![obs.clone()]);
        let line = format!("{}\n", fhir);
        prop_assert_eq!(import_one(&line, Format::Ndjson), vec![obs]);
    }

    #[test]
    fn canonical_id_is_stable_under_key_reordering(data in arb::observation_data(), seed in any::<u64>()) {
        // A Bundle with a Patient entry and an Observation referring to it by urn:uuid.
        let mut fhir = to_fhir(&Observation::new(data), Catalog::builtin());
        fhir["subject"] = serde_json::json!({"reference": "urn:uuid:pat"});
        let bundle = serde_json::json!({
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"fullUrl": "urn:uuid:pat", "resource": {"resourceType": "Patient", "id": "pat", "gender": "other"}},
                {"fullUrl": "urn:uuid:obs", "resource": fhir, "request": {"method": "POST", "url": "Observation"}}
            ]
        });
        let plain = import_one(&bundle.to_string(), Format::FhirJson);
        let mut shuffled = String::new();
        write_shuffled(&bundle, &mut seed.clone(), &mut shuffled);
        let reordered = import_one(&shuffled, Format::FhirJson);
        prop_assert_eq!(plain.len(), 1);
        prop_assert_eq!(reordered.iter().map(Observation::id).collect::<Vec<_>>(), plain.iter().map(Observation::id).collect::<Vec<_>>());
    }
}
