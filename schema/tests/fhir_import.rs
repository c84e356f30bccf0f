//! FHIR import behaviour: conversions, subject resolution, non-numeric values, layouts.

mod common;

use common::{KEY, bundle, lenient, obs, quantity};
use hdg_schema::{Format, Pseudonym, Status, Timestamp, Value};

fn single(text: &str, format: Format) -> hdg_schema::Observation {
    let (report, mut accepted) = lenient(text.as_bytes(), format);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(accepted.len(), 1);
    accepted.pop().unwrap()
}

#[test]
fn accepted_units_convert_exactly() {
    // 5.5 mmol/L * 18.016 = 99.088 mg/dL -> 99.1 at precision 1.
    let o = single(
        &bundle(&[obs("2339-0", &quantity("5.5", "mmol/L"))]),
        Format::FhirJson,
    );
    assert_eq!(o.value, Value::Quantity(991));
    // 98.6 [degF] = 37 Cel exactly.
    let o = single(
        &bundle(&[obs("8310-5", &quantity("98.6", "[degF]"))]),
        Format::FhirJson,
    );
    assert_eq!(o.value, Value::Quantity(3700));
    // 150 [lb_av] = 68.0388555 kg -> 68.0.
    let o = single(
        &bundle(&[obs("29463-7", &quantity("150", "[lb_av]"))]),
        Format::FhirJson,
    );
    assert_eq!(o.value, Value::Quantity(680));
    // 0.05 (half) rounds away from zero: 70.25 /min -> 70.3.
    let o = single(
        &bundle(&[obs("8867-4", &quantity("70.25", "/min"))]),
        Format::FhirJson,
    );
    assert_eq!(o.value, Value::Quantity(703));
    // Exponent notation is a JSON number too: 1.2e2 mm[Hg].
    let o = single(
        &bundle(&[obs("8480-6", &quantity("1.2e2", "mm[Hg]"))]),
        Format::FhirJson,
    );
    assert_eq!(o.value, Value::Quantity(1200));
}

#[test]
fn non_numeric_values_are_kept_and_counted() {
    let coded = r#""valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"266919005","display":"Never smoked"}]}"#;
    let text = bundle(&[
        obs("72166-2", coded),
        obs("56799-0", r#""valueString":"somewhere""#),
        obs("8289-1", ""),
        obs(
            "72166-2",
            r#""valueCodeableConcept":{"text":"free text only"}"#,
        ),
    ]);
    let (report, accepted) = lenient(text.as_bytes(), Format::FhirJson);
    assert!(report.rejected.is_empty());
    assert_eq!(report.non_numeric, 4);
    assert!(report.accepted_by_indicator.is_empty());
    let values: Vec<_> = accepted.iter().map(|o| o.value.clone()).collect();
    assert_eq!(
        values,
        [
            Value::Coded {
                system: "http://snomed.info/sct".into(),
                code: "266919005".into(),
                display: "Never smoked".into()
            },
            Value::Text("somewhere".into()),
            Value::Absent,
            Value::Text("free text only".into()),
        ]
    );
}

#[test]
fn patient_entry_after_its_observations_and_keys_in_any_order() {
    let o = obs("8867-4", &quantity("60", "/min"));
    let text = format!(
        r#"{{"entry":[{{"resource":{o},"fullUrl":"urn:uuid:o1"}},{{"resource":{{"id":"p1","resourceType":"Patient"}},"fullUrl":"urn:uuid:p1"}}],"type":"collection","resourceType":"Bundle"}}"#
    );
    let got = single(&text, Format::FhirJson);
    assert_eq!(got.patient, Pseudonym::from_reference(&KEY, "Patient/p1"));
    assert_eq!(got.value, Value::Quantity(600));
}

#[test]
fn same_patient_same_pseudonym_across_layouts() {
    // urn:uuid fullUrl whose Patient id differs from the uuid: identity is Patient/{id}.
    let o = obs("8867-4", &quantity("60", "/min")).replace("urn:uuid:p1", "urn:uuid:u-9");
    let text = format!(
        r#"{{"resourceType":"Bundle","type":"batch","entry":[{{"fullUrl":"urn:uuid:u-9","resource":{{"resourceType":"Patient","id":"mrn42"}}}},{{"resource":{o}}}]}}"#
    );
    let in_bundle = single(&text, Format::FhirJson);
    let searchset = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","entry":[{{"resource":{}}}]}}"#,
        obs("8867-4", &quantity("60", "/min")).replace(
            "urn:uuid:p1",
            "https://h.example/fhir/Patient/mrn42/_history/3"
        )
    );
    let ndjson = format!(
        "{}\n",
        obs("8867-4", &quantity("60", "/min")).replace("urn:uuid:p1", "Patient/mrn42")
    );
    let csv = "patient,indicator,value,unit,effective,source\nmrn42,8867-4,60,/min,2020-01-02T03:04:05Z,\n";
    let expected = Pseudonym::from_reference(&KEY, "Patient/mrn42");
    assert_eq!(in_bundle.patient, expected);
    assert_eq!(single(&searchset, Format::FhirJson), in_bundle);
    assert_eq!(single(&ndjson, Format::Ndjson), in_bundle);
    assert_eq!(single(csv, Format::Csv), in_bundle);
}

