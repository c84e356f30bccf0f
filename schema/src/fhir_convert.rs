//! FHIR R4 Observation (already parsed, subject already resolved) -> `Observation`s.
//!
//! - `valueQuantity` -> `Value::Quantity` through the catalog (unknown indicator, unit not
//!   accepted, out of range, censored `comparator` values: rejected).
//! - `valueInteger` -> `Quantity` in the canonical unit for catalog indicators, else `Text`.
//! - `valueCodeableConcept` -> `Coded` (first coding; text-only concepts -> `Text`).
//! - `valueString` / `valueBoolean` / `valueDateTime` / `valueTime` -> `Text`.
//! - no `value[x]` -> `Value::Absent`: kept as a non-numeric observation, never dropped.
//! - `valueRange` / `valueRatio` / `valueSampledData` / `valuePeriod` -> rejected (not supported).
//! - `component`s (blood-pressure panels) -> one observation per component, sharing the parent's
//!   subject, times, status and source; a panel without its own value yields only its components.
//! - indicator: the first coding whose code is in the catalog, else the first LOINC coding, else
//!   the first coding; LOINC codes are written bare, other systems as `system|code`.
//! - effective: `effectiveDateTime`, `effectiveInstant`, or `effectivePeriod.start`; recorded:
//!   `issued`, else effective; source: device display, performer display, device reference,
//!   performer reference, else `"unknown"`; supersedes: extension `urn:hdg:supersedes`.

use crate::catalog::Catalog;
use crate::fhir_model::{CodeableConcept, Quantity, Resource};
use crate::field_error::FieldError;
use crate::ids::{Pseudonym, RecordId};
use crate::observation::{Observation, ObservationData};
use crate::status::Status;
use crate::time::Timestamp;
use crate::value::Value;

/// Code system of LOINC.
pub const LOINC_SYSTEM: &str = "http://loinc.org";
/// Code system of UCUM units.
pub const UCUM_SYSTEM: &str = "http://unitsofmeasure.org";
/// Extension URL under which `to_fhir` writes `supersedes`.
pub const SUPERSEDES_EXTENSION: &str = "urn:hdg:supersedes";
/// Source used when the input names no device or performer.
pub const UNKNOWN_SOURCE: &str = "unknown";

/// One converted observation, or why one part of the resource was rejected.
pub(crate) type Converted = Result<Observation, FieldError>;

/// Converts an Observation resource; the outer error rejects the whole resource.
pub(crate) fn convert(
    res: &Resource,
    patient: Pseudonym,
    catalog: &Catalog,
) -> Result<Vec<Converted>, FieldError> {
    let status = match res.status.as_deref() {
        None => return Err(FieldError::new("status", "missing status")),
        Some(code) => code
            .parse::<Status>()
            .map_err(|e| FieldError::new("status", e.to_string()))?,
    };
    let effective = effective(res)?;
    let recorded = match res.issued.as_deref() {
        Some(text) => {
            Timestamp::parse_fhir(text).map_err(|e| FieldError::new("issued", e.to_string()))?
        }
        None => effective,
    };
    let base = ObservationData {
        patient,
        indicator: String::new(),
        value: Value::Absent,
        effective,
        source: source(res),
        recorded,
        status,
        supersedes: supersedes(res)?,
    };
    let components = res.component.as_deref().unwrap_or_default();
    let mut out = Vec::with_capacity(1 + components.len());
    if has_value(res) || components.is_empty() {
        out.push(one(res, "", &base, catalog));
    }
    for (i, component) in components.iter().enumerate() {
        out.push(one(component, &format!("component[{i}]."), &base, catalog));
    }
    Ok(out)
}

fn one(part: &Resource, prefix: &str, base: &ObservationData, catalog: &Catalog) -> Converted {
    let code = part
        .code
        .as_ref()
        .ok_or_else(|| FieldError::new(format!("{prefix}code"), "missing code"))?;
    let indicator = choose_indicator(code, catalog)
        .ok_or_else(|| FieldError::new(format!("{prefix}code"), "no coding with a code"))?;
    let value = value_of(part, &indicator, catalog, prefix)?;
    Ok(Observation::new(ObservationData {
        indicator,
        value,
        ..base.clone()
    }))
}

/// The indicator string of a code (see the module doc).
pub(crate) fn choose_indicator(code: &CodeableConcept, catalog: &Catalog) -> Option<String> {
    let candidates: Vec<(String, bool)> = code
        .coding
        .iter()
        .flatten()
        .filter_map(|c| {
            let value = c.code.as_deref().filter(|v| !v.is_empty())?;
            Some(match c.system.as_deref() {
                Some(LOINC_SYSTEM) => (value.to_string(), true),
                Some(system) if !system.is_empty() => (format!("{system}|{value}"), false),
                _ => (value.to_string(), false),
            })
        })
        .collect();
    let in_catalog = candidates.iter().find(|(c, _)| catalog.get(c).is_some());
    let loinc = candidates.iter().find(|(_, is_loinc)| *is_loinc);
    in_catalog
        .or(loinc)
        .or(candidates.first())
        .map(|(c, _)| c.clone())
}

