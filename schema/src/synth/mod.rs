//! Deterministic synthetic cohort for `hdg synth`, the demo and the benchmarks.
//!
//! [`patient_bundle`] writes one patient as a FHIR R4 transaction Bundle: a Patient entry (gender
//! and birth date only) and several years of visits with realistic, correlated observations —
//! height, weight and BMI (weight follows BMI and height), systolic/diastolic blood pressure as a
//! panel with components (rising with age and BMI), heart rate (BMI), and at about half of the
//! visits HbA1c (BMI, age, a diabetes propensity) and blood glucose (from HbA1c by the ADAG
//! relation eAG = 28.7 x A1c - 46.7, plus noise). Every value lies inside the catalog's range.
//!
//! Output depends only on `(seed, index)`: a SplitMix64 generator seeded from BLAKE3 of both,
//! written here so the stream never changes with a dependency upgrade. The JSON is written
//! directly into a `String` (no `serde_json::Value` trees) so 10^6 observations take seconds.

mod model;
mod rng;
mod writer;

/// Visits end before this instant (2025-01-01T00:00:00Z), so output never depends on the clock.
const END_MS: i64 = 1_735_689_600_000;

/// The FHIR transaction Bundle (JSON text) of patient `index` of the cohort `seed`.
pub fn patient_bundle(seed: u64, index: u64) -> String {
    let mut rng = rng::SplitMix64::for_patient(seed, index);
    let patient = model::Patient::draw(&mut rng, END_MS);
    let patient_id = rng.uuid();
    let mut out = writer::BundleWriter::new(&patient_id, &patient);
    for visit in patient.visits(&mut rng, END_MS) {
        out.visit(&mut rng, &visit);
    }
    out.finish()
}

/// The Patient resource id used in [`patient_bundle`] for `(seed, index)`, so callers can find
/// the patient's pseudonym (`Patient/{id}`) without parsing the bundle.
pub fn patient_id(seed: u64, index: u64) -> String {
    let mut rng = rng::SplitMix64::for_patient(seed, index);
    model::Patient::draw(&mut rng, END_MS);
    rng.uuid()
}