#[test]
fn single_observation_resource_with_all_fields() {
    let text = r#"{
      "status": "amended", "resourceType": "Observation", "id": "x1",
      "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}, {"system": "http://loinc.org", "code": "4548-4"}]},
      "subject": {"reference": "Patient/7"},
      "effectivePeriod": {"start": "2019-03"},
      "issued": "2019-03-05T10:00:00+02:00",
      "performer": [{"reference": "Practitioner/1", "display": "Dr Lab"}],
      "device": {"reference": "Device/9"},
      "extension": [{"url": "urn:hdg:supersedes", "valueString": "1111111111111111111111111111111111111111111111111111111111111111"}],
      "valueQuantity": {"value": 53, "unit": "mmol/mol", "system": "http://unitsofmeasure.org", "code": "mmol/mol"}
    }"#;
    let o = single(text, Format::FhirJson);
    assert_eq!(o.indicator, "4548-4");
    // 53 mmol/mol * 0.09148 + 2.152 = 7.00044 % -> 7.0.
    assert_eq!(o.value, Value::Quantity(70));
    assert_eq!(o.status, Status::Amended);
    assert_eq!(o.effective, Timestamp::parse_fhir("2019-03-01").unwrap());
    assert_eq!(
        o.recorded,
        Timestamp::parse_fhir("2019-03-05T08:00:00Z").unwrap()
    );
    assert_eq!(o.source, "Dr Lab");
    assert_eq!(o.supersedes.unwrap().to_string(), "1".repeat(64));
}

#[test]
fn ndjson_lines_are_independent() {
    let good = obs("8867-4", &quantity("60", "/min")).replace("urn:uuid:p1", "Patient/1");
    let text = format!(
        "{{\"resourceType\":\"Patient\",\"id\":\"1\"}}\n\n{good}\r\n{{\"resourceType\": oops}}\n{}\n",
        good.replace("60", "61")
    );
    let (report, accepted) = lenient(text.as_bytes(), Format::Ndjson);
    assert_eq!(accepted.len(), 2);
    assert_eq!(report.rejected.len(), 1);
    let r = &report.rejected[0];
    assert_eq!((r.entry.as_str(), r.field.as_str()), ("line 4", "json"));
    let bad_offset = text.find("oops").unwrap();
    assert!(
        r.reason
            .starts_with(&format!("malformed JSON at byte offset {bad_offset}")),
        "{}",
        r.reason
    );
}

#[test]
fn urn_references_outside_a_bundle_are_rejected() {
    let (report, accepted) = lenient(
        format!("{}\n", obs("8867-4", &quantity("60", "/min"))).as_bytes(),
        Format::Ndjson,
    );
    assert!(accepted.is_empty());
    assert_eq!(report.rejected[0].field, "subject.reference");
}

#[test]
fn byte_order_mark_is_accepted() {
    let text = format!(
        "\u{feff}{}",
        bundle(&[obs("8867-4", &quantity("60", "/min"))])
    );
    single(&text, Format::FhirJson);
}
