//! The manifest of a share receipt: which rows one receipt anchors, so `verify` can name a row that
//! was changed or removed, not just the receipt — and which of them an erasure removed since.
//!
//! Each entry is a row (its share key and the SHA-256 of its sealed value) or, once the patient's
//! rows were erased, what is left of one: its row id (SHA-256 of the key, which names no record
//! and no patient), the same value digest and the ledger leaf of the erasure. The receipt's ledger
//! entry commits to the manifest: its subject (the batch id) is SHA-256 over the entries' row ids,
//! its content hash SHA-256 over their value digests, both in manifest order — so an erasure can
//! drop a row's key from the manifest and both still verify.
//!
//! Layout (version 2): `0x02 | count (u32 BE)` then per entry either
//! `0x01 | key length (u16 BE) | key | digest (32)` (a row) or
//! `0x02 | row id (32) | digest (32) | erasure leaf (u64 BE)` (an erased row).

use hdg_schema::RecordHandle;
use sha2::{Digest, Sha256};

use crate::layout;

const VERSION: u8 = 2;
const TAG_ROW: u8 = 1;
const TAG_ERASED: u8 = 2;
const ROW_ID_DOMAIN: &[u8] = b"hdg share row id v2\n";

/// One entry of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestEntry {
    /// An anchored row, still held.
    Row {
        /// The row's share key (indicator, day, handle).
        key: Vec<u8>,
        /// SHA-256 of the row's sealed value.
        digest: [u8; 32],
    },
    /// A row erased since (the patient's rows were destroyed).
    Erased {
        /// The erased row's id ([`row_id`] of its key).
        row_id: [u8; 32],
        /// SHA-256 of the value it had.
        digest: [u8; 32],
        /// The ledger leaf of the erasure that removed it.
        erasure: u64,
    },
}

impl ManifestEntry {
    /// The handle at the end of a row's key; `None` for an erased row or a key that does not
    /// decode.
    pub fn handle(&self) -> Option<RecordHandle> {
        match self {
            ManifestEntry::Row { key, .. } => layout::decode_index_tail(key).map(|(_, _, h)| h),
            ManifestEntry::Erased { .. } => None,
        }
    }

    /// The entry's row id: for a row, computed from its key.
    pub fn row_id(&self) -> [u8; 32] {
        match self {
            ManifestEntry::Row { key, .. } => row_id(key),
            ManifestEntry::Erased { row_id, .. } => *row_id,
        }
    }

    /// The digest of the row's value.
    pub fn digest(&self) -> [u8; 32] {
        match self {
            ManifestEntry::Row { digest, .. } | ManifestEntry::Erased { digest, .. } => *digest,
        }
    }
}

/// A row's id: SHA-256 over a domain and its share key.
pub fn row_id(share_key: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(ROW_ID_DOMAIN);
    h.update(share_key);
    h.finalize().into()
}

/// Encodes a manifest for the `share_receipts` column family.
pub fn to_bytes(entries: &[ManifestEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + entries.len() * 100);
    out.push(VERSION);
    let count = u32::try_from(entries.len()).expect("a share batch has fewer than 2^32 rows");
    out.extend_from_slice(&count.to_be_bytes());
    for e in entries {
        match e {
            ManifestEntry::Row { key, digest } => {
                out.push(TAG_ROW);
                let klen = u16::try_from(key.len()).expect("share keys are shorter than 64 KiB");
                out.extend_from_slice(&klen.to_be_bytes());
                out.extend_from_slice(key);
                out.extend_from_slice(digest);
            }
            ManifestEntry::Erased {
                row_id,
                digest,
                erasure,
            } => {
                out.push(TAG_ERASED);
                out.extend_from_slice(row_id);
                out.extend_from_slice(digest);
                out.extend_from_slice(&erasure.to_be_bytes());
            }
        }
    }
    out
}

