//! Each kind of bad input from the issue: whole-file errors and per-entry rejections.

mod common;

use common::{bundle, lenient, obs, quantity, run};
use hdg_schema::{Format, ImportError, Mode, Rejection, Value};

fn only_rejection(text: &str) -> Rejection {
    let (report, accepted) = lenient(text.as_bytes(), Format::FhirJson);
    assert!(
        accepted.is_empty(),
        "nothing should be accepted: {accepted:?}"
    );
    assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);
    report.rejected.into_iter().next().unwrap()
}

#[test]
fn malformed_json_reports_the_byte_offset() {
    let text = r#"{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"a"},{,}]}"#;
    let bad = text.find("{,").unwrap() + 1;
    match run(text.as_bytes(), Format::FhirJson, Mode::Strict) {
        Err(ImportError::MalformedJson {
            offset,
            line,
            column,
            ..
        }) => {
            assert_eq!((offset, line, column), (bad as u64, 1, bad + 1));
        }
        other => panic!("expected MalformedJson, got {other:?}"),
    }
    // Several lines, non-ASCII text before the error on its line.
    let text = "{\"resourceType\": \"Bundle\",\n \"type\": \"collection\",\n \"entry\": [{\"fullUrl\": \"é\"} }]}";
    let bad = text.find("} }").unwrap() + 2;
    match run(text.as_bytes(), Format::FhirJson, Mode::Strict) {
        Err(ImportError::MalformedJson { offset, line, .. }) => {
            assert_eq!((offset, line), (bad as u64, 3))
        }
        other => panic!("expected MalformedJson, got {other:?}"),
    }
    // Truncated document: the offset is the end of the input.
    let cut = &text[..40];
    match run(cut.as_bytes(), Format::FhirJson, Mode::Strict) {
        Err(ImportError::MalformedJson { offset, .. }) => assert_eq!(offset, 39),
        other => panic!("expected MalformedJson, got {other:?}"),
    }
    // Trailing garbage after the resource.
    assert!(matches!(
        run(
            b"{\"resourceType\":\"Bundle\",\"type\":\"batch\"} x",
            Format::FhirJson,
            Mode::Strict
        ),
        Err(ImportError::MalformedJson { offset: 41, .. })
    ));
}

#[test]
fn a_resource_that_is_not_an_observation_or_bundle_fails_the_file() {
    let err = run(
        br#"{"resourceType":"Patient","id":"x"}"#,
        Format::FhirJson,
        Mode::Strict,
    )
    .unwrap_err();
    assert!(
        matches!(err, ImportError::UnsupportedResource { ref resource_type } if resource_type == "Patient"),
        "{err:?}"
    );
    let err = run(br#"{"id":"x"}"#, Format::FhirJson, Mode::Strict).unwrap_err();
    assert!(matches!(err, ImportError::NotFhir { .. }), "{err:?}");
    let err = run(
        br#"{"entry":[],"resourceType":"Observation"}"#,
        Format::FhirJson,
        Mode::Strict,
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::NotFhir { .. }), "{err:?}");
    let err = run(b"[1,2]", Format::FhirJson, Mode::Strict).unwrap_err();
    assert!(matches!(err, ImportError::NotFhir { .. }), "{err:?}");
    let err = run(
        br#"{"resourceType":"Bundle","type":"document","entry":[]}"#,
        Format::FhirJson,
        Mode::Strict,
    )
    .unwrap_err();
    assert!(
        matches!(err, ImportError::UnsupportedBundleType { ref bundle_type } if bundle_type == "document"),
        "{err:?}"
    );
    let err = run(
        br#"{"resourceType":"Bundle","entry":[]}"#,
        Format::FhirJson,
        Mode::Strict,
    )
    .unwrap_err();
    assert!(
        matches!(err, ImportError::UnsupportedBundleType { .. }),
        "{err:?}"
    );
    // NDJSON: a line of another type is a rejection of that line.
    let nd = "{\"resourceType\":\"Condition\",\"id\":\"c\"}\n";
    let (report, _) = lenient(nd.as_bytes(), Format::Ndjson);
    assert_eq!(report.rejected[0].entry, "line 1");
    assert_eq!(report.rejected[0].field, "resourceType");
}

