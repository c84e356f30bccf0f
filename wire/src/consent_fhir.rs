//! A consent grant as a FHIR R4 `Consent` resource, both ways, where the mapping is faithful.
//!
//! | grant | FHIR R4 Consent |
//! |---|---|
//! | (any grant) | `status` `active`, `scope` `research` (consentscope), `category` LOINC `57016-8`, `provision.type` `permit` |
//! | purposes | `provision.purpose` (v3-ActReason): research `HRESCH`, treatment `TREAT`, statistics `PUBHLTH` |
//! | indicators | `provision.code`, LOINC codings (none: all data) |
//! | from / to | `provision.dataPeriod.start` / `.end` (the data's effective time) |
//! | expires | `provision.period.end` |
//! | institution | `provision.actor` with role `IRCP` and an identifier in system `urn:hdg:ed25519` |
//!
//! Not faithful, and so refused on import: `deny` provisions and nested provisions (a grant only
//! permits, flatly); codes outside LOINC; purposes other than the three above; actors other than
//! one institution key. `statistics` has no exact v3-ActReason code: `PUBHLTH` (public health)
//! is the nearest and is read back as `statistics`. The patient is not in the resource: a grant
//! binds the key that signs it (whose pseudonym is the patient's). A revocation is not a FHIR
//! resource of its own (FHIR changes the Consent's `status`), so it has no mapping here; nor has
//! an access policy (k-of-n approvers have no Consent element).

use serde_json::{Value, json};

use crate::consent::ConsentBody;
use crate::purpose::Purpose;
use hdg_schema::Timestamp;

const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const LOINC: &str = "http://loinc.org";
const KEY_SYSTEM: &str = "urn:hdg:ed25519";

fn purpose_code(p: Purpose) -> &'static str {
    match p {
        Purpose::Research => "HRESCH",
        Purpose::Treatment => "TREAT",
        Purpose::Statistics => "PUBHLTH",
    }
}

fn time_text(ms: i64) -> String {
    Timestamp(ms).to_string()
}

/// The FHIR R4 `Consent` of a grant (`None` for a revocation or an access policy, which have no
/// faithful resource of their own).
pub fn to_fhir(body: &ConsentBody) -> Option<Value> {
    let ConsentBody::Grant {
        purposes,
        indicators,
        from,
        to,
        institution,
        expires,
    } = body
    else {
        return None;
    };
    let mut provision = json!({
        "type": "permit",
        "purpose": purposes.iter().map(|p| json!({"system": ACT_REASON, "code": purpose_code(*p)})).collect::<Vec<_>>(),
    });
    if !indicators.is_empty() {
        provision["code"] = indicators
            .iter()
            .map(|c| json!({"coding": [{"system": LOINC, "code": c}]}))
            .collect();
    }
    if from.is_some() || to.is_some() {
        let mut period = json!({});
        if let Some(f) = from {
            period["start"] = json!(time_text(*f));
        }
        if let Some(t) = to {
            period["end"] = json!(time_text(*t));
        }
        provision["dataPeriod"] = period;
    }
    if let Some(e) = expires {
        provision["period"] = json!({ "end": time_text(*e) });
    }
    if let Some(i) = institution {
        provision["actor"] = json!([{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
            "reference": {"identifier": {"system": KEY_SYSTEM, "value": i}},
        }]);
    }
    Some(json!({
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]},
        "category": [{"coding": [{"system": LOINC, "code": "57016-8"}]}],
        "provision": provision,
    }))
}

