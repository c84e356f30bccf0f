//! What data may be used for: the purpose a query names and a patient's consent grants.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What data may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Research studies (researcher queries ask for this by default).
    Research,
    /// Aggregate statistics (public health, quality reports).
    Statistics,
    /// The patient's own treatment.
    Treatment,
}

impl Purpose {
    /// Every purpose, in the order a refusal lists them.
    pub const ALL: [Purpose; 3] = [Purpose::Research, Purpose::Statistics, Purpose::Treatment];

    /// The purpose's name on the wire and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Research => "research",
            Purpose::Statistics => "statistics",
            Purpose::Treatment => "treatment",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A purpose name that is none of [`Purpose::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown purpose {0:?}: research, statistics or treatment")]
pub struct UnknownPurpose(pub String);

impl FromStr for Purpose {
    type Err = UnknownPurpose;

    fn from_str(text: &str) -> Result<Purpose, UnknownPurpose> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.name() == text)
            .ok_or_else(|| UnknownPurpose(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_purpose_reads_back_from_its_name_as_serde_writes_it() {
        for p in Purpose::ALL {
            assert_eq!(p.name().parse::<Purpose>(), Ok(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{p}\""));
        }
        let e = "Research".parse::<Purpose>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown purpose \"Research\": research, statistics or treatment"
        );
    }
}