#[test]
fn unknown_indicator_with_a_numeric_value_is_rejected() {
    let r = only_rejection(&bundle(&[obs("99999-9", &quantity("5", "mg/dL"))]));
    assert_eq!(
        (r.file.as_str(), r.entry.as_str(), r.field.as_str()),
        ("test-input", "entry[1] urn:uuid:o0", "valueQuantity")
    );
    assert!(
        r.reason.contains("unknown indicator 99999-9"),
        "{}",
        r.reason
    );
}

#[test]
fn wrong_unit_is_rejected() {
    let r = only_rejection(&bundle(&[obs("2339-0", &quantity("5", "kg"))]));
    assert_eq!(r.field, "valueQuantity");
    assert_eq!(r.reason, r#"unit "kg" is not accepted for 2339-0"#);
}

#[test]
fn out_of_range_is_rejected_without_echoing_the_value() {
    let r = only_rejection(&bundle(&[obs("8867-4", &quantity("4000", "/min"))]));
    assert_eq!(r.field, "valueQuantity");
    assert_eq!(r.reason, "value out of plausible range for 8867-4");
    assert!(!format!("{r:?}").contains("4000"));
}

#[test]
fn missing_or_unresolvable_subject_is_rejected() {
    let no_subject = obs("8867-4", &quantity("60", "/min"))
        .replace(r#""subject":{"reference":"urn:uuid:p1"},"#, "");
    let r = only_rejection(&bundle(&[no_subject]));
    assert_eq!(
        (r.field.as_str(), r.reason.as_str()),
        ("subject", "missing subject")
    );

    let elsewhere =
        obs("8867-4", &quantity("60", "/min")).replace("urn:uuid:p1", "urn:uuid:nobody");
    let r = only_rejection(&bundle(&[elsewhere]));
    assert_eq!(r.field, "subject.reference");

    let group = obs("8867-4", &quantity("60", "/min")).replace("urn:uuid:p1", "Group/7");
    assert_eq!(
        only_rejection(&bundle(&[group])).reason,
        "subject is a Group, not a Patient"
    );
}

#[test]
fn missing_or_unparseable_effective_time_is_rejected() {
    let missing = obs("8867-4", &quantity("60", "/min"))
        .replace(r#","effectiveDateTime":"2020-01-02T03:04:05Z""#, "");
    let r = only_rejection(&bundle(&[missing]));
    assert_eq!(
        (r.field.as_str(), r.reason.as_str()),
        ("effective[x]", "missing effective time")
    );

    for bad in ["2020-13-01", "yesterday", "2020-01-02T03:04:05"] {
        let text = obs("8867-4", &quantity("60", "/min")).replace("2020-01-02T03:04:05Z", bad);
        let r = only_rejection(&bundle(&[text]));
        assert_eq!(r.field, "effectiveDateTime", "{bad}");
    }
}

#[test]
fn duplicate_entries_are_rejected() {
    let one =
        obs("8867-4", &quantity("60", "/min")).replace(r#""status""#, r#""id":"hr1","status""#);
    let other_value = one.replace("\"value\":60", "\"value\":61");
    let (report, accepted) = lenient(bundle(&[one, other_value]).as_bytes(), Format::FhirJson);
    assert_eq!(accepted.len(), 1);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].entry, "entry[2] urn:uuid:o1");
    assert_eq!(report.rejected[0].field, "id");
    assert!(report.rejected[0].reason.starts_with("duplicate entry"));
}

#[test]
fn non_utf8_bytes_fail_the_file_with_their_offset() {
    let text = bundle(&[obs("8867-4", &quantity("60", "/min")).replace("final", "fin\u{e9}l")]);
    let mut bytes = text.into_bytes();
    let at = bytes.windows(2).position(|w| w == "é".as_bytes()).unwrap();
    bytes[at] = 0xFF;
    match run(&bytes, Format::FhirJson, Mode::Lenient) {
        Err(ImportError::NotUtf8 { offset }) => assert_eq!(offset, at as u64),
        other => panic!("expected NotUtf8, got {other:?}"),
    }
    let mut nd = b"{\"resourceType\":\"Patient\"}\n{\"a\":\"".to_vec();
    let nd_at = nd.len();
    nd.extend_from_slice(b"\xC3\x28\"}\n");
    assert!(
        matches!(run(&nd, Format::Ndjson, Mode::Lenient), Err(ImportError::NotUtf8 { offset }) if offset == nd_at as u64)
    );
    let mut csv =
        b"patient,indicator,value,unit,effective,source\n1,8867-4,60,/min,2020-01-01,".to_vec();
    let csv_at = csv.len();
    csv.extend_from_slice(b"\xFE\n");
    assert!(
        matches!(run(&csv, Format::Csv, Mode::Lenient), Err(ImportError::NotUtf8 { offset }) if offset == csv_at as u64)
    );
}

#[test]
fn censored_and_unsupported_values_are_rejected() {
    let censored = r#""valueQuantity":{"value":5,"comparator":"<","code":"mg/dL","system":"http://unitsofmeasure.org"}"#;
    assert_eq!(
        only_rejection(&bundle(&[obs("2339-0", censored)])).field,
        "valueQuantity.comparator"
    );
    let string_number = r#""valueQuantity":{"value":"5","code":"mg/dL"}"#;
    assert_eq!(
        only_rejection(&bundle(&[obs("2339-0", string_number)])).field,
        "valueQuantity.value"
    );
    let range = r#""valueRange":{"low":{"value":1}}"#;
    assert_eq!(
        only_rejection(&bundle(&[obs("2339-0", range)])).reason,
        "value type not supported"
    );
    let bad_status = obs("2339-0", &quantity("90", "mg/dL")).replace("\"final\"", "\"done\"");
    assert_eq!(only_rejection(&bundle(&[bad_status])).field, "status");
    let wrong_type = obs("2339-0", &quantity("90", "mg/dL")).replace("\"final\"", "5");
    let r = only_rejection(&bundle(&[wrong_type]));
    assert_eq!(r.field, "resource");
}

#[test]
fn one_bad_component_does_not_lose_the_good_one() {
    let panel = r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"urn:uuid:p1"},"effectiveDateTime":"2021-06-01","component":[
        {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"code":"mm[Hg]"}},
        {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":9000,"code":"mm[Hg]"}}]}"#;
    let (report, accepted) = lenient(bundle(&[panel.to_string()]).as_bytes(), Format::FhirJson);
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].indicator, "8480-6");
    assert_eq!(accepted[0].value, Value::Quantity(1200));
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].field, "component[1].valueQuantity");
}

#[test]
fn strict_mode_stops_feeding_the_sink_after_a_rejection_but_reports_everything() {
    let good = |v: &str| obs("8867-4", &quantity(v, "/min"));
    let text = bundle(&[good("60"), good("4000"), good("70"), good("5000")]);
    let (report, accepted) = run(text.as_bytes(), Format::FhirJson, Mode::Strict).unwrap();
    assert_eq!(
        accepted.len(),
        1,
        "only the entry before the first rejection reached the sink"
    );
    assert_eq!(report.rejected.len(), 2);
    assert_eq!(report.accepted_by_indicator.get("8867-4"), Some(&2));
    assert!(!report.is_clean());
    let (report, accepted) = run(text.as_bytes(), Format::FhirJson, Mode::Lenient).unwrap();
    assert_eq!(accepted.len(), 2);
    assert_eq!(report.rejected.len(), 2);
}
