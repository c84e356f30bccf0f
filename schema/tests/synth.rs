//! The synthetic cohort: deterministic, imports cleanly, and carries the intended correlations.

mod common;

use std::collections::BTreeMap;

use hdg_schema::{Catalog, Format, Mode, Pseudonym, Timestamp, Value, synth};

fn pearson(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let vx: f64 = pairs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let vy: f64 = pairs.iter().map(|(_, y)| (y - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

#[test]
fn deterministic_in_seed_and_index() {
    assert_eq!(synth::patient_bundle(7, 3), synth::patient_bundle(7, 3));
    assert_ne!(synth::patient_bundle(7, 3), synth::patient_bundle(7, 4));
    assert_ne!(synth::patient_bundle(7, 3), synth::patient_bundle(8, 3));
}

#[test]
fn cohort_imports_cleanly_with_correlated_values() {
    let catalog = Catalog::builtin();
    // (patient, time) -> indicator -> value as f64
    let mut visits: BTreeMap<(Pseudonym, Timestamp), BTreeMap<String, f64>> = BTreeMap::new();
    let mut total = 0;
    for index in 0..150 {
        let text = synth::patient_bundle(42, index);
        let (report, got) = common::run(text.as_bytes(), Format::FhirJson, Mode::Strict).unwrap();
        assert!(report.is_clean(), "patient {index}: {:?}", report.rejected);
        assert_eq!(report.non_numeric, 0);
        let id = synth::patient_id(42, index);
        let expected_patient = Pseudonym::from_reference(&common::KEY, &format!("Patient/{id}"));
        for o in got {
            assert_eq!(o.patient, expected_patient);
            let Value::Quantity(q) = o.value else {
                panic!("non-numeric")
            };
            let v = catalog.get(&o.indicator).unwrap().to_f64(q);
            visits
                .entry((o.patient, o.effective))
                .or_default()
                .insert(o.indicator.clone(), v);
            total += 1;
        }
    }
    assert!(total > 150 * 40, "only {total} observations");
    let pairs = |a: &str, b: &str| -> Vec<(f64, f64)> {
        visits
            .values()
            .filter_map(|m| Some((*m.get(a)?, *m.get(b)?)))
            .collect()
    };
    let every_visit = ["8302-2", "29463-7", "39156-5", "8867-4", "8480-6", "8462-4"];
    assert!(
        visits
            .values()
            .all(|m| every_visit.iter().all(|c| m.contains_key(*c)))
    );
    let a1c_glucose = pairs("4548-4", "2339-0");
    assert!(a1c_glucose.len() > 500);
    let r = pearson(&a1c_glucose);
    assert!(r > 0.7, "HbA1c-glucose r = {r}");
    let r = pearson(&pairs("39156-5", "8480-6"));
    assert!(r > 0.2, "BMI-systolic r = {r}");
    let r = pearson(&pairs("8480-6", "8462-4"));
    assert!(r > 0.5, "systolic-diastolic r = {r}");
    let r = pearson(&pairs("39156-5", "4548-4"));
    assert!(r > 0.1, "BMI-HbA1c r = {r}");
    // Weight follows BMI and height: BMI = kg / m^2 within rounding.
    for m in visits.values() {
        let bmi = m["29463-7"] / (m["8302-2"] / 100.0).powi(2);
        assert!(
            (bmi - m["39156-5"]).abs() < 0.2,
            "{bmi} vs {}",
            m["39156-5"]
        );
    }
}

#[test]
fn ndjson_of_bundles_imports_like_the_bundles_one_by_one() {
    let bundles: Vec<String> = (0..5).map(|i| synth::patient_bundle(3, i)).collect();
    let mut expected = Vec::new();
    for b in &bundles {
        let (report, got) = common::run(b.as_bytes(), Format::FhirJson, Mode::Strict).unwrap();
        assert!(report.is_clean());
        expected.extend(got);
    }
    let ndjson = bundles.join("\n") + "\n";
    let (report, got) = common::run(ndjson.as_bytes(), Format::Ndjson, Mode::Strict).unwrap();
    assert!(report.is_clean(), "{:?}", report.rejected);
    assert_eq!(got, expected);
    assert_eq!(report.numeric_total(), expected.len() as u64);

    // A broken Bundle line is that line's rejection, not the file's.
    let broken = format!(
        "{}\n{{\"resourceType\":\"Bundle\",\"type\":\"nonsense\",\"entry\":[]}}\n",
        bundles[0]
    );
    let (report, _) = common::run(broken.as_bytes(), Format::Ndjson, Mode::Lenient).unwrap();
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].entry, "line 2");
}