/// Decodes a manifest; `None` for another version, truncation or trailing bytes.
pub fn from_bytes(b: &[u8]) -> Option<Vec<ManifestEntry>> {
    let (&version, b) = b.split_first()?;
    if version != VERSION {
        return None;
    }
    let (count, mut rest) = b.split_first_chunk::<4>()?;
    let count = u32::from_be_bytes(*count) as usize;
    let mut out = Vec::with_capacity(count.min(rest.len() / 35));
    for _ in 0..count {
        let (&tag, r) = rest.split_first()?;
        match tag {
            TAG_ROW => {
                let (klen, r) = r.split_first_chunk::<2>()?;
                let klen = usize::from(u16::from_be_bytes(*klen));
                if r.len() < klen {
                    return None;
                }
                let (key, r) = r.split_at(klen);
                let (digest, r) = r.split_first_chunk::<32>()?;
                out.push(ManifestEntry::Row {
                    key: key.to_vec(),
                    digest: *digest,
                });
                rest = r;
            }
            TAG_ERASED => {
                let (row_id, r) = r.split_first_chunk::<32>()?;
                let (digest, r) = r.split_first_chunk::<32>()?;
                let (leaf, r) = r.split_first_chunk::<8>()?;
                out.push(ManifestEntry::Erased {
                    row_id: *row_id,
                    digest: *digest,
                    erasure: u64::from_be_bytes(*leaf),
                });
                rest = r;
            }
            _ => return None,
        }
    }
    rest.is_empty().then_some(out)
}

/// The receipt's subject, the batch id: SHA-256 over the entries' row ids, in manifest order.
pub fn batch_id(entries: &[ManifestEntry]) -> [u8; 32] {
    let mut h = Sha256::new();
    for e in entries {
        h.update(e.row_id());
    }
    h.finalize().into()
}

/// The receipt's content hash: SHA-256 over the entries' value digests, in manifest order.
pub fn content_hash(entries: &[ManifestEntry]) -> [u8; 32] {
    let mut h = Sha256::new();
    for e in entries {
        h.update(e.digest());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdg_schema::Timestamp;
    use proptest::prelude::*;

    fn entries() -> impl Strategy<Value = Vec<ManifestEntry>> {
        let row = (
            "[0-9]{1,6}-[0-9]",
            any::<i64>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
        )
            .prop_map(|(code, t, h, d)| ManifestEntry::Row {
                key: layout::share_key(&code, Timestamp(t), &RecordHandle(h)),
                digest: d,
            });
        let erased = (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<u64>()).prop_map(
            |(row_id, digest, erasure)| ManifestEntry::Erased {
                row_id,
                digest,
                erasure,
            },
        );
        proptest::collection::vec(prop_oneof![row, erased], 0..8)
    }

    proptest! {
        #[test]
        fn manifests_round_trip_and_refuse_truncation(entries in entries()) {
            let b = to_bytes(&entries);
            prop_assert_eq!(from_bytes(&b), Some(entries.clone()));
            prop_assert!(from_bytes(&b[..b.len() - 1]).is_none());
            let mut longer = b.clone();
            longer.push(0);
            prop_assert!(from_bytes(&longer).is_none());
        }

        #[test]
        fn erasing_a_row_keeps_the_batch_id_and_content_hash(entries in entries(), at in any::<usize>(), leaf: u64) {
            prop_assume!(!entries.is_empty());
            let i = at % entries.len();
            let mut after = entries.clone();
            after[i] = ManifestEntry::Erased {
                row_id: entries[i].row_id(),
                digest: entries[i].digest(),
                erasure: leaf,
            };
            prop_assert_eq!(batch_id(&after), batch_id(&entries));
            prop_assert_eq!(content_hash(&after), content_hash(&entries));
            prop_assert_eq!(after[i].handle(), None);
        }
    }

    #[test]
    fn another_version_is_refused() {
        let mut b = to_bytes(&[]);
        assert_eq!(from_bytes(&b), Some(vec![]));
        b[0] = 1;
        assert_eq!(from_bytes(&b), None);
    }
}
