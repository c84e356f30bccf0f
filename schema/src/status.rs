//! `Status`: the FHIR R4 observation status codes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Lifecycle status of an observation, spelled as the FHIR R4 `ObservationStatus` codes.
/// Corrections never overwrite: a new observation with `Amended`/`Corrected`/`EnteredInError`
/// supersedes the old one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// `registered`: exists, no result yet.
    Registered,
    /// `preliminary`: an early, unverified result.
    Preliminary,
    /// `final`: complete and verified.
    Final,
    /// `amended`: changed after being final.
    Amended,
    /// `corrected`: amended to fix an error.
    Corrected,
    /// `cancelled`: will not be completed.
    Cancelled,
    /// `entered-in-error`: should never have existed.
    EnteredInError,
    /// `unknown`: the source does not know.
    Unknown,
}

/// The text is not one of the FHIR R4 observation status codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a FHIR observation status code")]
pub struct StatusError;

impl Status {
    /// Every status, in declaration order.
    pub const ALL: [Status; 8] = [
        Status::Registered,
        Status::Preliminary,
        Status::Final,
        Status::Amended,
        Status::Corrected,
        Status::Cancelled,
        Status::EnteredInError,
        Status::Unknown,
    ];

    /// The FHIR code, e.g. `"entered-in-error"`.
    pub fn as_fhir_code(self) -> &'static str {
        match self {
            Status::Registered => "registered",
            Status::Preliminary => "preliminary",
            Status::Final => "final",
            Status::Amended => "amended",
            Status::Corrected => "corrected",
            Status::Cancelled => "cancelled",
            Status::EnteredInError => "entered-in-error",
            Status::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_fhir_code())
    }
}

impl FromStr for Status {
    type Err = StatusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_fhir_code() == s)
            .ok_or(StatusError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_serde() {
        for st in Status::ALL {
            assert_eq!(st.as_fhir_code().parse::<Status>(), Ok(st));
            assert_eq!(
                serde_json::to_string(&st).unwrap(),
                format!("\"{}\"", st.as_fhir_code())
            );
        }
        assert_eq!("Final".parse::<Status>(), Err(StatusError));
        assert_eq!(Status::EnteredInError.to_string(), "entered-in-error");
    }
}
