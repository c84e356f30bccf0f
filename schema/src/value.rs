//! `Value`: what an observation says — a fixed-point quantity, a code, free text, or nothing.

use serde::{Deserialize, Serialize};

/// The value of an observation.
///
/// Only `Quantity` enters MPC. Non-numeric values (codes, text, absent) are kept so no observation
/// is silently dropped; the import report counts them as `non_numeric`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// Fixed-point integer in the indicator's canonical unit at its decimal precision
    /// (e.g. glucose 123.4 mg/dL at precision 1 is `1234`). The catalog gives unit and precision.
    Quantity(i64),
    /// A coded answer (FHIR `valueCodeableConcept`, first coding). Empty strings mean "absent".
    Coded {
        /// Code system URI, e.g. `http://snomed.info/sct`.
        system: String,
        /// The code within that system.
        code: String,
        /// Human-readable text of the code.
        display: String,
    },
    /// Free text (FHIR `valueString`, and other scalar value types rendered as text).
    Text(String),
    /// No value (FHIR observation without `value[x]`, e.g. with a `dataAbsentReason`).
    Absent,
}

impl Value {
    /// True for `Quantity`, the only kind that is summed in MPC.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Value::Quantity(_))
    }
}
