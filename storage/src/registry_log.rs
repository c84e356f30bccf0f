//! Approved changes to the cluster's identity registry, kept in order so a node that restarts
//! applies them again on top of its registry file; each is anchored by a `Registry` ledger entry
//! written in the same synced batch (subject the request digest, content hash SHA-256 of the
//! stored request, actor its first approver).

use hdg_ledger::{EntryKind, LedgerEntry, sha256};
use hdg_schema::Timestamp;
use rocksdb::{IteratorMode, WriteBatch};

use crate::error::StoreError;
use crate::layout;
use crate::store::{Store, append_leaf};

impl Store {
    /// Stores an approved registry change (`request`: its JSON, verified by the caller) and
    /// anchors it in one synced write; the entry's leaf index and the new signed head, or `None`
    /// when a change with this `subject` is already held (a retried replication).
    pub fn record_registry_change(
        &mut self,
        subject: [u8; 32],
        request: &[u8],
        actor: [u8; 32],
        now: Timestamp,
    ) -> Result<Option<(u64, String)>, StoreError> {
        if self
            .db
            .get_cf(self.cf(layout::REGISTRY_CHANGES), subject)?
            .is_some()
        {
            return Ok(None);
        }
        let entry = LedgerEntry {
            kind: EntryKind::Registry,
            subject,
            content_hash: sha256(request),
            actor,
            time: now.0,
        };
        let mut batch = WriteBatch::default();
        let mut frontier = self.frontier.clone();
        let leaf = frontier.size();
        append_leaf(&mut batch, self, &mut frontier, &entry.to_bytes());
        // Keyed by subject (duplicate check); the value starts with the leaf index (order).
        let mut value = leaf.to_be_bytes().to_vec();
        value.extend_from_slice(request);
        batch.put_cf(self.cf(layout::REGISTRY_CHANGES), subject, value);
        let head = self.close_block(&mut batch, &frontier, now);
        self.write_durably(batch)?;
        self.advance(frontier, &head);
        Ok(Some((leaf, head.note)))
    }

    /// Every registry change held, in the order they were anchored.
    pub fn registry_changes(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .db
            .iterator_cf(self.cf(layout::REGISTRY_CHANGES), IteratorMode::Start)
        {
            let (_, v) = kv?;
            let (leaf, request) = v.split_first_chunk::<8>().ok_or_else(|| {
                crate::store::corrupt("registry change", "shorter than its leaf index")
            })?;
            out.push((u64::from_be_bytes(*leaf), request.to_vec()));
        }
        out.sort_by_key(|(leaf, _)| *leaf);
        Ok(out.into_iter().map(|(_, r)| r).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_come_back_in_anchor_order_once_each() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut s = Store::open(dir.path(), true, &crate::keyring::test_keys()).unwrap();
        let now = Timestamp(1_700_000_000_000);
        s.record_registry_change([9; 32], b"first", [1; 32], now)
            .unwrap()
            .unwrap();
        s.record_registry_change([1; 32], b"second", [1; 32], now)
            .unwrap()
            .unwrap();
        assert_eq!(
            s.record_registry_change([9; 32], b"first", [1; 32], now)
                .unwrap(),
            None
        );
        assert_eq!(
            s.registry_changes().unwrap(),
            vec![b"first".to_vec(), b"second".to_vec()]
        );
        s.verify(&s.verifier()).unwrap();
    }
}
