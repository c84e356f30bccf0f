//! Ledger entries: what one leaf of the log says happened. An entry holds only hashes and
//! pseudonymous ids, never a raw value, so the ledger can be shared and audited without
//! disclosing health data: `content_hash` commits to the record, consent or query, which stays
//! in (encrypted) storage.
//!
//! Canonical bytes (version 1, 106 bytes, fixed layout; the leaf data of the Merkle log):
//!
//! | offset | len | field                                              |
//! |--------|-----|----------------------------------------------------|
//! | 0      | 1   | format version, `0x01`                             |
//! | 1      | 1   | [`EntryKind`] code                                 |
//! | 2      | 32  | `subject`: what the entry is about (record id, patient pseudonym, query id) |
//! | 34     | 32  | `content_hash`: hash of the anchored content         |
//! | 66     | 32  | `actor`: who acted (node or key pseudonym)           |
//! | 98     | 8   | `time`: unix milliseconds, signed big-endian         |

use crate::hash::{Hash, leaf_hash};

/// Version byte leading the canonical bytes.
pub const ENTRY_FORMAT: u8 = 1;
/// Length of the canonical bytes.
pub const ENTRY_LEN: usize = 106;

/// What kind of event an entry anchors. The codes are stable: they are part of the leaf bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntryKind {
    /// A new observation record was stored.
    Record = 1,
    /// A record superseding an earlier one was stored.
    Correction = 2,
    /// A patient's data key was destroyed (crypto-shredding).
    Erasure = 3,
    /// A patient granted or revoked consent.
    Consent = 4,
    /// A research query was accepted for computation.
    Query = 5,
    /// Someone read records.
    Access = 6,
    /// A node received secret shares from a peer.
    ShareReceipt = 7,
    /// A change to the node registry (peers, keys).
    Registry = 8,
    /// A computation was aborted because a party deviated from the protocol (the subject is
    /// the query's session, the content hash commits to the stored reason naming the parties).
    Abort = 9,
    /// A hospital linked a local patient reference to a patient's key, or undid the link (the
    /// subject is the request's digest, the content hash commits to the stored text, which
    /// names neither the reference nor any value).
    Enrolment = 10,
}

impl EntryKind {
    /// Every kind, in code order.
    pub const ALL: [EntryKind; 10] = [
        EntryKind::Record,
        EntryKind::Correction,
        EntryKind::Erasure,
        EntryKind::Consent,
        EntryKind::Query,
        EntryKind::Access,
        EntryKind::ShareReceipt,
        EntryKind::Registry,
        EntryKind::Abort,
        EntryKind::Enrolment,
    ];

    /// The stable one-byte code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind with this code, if any.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// One event anchored in the ledger (see the module doc for the byte layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LedgerEntry {
    /// What happened.
    pub kind: EntryKind,
    /// What it happened to: a record id, patient pseudonym or query id (a hash, never a name).
    pub subject: [u8; 32],
    /// Hash of the content anchored (sealed record, consent, query text): never the content.
    pub content_hash: [u8; 32],
    /// Who did it: the acting node's or key's pseudonymous id.
    pub actor: [u8; 32],
    /// When, in unix milliseconds.
    pub time: i64,
}

/// Why bytes are not a canonical ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not exactly [`ENTRY_LEN`] bytes.
    #[error("ledger entry: length {0} is not {ENTRY_LEN}")]
    Length(usize),
    /// First byte is not a known format version.
    #[error("ledger entry: unknown format version {0}")]
    Version(u8),
    /// Second byte is not a known [`EntryKind`] code.
    #[error("ledger entry: unknown kind code {0}")]
    Kind(u8),
}

impl LedgerEntry {
    /// The canonical bytes: the leaf data of the Merkle log.
    pub fn to_bytes(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        out[0] = ENTRY_FORMAT;
        out[1] = self.kind.code();
        out[2..34].copy_from_slice(&self.subject);
        out[34..66].copy_from_slice(&self.content_hash);
        out[66..98].copy_from_slice(&self.actor);
        out[98..106].copy_from_slice(&self.time.to_be_bytes());
        out
    }

    /// Decodes canonical bytes, rejecting any other length, version or kind.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntryError> {
        let b: &[u8; ENTRY_LEN] = bytes
            .try_into()
            .map_err(|_| EntryError::Length(bytes.len()))?;
        if b[0] != ENTRY_FORMAT {
            return Err(EntryError::Version(b[0]));
        }
        let field = |at: usize| -> [u8; 32] { b[at..at + 32].try_into().expect("32 bytes") };
        Ok(Self {
            kind: EntryKind::from_code(b[1]).ok_or(EntryError::Kind(b[1]))?,
            subject: field(2),
            content_hash: field(34),
            actor: field(66),
            time: i64::from_be_bytes(b[98..106].try_into().expect("8 bytes")),
        })
    }

    /// The Merkle leaf hash of this entry, `SHA-256(0x00 || canonical bytes)`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind() -> impl Strategy<Value = EntryKind> {
        proptest::sample::select(EntryKind::ALL.to_vec())
    }

    #[test]
    fn layout_is_the_documented_one() {
        let e = LedgerEntry {
            kind: EntryKind::Erasure,
            subject: [0x11; 32],
            content_hash: [0x22; 32],
            actor: [0x33; 32],
            time: -2,
        };
        let b = e.to_bytes();
        assert_eq!(&b[..2], &[1, 3]);
        assert_eq!(b[2..34], [0x11; 32]);
        assert_eq!(b[34..66], [0x22; 32]);
        assert_eq!(b[66..98], [0x33; 32]);
        assert_eq!(b[98..], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        let mut leaf = vec![0u8];
        leaf.extend_from_slice(&b);
        assert_eq!(e.leaf_hash(), crate::hash::sha256(&leaf));
    }

    #[test]
    fn kind_codes_are_stable_and_distinct() {
        let codes: Vec<u8> = EntryKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(EntryKind::from_code(0), None);
        assert_eq!(EntryKind::from_code(11), None);
    }

    proptest! {
        #[test]
        fn bytes_round_trip(kind in kind(), s: [u8; 32], c: [u8; 32], a: [u8; 32], time: i64) {
            let e = LedgerEntry { kind, subject: s, content_hash: c, actor: a, time };
            prop_assert_eq!(LedgerEntry::from_bytes(&e.to_bytes()), Ok(e));
        }

        #[test]
        fn malformed_bytes_are_rejected(kind in kind(), version in 2u8.., code in 11u8.., cut in 0usize..ENTRY_LEN) {
            let e = LedgerEntry { kind, subject: [1; 32], content_hash: [2; 32], actor: [3; 32], time: 4 };
            let mut b = e.to_bytes();
            prop_assert_eq!(LedgerEntry::from_bytes(&b[..cut]), Err(EntryError::Length(cut)));
            let longer = [b.as_slice(), &[0]].concat();
            prop_assert_eq!(LedgerEntry::from_bytes(&longer), Err(EntryError::Length(ENTRY_LEN + 1)));
            b[1] = code;
            prop_assert_eq!(LedgerEntry::from_bytes(&b), Err(EntryError::Kind(code)));
            b[0] = version;
            prop_assert_eq!(LedgerEntry::from_bytes(&b), Err(EntryError::Version(version)));
        }
    }
}
