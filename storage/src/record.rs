//! The value stored under a record id: who it belongs to, where it is anchored, and its sealed body.
//!
//! Layout (version 1): `0x01 | patient (32) | leaf index (u64 BE) | sealed body`. The patient and
//! leaf index are metadata in the clear (needed to find the data key and the proof); the
//! observation itself is only in the sealed body.

use hdg_schema::Pseudonym;

const VERSION: u8 = 1;
const HEADER: usize = 1 + 32 + 8;

/// A record as stored: metadata in the clear, the observation sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Whose data key seals the body.
    pub patient: Pseudonym,
    /// Index of the ledger leaf that anchors this record.
    pub leaf_index: u64,
    /// `nonce || ciphertext` of the observation's canonical bytes.
    pub sealed: Vec<u8>,
}

impl StoredRecord {
    /// Encodes for the `records` column family.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&self.patient.0);
        out.extend_from_slice(&self.leaf_index.to_be_bytes());
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Decodes; `None` for an unknown version or a truncated value.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() < HEADER || b[0] != VERSION {
            return None;
        }
        Some(StoredRecord {
            patient: Pseudonym(b[1..33].try_into().ok()?),
            leaf_index: u64::from_be_bytes(b[33..41].try_into().ok()?),
            sealed: b[HEADER..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(p: [u8; 32], i: u64, sealed in proptest::collection::vec(any::<u8>(), 0..100)) {
            let r = StoredRecord { patient: Pseudonym(p), leaf_index: i, sealed };
            prop_assert_eq!(StoredRecord::from_bytes(&r.to_bytes()), Some(r));
        }
    }

    #[test]
    fn refuses_unknown_versions_and_truncation() {
        let r = StoredRecord {
            patient: Pseudonym([1; 32]),
            leaf_index: 5,
            sealed: vec![1, 2, 3],
        };
        let mut b = r.to_bytes();
        assert!(StoredRecord::from_bytes(&b[..HEADER - 1]).is_none());
        b[0] = 2;
        assert!(StoredRecord::from_bytes(&b).is_none());
    }
}
