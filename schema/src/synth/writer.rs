//! Writes the synthetic patient as compact FHIR R4 transaction Bundle JSON text.

use std::fmt::Write;

use super::model::{Patient, Visit};
use super::rng::SplitMix64;
use crate::time::Timestamp;

const VITAL: &str = "vital-signs";
const LAB: &str = "laboratory";

/// Builds one Bundle's text.
pub(crate) struct BundleWriter {
    out: String,
    patient_url: String,
}

impl BundleWriter {
    pub(crate) fn new(patient_id: &str, patient: &Patient) -> Self {
        let mut out = String::with_capacity(64 * 1024);
        let birth = Timestamp(patient.birth_ms).to_string();
        let gender = if patient.male { "male" } else { "female" };
        let _ = write!(
            out,
            r#"{{"resourceType":"Bundle","type":"transaction","entry":[{{"fullUrl":"urn:uuid:{patient_id}","resource":{{"resourceType":"Patient","id":"{patient_id}","gender":"{gender}","birthDate":"{}"}},"request":{{"method":"POST","url":"Patient"}}}}"#,
            &birth[..10]
        );
        BundleWriter {
            out,
            patient_url: format!("urn:uuid:{patient_id}"),
        }
    }

    pub(crate) fn visit(&mut self, rng: &mut SplitMix64, v: &Visit) {
        let at = Timestamp(v.at_ms).to_string();
        self.quantity(rng, &at, VITAL, "8302-2", "Body Height", v.height, "cm");
        self.quantity(rng, &at, VITAL, "29463-7", "Body Weight", v.weight, "kg");
        self.quantity(
            rng,
            &at,
            VITAL,
            "39156-5",
            "Body mass index (BMI) [Ratio]",
            v.bmi,
            "kg/m2",
        );
        self.quantity(
            rng,
            &at,
            VITAL,
            "8867-4",
            "Heart rate",
            v.heart_rate,
            "/min",
        );
        self.blood_pressure(rng, &at, v.systolic, v.diastolic);
        if let Some((hba1c, glucose)) = v.labs {
            self.quantity(
                rng,
                &at,
                LAB,
                "4548-4",
                "Hemoglobin A1c/Hemoglobin.total in Blood",
                hba1c,
                "%",
            );
            self.quantity(
                rng,
                &at,
                LAB,
                "2339-0",
                "Glucose [Mass/volume] in Blood",
                glucose,
                "mg/dL",
            );
        }
    }

    pub(crate) fn finish(mut self) -> String {
        self.out.push_str("]}");
        self.out
    }

    fn open(&mut self, rng: &mut SplitMix64, at: &str, category: &str, code: &str, display: &str) {
        let id = rng.uuid();
        let _ = write!(
            self.out,
            r#",{{"fullUrl":"urn:uuid:{id}","resource":{{"resourceType":"Observation","id":"{id}","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"{category}"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"{code}","display":"{display}"}}]}},"subject":{{"reference":"{}"}},"effectiveDateTime":"{at}","issued":"{at}""#,
            self.patient_url
        );
    }

    fn close(&mut self) {
        self.out
            .push_str(r#"},"request":{"method":"POST","url":"Observation"}}"#);
    }

    #[allow(clippy::too_many_arguments)]
    fn quantity(
        &mut self,
        rng: &mut SplitMix64,
        at: &str,
        category: &str,
        code: &str,
        display: &str,
        value: f64,
        unit: &str,
    ) {
        self.open(rng, at, category, code, display);
        self.out.push(',');
        write_quantity(&mut self.out, value, unit);
        self.close();
    }

    fn blood_pressure(&mut self, rng: &mut SplitMix64, at: &str, systolic: f64, diastolic: f64) {
        self.open(
            rng,
            at,
            VITAL,
            "85354-9",
            "Blood pressure panel with all children optional",
        );
        self.out.push_str(r#","component":["#);
        for (i, (code, display, value)) in [
            ("8480-6", "Systolic blood pressure", systolic),
            ("8462-4", "Diastolic blood pressure", diastolic),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                self.out.push(',');
            }
            let _ = write!(
                self.out,
                r#"{{"code":{{"coding":[{{"system":"http://loinc.org","code":"{code}","display":"{display}"}}]}},"#
            );
            write_quantity(&mut self.out, value, "mm[Hg]");
            self.out.push('}');
        }
        self.out.push(']');
        self.close();
    }
}

/// `"valueQuantity":{...}` with the value written to one decimal (the catalog precision of every
/// synthesised indicator).
fn write_quantity(out: &mut String, value: f64, unit: &str) {
    let _ = write!(
        out,
        r#""valueQuantity":{{"value":{value:.1},"unit":"{unit}","system":"http://unitsofmeasure.org","code":"{unit}"}}"#
    );
}
