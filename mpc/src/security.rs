//! What a party assumes of its peers.
//!
//! `SemiHonest`: the peers follow the protocol; nothing is checked beyond what the protocols
//! check anyway (the recipient's copy check of sealed outputs).
//! `Malicious`: one peer may deviate arbitrarily; every AND gate and every product over Z_2^64
//! is verified by a proof ([`crate::verify`]), every opening is checked against the second
//! holder's copy ([`crate::protocols::reveal`]) before anything uses it, the noise of a private
//! release is drawn by the two holders of each share component alike and compared
//! ([`crate::dp::noise`]), and a deviation aborts naming the parties concerned.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The adversary a party defends against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    /// Peers follow the protocol (they may try to learn from what they see).
    SemiHonest,
    /// One peer may deviate; deviations found abort the computation.
    #[default]
    Malicious,
}

impl Security {
    /// Both modes, the default first.
    pub const ALL: [Security; 2] = [Security::Malicious, Security::SemiHonest];

    /// Whether the parties check each other: openings against the second copy, AND gates by
    /// proofs ([`crate::verify`]).
    pub fn checks(self) -> bool {
        self == Security::Malicious
    }

    /// The mode's name as configs and command lines spell it.
    pub fn name(self) -> &'static str {
        match self {
            Security::SemiHonest => "semi-honest",
            Security::Malicious => "malicious",
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A security mode name that is neither `malicious` nor `semi-honest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown security mode {0:?}: expected \"malicious\" or \"semi-honest\"")]
pub struct UnknownSecurity(pub String);

impl FromStr for Security {
    type Err = UnknownSecurity;

    fn from_str(s: &str) -> Result<Security, UnknownSecurity> {
        Security::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownSecurity(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_others_are_refused() {
        for m in Security::ALL {
            assert_eq!(m.name().parse::<Security>(), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        let e = "malicous".parse::<Security>().unwrap_err();
        assert!(e.to_string().contains("semi-honest"), "{e}");
        assert_eq!(Security::default(), Security::Malicious);
    }
}
