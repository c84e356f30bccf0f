//! The subset of FHIR R4 JSON that import reads, as serde structs. Unknown fields are skipped.
//! Quantity values stay raw JSON number text so they are parsed as decimals, never as floats.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// An Observation, a Patient, or an Observation `component` (which has a subset of the fields).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Resource {
    pub resource_type: Option<String>,
    pub id: Option<String>,
    pub status: Option<String>,
    pub code: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub effective_date_time: Option<String>,
    pub effective_instant: Option<String>,
    pub effective_period: Option<Period>,
    pub issued: Option<String>,
    pub value_quantity: Option<Quantity>,
    pub value_codeable_concept: Option<CodeableConcept>,
    pub value_string: Option<String>,
    pub value_boolean: Option<bool>,
    pub value_integer: Option<i64>,
    pub value_date_time: Option<String>,
    pub value_time: Option<String>,
    pub value_range: Option<IgnoredAny>,
    pub value_ratio: Option<IgnoredAny>,
    pub value_sampled_data: Option<IgnoredAny>,
    pub value_period: Option<IgnoredAny>,
    pub component: Option<Vec<Resource>>,
    pub device: Option<Reference>,
    pub performer: Option<Vec<Reference>>,
    pub extension: Option<Vec<Extension>>,
}

#[derive(Deserialize, Default)]
pub(crate) struct CodeableConcept {
    pub coding: Option<Vec<Coding>>,
    pub text: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Quantity {
    pub value: Option<Box<RawValue>>,
    pub comparator: Option<String>,
    pub unit: Option<String>,
    pub system: Option<String>,
    pub code: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Reference {
    pub reference: Option<String>,
    pub identifier: Option<Identifier>,
    pub display: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Identifier {
    pub system: Option<String>,
    pub value: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Period {
    pub start: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Extension {
    pub url: Option<String>,
    pub value_string: Option<String>,
}

/// A Bundle entry: only `fullUrl` and `resource` matter; `request`, `search` etc. are skipped.
#[derive(Deserialize)]
pub(crate) struct RawEntry {
    #[serde(rename = "fullUrl")]
    pub full_url: Option<Box<RawValue>>,
    pub resource: Option<Box<RawValue>>,
}
