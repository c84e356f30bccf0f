//! The manifest of a share receipt: which rows one receipt anchors, so `verify` can name a row that
//! was changed or removed, not just the receipt.
//!
//! Entries are (share key, SHA-256 of the row's sealed value), sorted by record id. The receipt's
//! ledger entry commits to the manifest: its subject (the batch id) is SHA-256 over the entries'
//! record ids, its content hash is SHA-256 over their value digests, both in this order.
//! Layout: `count (u32 BE)` then per entry `key length (u16 BE) | key | digest (32)`.

use hdg_schema::RecordId;
use sha2::{Digest, Sha256};

use crate::layout;

/// One anchored row: its key in the `shares` column family and the digest of its sealed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The row's share key (indicator, effective, record id).
    pub key: Vec<u8>,
    /// SHA-256 of the row's sealed value.
    pub digest: [u8; 32],
}

impl ManifestEntry {
    /// The record id at the end of the key.
    pub fn record(&self) -> Option<RecordId> {
        layout::decode_index_tail(&self.key).map(|(_, _, id)| id)
    }
}

/// Encodes a manifest for the `share_receipts` column family.
pub fn to_bytes(entries: &[ManifestEntry]) -> Vec<u8> {
    let len: usize = entries.iter().map(|e| 2 + e.key.len() + 32).sum();
    let mut out = Vec::with_capacity(4 + len);
    let count = u32::try_from(entries.len()).expect("a share batch has fewer than 2^32 rows");
    out.extend_from_slice(&count.to_be_bytes());
    for e in entries {
        let klen = u16::try_from(e.key.len()).expect("share keys are shorter than 64 KiB");
        out.extend_from_slice(&klen.to_be_bytes());
        out.extend_from_slice(&e.key);
        out.extend_from_slice(&e.digest);
    }
    out
}

/// Decodes a manifest; `None` when truncated or with trailing bytes.
pub fn from_bytes(b: &[u8]) -> Option<Vec<ManifestEntry>> {
    let (count, mut rest) = b.split_first_chunk::<4>()?;
    let count = u32::from_be_bytes(*count) as usize;
    let mut out = Vec::with_capacity(count.min(rest.len() / 34));
    for _ in 0..count {
        let (klen, r) = rest.split_first_chunk::<2>()?;
        let klen = usize::from(u16::from_be_bytes(*klen));
        if r.len() < klen + 32 {
            return None;
        }
        let (key, r) = r.split_at(klen);
        let (digest, r) = r.split_first_chunk::<32>()?;
        out.push(ManifestEntry {
            key: key.to_vec(),
            digest: *digest,
        });
        rest = r;
    }
    rest.is_empty().then_some(out)
}

/// The receipt's content hash: SHA-256 over the entries' value digests, in manifest order.
pub fn content_hash(entries: &[ManifestEntry]) -> [u8; 32] {
    let mut h = Sha256::new();
    for e in entries {
        h.update(e.digest);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdg_schema::Timestamp;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn manifests_round_trip(rows in proptest::collection::vec(("[0-9]{1,6}-[0-9]", any::<i64>(), any::<[u8; 32]>(), any::<[u8; 32]>()), 0..8)) {
            let entries: Vec<ManifestEntry> = rows
                .iter()
                .map(|(code, t, id, d)| ManifestEntry {
                    key: layout::share_key(code, Timestamp(*t), &RecordId(*id)),
                    digest: *d,
                })
                .collect();
            let b = to_bytes(&entries);
            prop_assert_eq!(from_bytes(&b), Some(entries.clone()));
            prop_assert!(from_bytes(&b[..b.len() - 1]).is_none());
            for (e, (_, _, id, _)) in entries.iter().zip(&rows) {
                prop_assert_eq!(e.record(), Some(RecordId(*id)));
            }
        }
    }
}
