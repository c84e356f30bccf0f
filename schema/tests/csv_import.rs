//! CSV import with the documented header.

mod common;

use common::{KEY, lenient, run};
use hdg_schema::{Format, ImportError, Mode, Pseudonym, Status, Timestamp, Value};

const HEADER: &str = "patient,indicator,value,unit,effective,source\n";

#[test]
fn rows_become_observations() {
    let text = format!(
        "{HEADER}Patient/1,2339-0,5.5,mmol/L,2024-05-01T08:30:00+02:00,\"Lab, central\"\n 2 , 72166-2 , never smoked , , 2024-05-02 , \n3,8289-1,,,2024,device-7\n"
    );
    let (report, got) = lenient(text.as_bytes(), Format::Csv);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.accepted_by_indicator.get("2339-0"), Some(&1));
    assert_eq!(report.non_numeric, 2);
    assert_eq!(got[0].patient, Pseudonym::from_reference(&KEY, "Patient/1"));
    assert_eq!(got[0].value, Value::Quantity(991));
    assert_eq!(
        got[0].effective,
        Timestamp::parse_fhir("2024-05-01T06:30:00Z").unwrap()
    );
    assert_eq!(got[0].recorded, got[0].effective);
    assert_eq!(got[0].source, "Lab, central");
    assert_eq!(got[0].status, Status::Final);
    assert_eq!(got[1].patient, Pseudonym::from_reference(&KEY, "Patient/2"));
    assert_eq!(got[1].value, Value::Text("never smoked".into()));
    assert_eq!(got[1].source, "unknown");
    assert_eq!(got[2].value, Value::Absent);
}

#[test]
fn bad_rows_are_rejected_with_their_line() {
    let text = format!(
        "{HEADER}1,8867-4,4000,/min,2020-01-01,\n1,2339-0,5,kg,2020-01-01,\n,8867-4,60,/min,2020-01-01,\n1,8867-4,60,/min,,\n1,8867-4,60,,2020-01-01,\n1,99999-9,1,mg,2020-01-01,\n1,8867-4,60\n1,8867-4,abc,/min,2020-01-01,\n"
    );
    let (report, got) = lenient(text.as_bytes(), Format::Csv);
    assert!(got.is_empty());
    let seen: Vec<(&str, &str)> = report
        .rejected
        .iter()
        .map(|r| (r.entry.as_str(), r.field.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("line 2", "value"),
            ("line 3", "value"),
            ("line 4", "patient"),
            ("line 5", "effective"),
            ("line 6", "unit"),
            ("line 7", "indicator"),
            ("line 8", "row"),
            ("line 9", "value"),
        ]
    );
    assert_eq!(
        report.rejected[0].reason,
        "value out of plausible range for 8867-4"
    );
}

#[test]
fn the_header_is_required() {
    for text in [
        "",
        "patient,indicator,value\n1,2,3\n",
        "indicator,patient,value,unit,effective,source\n",
    ] {
        assert!(
            matches!(
                run(text.as_bytes(), Format::Csv, Mode::Strict),
                Err(ImportError::CsvHeader)
            ),
            "{text:?}"
        );
    }
}
