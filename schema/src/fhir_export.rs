//! FHIR R4 export of an observation, in the shape import reads back: `import(to_fhir(x)) == x`.
//!
//! The subject is written as an identifier with system `urn:hdg:pseudonym` (the pseudonym, never a
//! raw id); `supersedes` as the extension `urn:hdg:supersedes`; the source as `performer[0].display`
//! (omitted when `unknown`); `recorded` as `issued`. Quantities are written in the canonical unit.
//! The JSON number is an f64, which is exact here: catalog bounds keep every fixed-point value
//! below 10^15, i.e. at most 15 significant digits, and serde_json writes the shortest text that
//! reads back as the same f64, which is that decimal. A `Quantity` whose indicator is not in the
//! catalog (impossible for imported data) is written with its raw fixed-point integer and no unit.

use serde_json::{Map, Value as Json, json};

use crate::catalog::Catalog;
use crate::fhir_convert::{LOINC_SYSTEM, SUPERSEDES_EXTENSION, UCUM_SYSTEM, UNKNOWN_SOURCE};
use crate::fhir_subject::PSEUDONYM_SYSTEM;
use crate::observation::Observation;
use crate::value::Value;

/// The observation as a FHIR R4 `Observation` resource.
pub fn to_fhir(obs: &Observation, catalog: &Catalog) -> Json {
    let indicator = catalog.get(&obs.indicator);
    let (system, code) = obs
        .indicator
        .split_once('|')
        .unwrap_or((LOINC_SYSTEM, &obs.indicator));
    let mut coding = Map::new();
    coding.insert("system".into(), json!(system));
    coding.insert("code".into(), json!(code));
    if let Some(ind) = indicator {
        coding.insert("display".into(), json!(ind.display));
    }
    let mut res = json!({
        "resourceType": "Observation",
        "id": obs.id().to_string(),
        "status": obs.status.as_fhir_code(),
        "code": {"coding": [coding]},
        "subject": {"identifier": {"system": PSEUDONYM_SYSTEM, "value": obs.patient.to_string()}},
        "effectiveDateTime": obs.effective.to_string(),
        "issued": obs.recorded.to_string(),
    });
    let fields = res.as_object_mut().expect("object literal");
    if obs.source != UNKNOWN_SOURCE {
        fields.insert("performer".into(), json!([{"display": obs.source}]));
    }
    if let Some(old) = obs.supersedes {
        fields.insert(
            "extension".into(),
            json!([{"url": SUPERSEDES_EXTENSION, "valueString": old.to_string()}]),
        );
    }
    match &obs.value {
        Value::Quantity(fixed) => {
            let quantity = match indicator {
                Some(ind) => json!({
                    "value": ind.format(*fixed).parse::<f64>().expect("formatted decimal parses"),
                    "unit": ind.unit,
                    "system": UCUM_SYSTEM,
                    "code": ind.unit,
                }),
                None => json!({"value": fixed}),
            };
            fields.insert("valueQuantity".into(), quantity);
        }
        Value::Coded {
            system,
            code,
            display,
        } => {
            fields.insert(
                "valueCodeableConcept".into(),
                json!({"coding": [{"system": system, "code": code, "display": display}]}),
            );
        }
        Value::Text(text) => {
            fields.insert("valueString".into(), json!(text));
        }
        Value::Absent => {}
    }
    res
}