fn effective(res: &Resource) -> Result<Timestamp, FieldError> {
    let (field, text) = if let Some(t) = &res.effective_date_time {
        ("effectiveDateTime", t)
    } else if let Some(t) = &res.effective_instant {
        ("effectiveInstant", t)
    } else if let Some(t) = res.effective_period.as_ref().and_then(|p| p.start.as_ref()) {
        ("effectivePeriod.start", t)
    } else {
        return Err(FieldError::new("effective[x]", "missing effective time"));
    };
    Timestamp::parse_fhir(text).map_err(|e| FieldError::new(field, e.to_string()))
}

fn source(res: &Resource) -> String {
    let device = res.device.as_ref();
    let performer = res.performer.as_ref().and_then(|p| p.first());
    device
        .and_then(|d| d.display.clone())
        .or_else(|| performer.and_then(|p| p.display.clone()))
        .or_else(|| device.and_then(|d| d.reference.clone()))
        .or_else(|| performer.and_then(|p| p.reference.clone()))
        .unwrap_or_else(|| UNKNOWN_SOURCE.to_string())
}

fn supersedes(res: &Resource) -> Result<Option<RecordId>, FieldError> {
    let Some(ext) = res
        .extension
        .iter()
        .flatten()
        .find(|e| e.url.as_deref() == Some(SUPERSEDES_EXTENSION))
    else {
        return Ok(None);
    };
    let text = ext.value_string.as_deref().unwrap_or_default();
    text.parse().map(Some).map_err(|_| {
        FieldError::new(
            "extension",
            "supersedes is not a record id (64 lowercase hex digits)",
        )
    })
}

fn has_value(x: &Resource) -> bool {
    value_kinds(x).next().is_some()
}

fn value_kinds(x: &Resource) -> impl Iterator<Item = &'static str> {
    [
        ("valueQuantity", x.value_quantity.is_some()),
        ("valueCodeableConcept", x.value_codeable_concept.is_some()),
        ("valueString", x.value_string.is_some()),
        ("valueBoolean", x.value_boolean.is_some()),
        ("valueInteger", x.value_integer.is_some()),
        ("valueDateTime", x.value_date_time.is_some()),
        ("valueTime", x.value_time.is_some()),
        ("valueRange", x.value_range.is_some()),
        ("valueRatio", x.value_ratio.is_some()),
        ("valueSampledData", x.value_sampled_data.is_some()),
        ("valuePeriod", x.value_period.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
}

fn value_of(
    x: &Resource,
    indicator: &str,
    catalog: &Catalog,
    prefix: &str,
) -> Result<Value, FieldError> {
    let mut kinds = value_kinds(x);
    let Some(kind) = kinds.next() else {
        return Ok(Value::Absent);
    };
    if kinds.next().is_some() {
        return Err(FieldError::new(
            format!("{prefix}value[x]"),
            "more than one value[x]",
        ));
    }
    let field = format!("{prefix}{kind}");
    if let Some(q) = &x.value_quantity {
        return quantity(q, indicator, catalog, &field).map(Value::Quantity);
    }
    if let Some(cc) = &x.value_codeable_concept {
        return Ok(match cc.coding.as_ref().and_then(|c| c.first()) {
            Some(c) => Value::Coded {
                system: c.system.clone().unwrap_or_default(),
                code: c.code.clone().unwrap_or_default(),
                display: c.display.clone().unwrap_or_default(),
            },
            None => cc.text.clone().map_or(Value::Absent, Value::Text),
        });
    }
    if let Some(i) = x.value_integer {
        return Ok(match catalog.get(indicator) {
            Some(ind) => Value::Quantity(
                ind.encode(&i.to_string(), &ind.unit)
                    .map_err(|e| FieldError::new(field, e.to_string()))?,
            ),
            None => Value::Text(i.to_string()),
        });
    }
    let text = x
        .value_string
        .clone()
        .or_else(|| x.value_boolean.map(|b| b.to_string()))
        .or_else(|| x.value_date_time.clone())
        .or_else(|| x.value_time.clone());
    text.map(Value::Text)
        .ok_or_else(|| FieldError::new(field, "value type not supported"))
}

fn quantity(
    q: &Quantity,
    indicator: &str,
    catalog: &Catalog,
    field: &str,
) -> Result<i64, FieldError> {
    if q.comparator.is_some() {
        return Err(FieldError::new(
            format!("{field}.comparator"),
            "censored values (comparator) are not supported",
        ));
    }
    let raw = q
        .value
        .as_ref()
        .ok_or_else(|| FieldError::new(format!("{field}.value"), "missing value"))?;
    let text = raw.get();
    if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err(FieldError::new(
            format!("{field}.value"),
            "value is not a JSON number",
        ));
    }
    let ucum_code = q
        .code
        .as_deref()
        .filter(|_| q.system.as_deref().is_none_or(|s| s == UCUM_SYSTEM));
    let unit = ucum_code
        .or(q.unit.as_deref())
        .ok_or_else(|| FieldError::new(format!("{field}.code"), "missing unit"))?;
    let indicator = catalog.get(indicator).ok_or_else(|| {
        FieldError::new(
            field,
            format!("unknown indicator {indicator} (not in the catalog) for a numeric value"),
        )
    })?;
    indicator
        .encode(text, unit)
        .map_err(|e| FieldError::new(field, e.to_string()))
}