/// Reads a grant from a FHIR R4 `Consent`; an error names the element that cannot be mapped.
pub fn from_fhir(c: &Value) -> Result<ConsentBody, String> {
    if c["resourceType"] != "Consent" {
        return Err("resourceType: not a Consent".into());
    }
    if c["status"] != "active" {
        return Err(format!("status: {} is not active", c["status"]));
    }
    let p = &c["provision"];
    if p["type"] != "permit" {
        return Err("provision.type: only permit provisions map to a grant".into());
    }
    if !p["provision"].is_null() {
        return Err("provision.provision: nested provisions are not supported".into());
    }
    let purposes = p["purpose"]
        .as_array()
        .ok_or("provision.purpose: missing (a grant names its purposes)")?
        .iter()
        .map(
            |code| match (code["system"].as_str(), code["code"].as_str()) {
                (Some(ACT_REASON), Some("HRESCH")) => Ok(Purpose::Research),
                (Some(ACT_REASON), Some("TREAT")) => Ok(Purpose::Treatment),
                (Some(ACT_REASON), Some("PUBHLTH")) => Ok(Purpose::Statistics),
                _ => Err(format!("provision.purpose: {code} has no mapping")),
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    let indicators = match p["code"].as_array() {
        None => Vec::new(),
        Some(codes) => codes
            .iter()
            .map(|c| {
                let coding = &c["coding"][0];
                match (coding["system"].as_str(), coding["code"].as_str()) {
                    (Some(LOINC), Some(code)) => Ok(code.to_string()),
                    _ => Err(format!("provision.code: {c} is not a LOINC code")),
                }
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let time = |v: &Value, field: &str| -> Result<Option<i64>, String> {
        match v.as_str() {
            None if v.is_null() => Ok(None),
            None => Err(format!("{field}: not a dateTime")),
            Some(t) => Timestamp::parse_fhir(t)
                .map(|t| Some(t.0))
                .map_err(|e| format!("{field}: {e}")),
        }
    };
    let from = time(&p["dataPeriod"]["start"], "provision.dataPeriod.start")?;
    let to = time(&p["dataPeriod"]["end"], "provision.dataPeriod.end")?;
    if !p["period"]["start"].is_null() {
        return Err("provision.period.start: a grant is in force from its signature".into());
    }
    let expires = time(&p["period"]["end"], "provision.period.end")?;
    let institution = match p["actor"].as_array().map(Vec::as_slice) {
        None | Some([]) => None,
        Some([actor]) => {
            let id = &actor["reference"]["identifier"];
            if id["system"] != KEY_SYSTEM {
                return Err(format!(
                    "provision.actor: only an institution key in system {KEY_SYSTEM} maps"
                ));
            }
            Some(
                id["value"]
                    .as_str()
                    .ok_or("provision.actor: no key")?
                    .to_string(),
            )
        }
        Some(_) => return Err("provision.actor: at most one institution".into()),
    };
    Ok(ConsentBody::Grant {
        purposes,
        indicators,
        from,
        to,
        institution,
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn purpose() -> impl Strategy<Value = Purpose> {
        prop_oneof![
            Just(Purpose::Research),
            Just(Purpose::Statistics),
            Just(Purpose::Treatment)
        ]
    }

    fn ms() -> impl Strategy<Value = Option<i64>> {
        // Whole milliseconds between 1970 and 2100: what FHIR dateTime text carries.
        proptest::option::of(0i64..4_102_444_800_000)
    }

    proptest! {
        /// Every grant survives export and import unchanged.
        #[test]
        fn a_grant_round_trips_through_fhir(
            purposes in proptest::collection::vec(purpose(), 1..4),
            indicators in proptest::sample::subsequence(vec!["8867-4", "39156-5", "4548-4", "2339-0"], 0..4),
            from in ms(), to in ms(), expires in ms(),
            institution in proptest::option::of("[0-9a-f]{64}"),
        ) {
            let grant = ConsentBody::Grant {
                purposes,
                indicators: indicators.into_iter().map(String::from).collect(),
                from, to, institution, expires,
            };
            let fhir = to_fhir(&grant).unwrap();
            prop_assert_eq!(fhir["resourceType"].as_str(), Some("Consent"));
            prop_assert_eq!(from_fhir(&fhir), Ok(grant));
        }
    }

    #[test]
    fn what_does_not_map_is_refused_naming_the_element() {
        let grant = ConsentBody::Grant {
            purposes: vec![Purpose::Research],
            indicators: vec!["8867-4".into()],
            from: None,
            to: None,
            institution: None,
            expires: None,
        };
        let fhir = to_fhir(&grant).unwrap();
        let refused = |edit: &dyn Fn(&mut Value)| {
            let mut c = fhir.clone();
            edit(&mut c);
            from_fhir(&c).unwrap_err()
        };
        assert!(refused(&|c| c["provision"]["type"] = json!("deny")).contains("provision.type"));
        assert!(refused(&|c| c["status"] = json!("inactive")).contains("status"));
        assert!(refused(&|c| c["provision"]["provision"] = json!([{}])).contains("nested"));
        assert!(
            refused(&|c| c["provision"]["code"][0]["coding"][0]["system"] =
                json!("http://snomed.info/sct"))
            .contains("LOINC")
        );
        assert!(
            refused(&|c| c["provision"]["purpose"][0]["code"] = json!("ETREAT"))
                .contains("provision.purpose")
        );
        assert!(
            to_fhir(&ConsentBody::Revoke {
                consent: "00".repeat(32)
            })
            .is_none()
        );
    }
}
