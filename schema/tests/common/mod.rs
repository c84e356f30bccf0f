//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod arb;

use hdg_schema::{
    Catalog, Format, ImportError, ImportOptions, ImportReport, Mode, Observation, import,
};

pub const KEY: [u8; 32] = [42; 32];

pub fn run(
    bytes: &[u8],
    format: Format,
    mode: Mode,
) -> Result<(ImportReport, Vec<Observation>), ImportError> {
    let opts = ImportOptions {
        mode,
        pseudonym_key: KEY,
        catalog: Catalog::builtin(),
        enrolled: None,
    };
    let mut out = Vec::new();
    let report = import(bytes, format, "test-input", &opts, &mut |o| out.push(o))?;
    Ok((report, out))
}

pub fn lenient(bytes: &[u8], format: Format) -> (ImportReport, Vec<Observation>) {
    run(bytes, format, Mode::Lenient).expect("whole-file import succeeds")
}

/// A one-patient transaction Bundle around the given Observation resources (JSON text each).
pub fn bundle(observations: &[String]) -> String {
    let mut entries = vec![
        r#"{"fullUrl":"urn:uuid:p1","resource":{"resourceType":"Patient","id":"p1"}}"#.to_string(),
    ];
    for (i, o) in observations.iter().enumerate() {
        entries.push(format!(r#"{{"fullUrl":"urn:uuid:o{i}","resource":{o}}}"#));
    }
    format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{}]}}"#,
        entries.join(",")
    )
}

/// An Observation for patient urn:uuid:p1 with the given code and value[x] JSON fragment.
pub fn obs(code: &str, value: &str) -> String {
    let value = if value.is_empty() {
        String::new()
    } else {
        format!(",{value}")
    };
    format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"{code}"}}]}},"subject":{{"reference":"urn:uuid:p1"}},"effectiveDateTime":"2020-01-02T03:04:05Z"{value}}}"#
    )
}

pub fn quantity(value: &str, unit: &str) -> String {
    format!(
        r#""valueQuantity":{{"value":{value},"unit":"{unit}","system":"http://unitsofmeasure.org","code":"{unit}"}}"#
    )
}
