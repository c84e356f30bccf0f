//! 32-byte identifiers shown as lowercase hex: record ids, record handles and patient pseudonyms.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a hex identifier string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 64 lowercase hex digits")]
pub struct HexIdError;

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The raw 32 bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = HexIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                // Only the lowercase form is accepted, so each id has one spelling.
                if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(HexIdError);
                }
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out).map_err(|_| HexIdError)?;
                Ok($name(out))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_string())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(
    /// Identifier of one observation: SHA-256 of its canonical bytes, so the same observation has
    /// the same id on every node.
    RecordId
);

hex_id!(
    /// The name of a record everywhere outside its sealed body — store keys, indexes, the
    /// ledger, share rows at the other parties, row digests: a keyed hash of its [`RecordId`]
    /// under a secret of its home node. A record id is a hash of low-entropy content (one value
    /// in a catalog range, with metadata a peer knows), so it must never leave the home node's
    /// sealed bodies; a handle reveals nothing about the record without that secret.
    RecordHandle
);

hex_id!(
    /// A patient's pseudonym: a keyed hash, never a name, MRN or raw FHIR id (see `pseudonym`).
    Pseudonym
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_lowercase_only() {
        let id = RecordId([0xab; 32]);
        let text = id.to_string();
        assert_eq!(text, "ab".repeat(32));
        assert_eq!(text.parse::<RecordId>(), Ok(id));
        assert_eq!("AB".repeat(32).parse::<RecordId>(), Err(HexIdError));
        assert_eq!("ab".repeat(31).parse::<RecordId>(), Err(HexIdError));
        assert_eq!("zz".repeat(32).parse::<Pseudonym>(), Err(HexIdError));
    }

    #[test]
    fn serde_as_hex_string() {
        let p = Pseudonym([1; 32]);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!("\"{}\"", "01".repeat(32)));
        assert_eq!(serde_json::from_str::<Pseudonym>(&json).unwrap(), p);
        assert!(serde_json::from_str::<Pseudonym>("\"00\"").is_err());
    }
}
