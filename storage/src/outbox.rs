//! The outbox: records committed here whose values still have to be secret-shared to the three
//! parties.
//!
//! [`Store::commit_with_outbox`] queues every new numeric observation in the same write batch as
//! the record itself, so a crash can never lose a pending sharing. The node sends the pending
//! values ([`Store::outbox_pending`]) and retries until every party has acknowledged; only then
//! does it call [`Store::outbox_done`]. A value is therefore never lost, and never shared twice:
//! a retry after a partial success reaches parties that already hold the share, and their
//! [`Store::commit_shares`] skips rows already present. Entries are keyed by the record's ledger
//! leaf index, so pending values come out oldest first.

use hdg_schema::{Observation, RecordId, Timestamp};
use rocksdb::{IteratorMode, WriteBatch};

use crate::error::StoreError;
use crate::layout;
use crate::store::{CommitReceipt, Store};
use crate::verify::{VerifyError, bad};

/// Key of a record's outbox entry: its ledger leaf index (u64 BE), which orders oldest first.
pub(crate) fn outbox_key(leaf_index: u64) -> [u8; 8] {
    leaf_index.to_be_bytes()
}

impl Store {
    /// [`Store::commit`], and every new numeric observation of the batch is queued for secret
    /// sharing in the same atomic, synced write (duplicates and refused ones are not queued).
    pub fn commit_with_outbox(
        &mut self,
        obs: &[Observation],
        now: Timestamp,
    ) -> Result<CommitReceipt, StoreError> {
        self.commit_observations(obs, now, Some(&|_| true))
    }

    /// [`Store::commit_with_outbox`], queueing only the new numeric observations `share`
    /// accepts (e.g. those of patients who can consent); the others stay local.
    pub fn commit_sharing(
        &mut self,
        obs: &[Observation],
        now: Timestamp,
        share: &dyn Fn(&Observation) -> bool,
    ) -> Result<CommitReceipt, StoreError> {
        self.commit_observations(obs, now, Some(share))
    }

    /// Up to `limit` observations still to be shared, decrypted, oldest first. Records of a patient
    /// erased since (whose entries the erasure removed) never appear.
    pub fn outbox_pending(&self, limit: usize) -> Result<Vec<Observation>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .db
            .iterator_cf(self.cf(layout::OUTBOX), IteratorMode::Start)
        {
            if out.len() >= limit {
                break;
            }
            let (_, v) = kv?;
            let id = RecordId(
                v.as_ref()
                    .try_into()
                    .map_err(|_| crate::store::corrupt("outbox entry", "not a 32-byte id"))?,
            );
            match self.get(&id) {
                Ok(o) => out.push(o),
                Err(StoreError::Erased(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Removes the outbox entries of `ids` in one synced write: call it only once all three parties
    /// acknowledged their shares. Ids with no entry are ignored, so repeating it is harmless.
    pub fn outbox_done(&mut self, ids: &[RecordId]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for id in ids {
            if let Some(stored) = self.stored(id)? {
                batch.delete_cf(self.cf(layout::OUTBOX), outbox_key(stored.leaf_index));
            }
        }
        if !batch.is_empty() {
            self.write_durably(batch)?;
        }
        Ok(())
    }

    /// Number of observations still to be shared.
    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for kv in self
            .db
            .iterator_cf(self.cf(layout::OUTBOX), IteratorMode::Start)
        {
            kv?;
            n += 1;
        }
        Ok(n)
    }

    /// Every outbox entry names a stored record anchored at the leaf it is keyed by.
    pub(crate) fn check_outbox(&self) -> Result<(), VerifyError> {
        for kv in self
            .db
            .iterator_cf(self.cf(layout::OUTBOX), IteratorMode::Start)
        {
            let (k, v) = kv?;
            let id = <[u8; 32]>::try_from(v.as_ref()).map(RecordId);
            let anchored_here = match &id {
                Ok(id) => self
                    .stored(id)?
                    .is_some_and(|s| outbox_key(s.leaf_index).as_slice() == k.as_ref()),
                Err(_) => false,
            };
            if !anchored_here {
                return Err(bad(
                    "outbox entry",
                    hex::encode(&k),
                    "does not name the record anchored at that leaf",
                ));
            }
        }
        Ok(())
    }
}
