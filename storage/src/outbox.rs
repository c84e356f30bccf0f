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

use std::collections::BTreeMap;

use hdg_schema::{Observation, Pseudonym, RecordHandle, Timestamp};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};

use crate::error::StoreError;
use crate::layout;
use crate::store::{CommitReceipt, Store};
use crate::verify::{VerifyError, bad};

/// A value still to be shared, as [`Store::outbox_pending`] gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Its outbox entry: the leaf index of its record (what [`Store::outbox_done`] takes).
    pub leaf_index: u64,
    /// The record's handle (what the parties name the row by).
    pub handle: RecordHandle,
    /// The observation, decrypted.
    pub observation: Observation,
}

/// Values committed to the outbox by this store handle, kept in memory until
/// [`Store::outbox_pending`] hands them on: at most [`JustQueued::CAPACITY`] (values beyond
/// it, and every value after a restart, are read back from their records as before).
#[derive(Default)]
pub(crate) struct JustQueued(BTreeMap<u64, (RecordHandle, Observation)>);

impl JustQueued {
    /// Values kept at most (each an observation, a few hundred bytes).
    pub(crate) const CAPACITY: usize = 1 << 16;

    /// Keeps the value queued under `leaf_index`, while there is room.
    pub(crate) fn keep(&mut self, leaf_index: u64, handle: RecordHandle, o: &Observation) {
        if self.0.len() < Self::CAPACITY {
            self.0.insert(leaf_index, (handle, o.clone()));
        }
    }

    /// The value queued under `leaf_index` for `handle`, taken out (so a retry reads it back).
    fn take(&mut self, leaf_index: u64, handle: &RecordHandle) -> Option<Observation> {
        match self.0.remove(&leaf_index) {
            Some((h, o)) if h == *handle => Some(o),
            _ => None,
        }
    }

    /// Forgets every value of `patient` (erased: none of them may be shared).
    pub(crate) fn forget(&mut self, patient: &Pseudonym) {
        self.0.retain(|_, (_, o)| o.patient != *patient);
    }
}

/// What happens to a committed numeric value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Queued in the outbox: secret-shared to the three parties.
    Now,
    /// Held until a consent covers it ([`Store::release_held`] then queues it).
    Held,
    /// Kept at this node only.
    Never,
}

/// Key of a held value: the patient's pseudonym, then the record's leaf index.
pub(crate) fn held_key(patient: &Pseudonym, leaf_index: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&patient.0);
    k[32..].copy_from_slice(&leaf_index.to_be_bytes());
    k
}

/// Key of a record's outbox entry: its ledger leaf index (u64 BE), which orders oldest first.
pub(crate) fn outbox_key(leaf_index: u64) -> [u8; 8] {
    leaf_index.to_be_bytes()
}

/// The entries in the outbox, counted by a scan (at open, and after an erasure).
pub(crate) fn count_outbox(db: &DB) -> Result<u64, StoreError> {
    let cf = crate::store::cf(db, layout::OUTBOX);
    let mut n = 0;
    for kv in db.iterator_cf(cf, IteratorMode::Start) {
        kv?;
        n += 1;
    }
    Ok(n)
}

impl Store {
    /// [`Store::commit`], and every new numeric observation of the batch is queued for secret
    /// sharing in the same atomic, synced write (duplicates and refused ones are not queued).
    pub fn commit_with_outbox(
        &mut self,
        obs: &[Observation],
        now: Timestamp,
    ) -> Result<CommitReceipt, StoreError> {
        self.commit_observations(obs, now, None, Some(&|_| Sharing::Now))
    }

    /// [`Store::commit_with_outbox`] where `decide` says, per new numeric observation, whether it
    /// is queued now, held until a consent covers it, or kept local — in the same write — and the
    /// records' ledger entries name `source` (the key of the feed that posted them) as actor.
    pub fn commit_sharing(
        &mut self,
        obs: &[Observation],
        now: Timestamp,
        source: [u8; 32],
        decide: &dyn Fn(&Observation) -> Sharing,
    ) -> Result<CommitReceipt, StoreError> {
        self.commit_observations(obs, now, Some(source), Some(decide))
    }

    /// Moves `patient`'s held values that `covers` accepts into the outbox, in one synced
    /// write; returns how many. Values of an erased patient are dropped.
    pub fn release_held(
        &mut self,
        patient: &Pseudonym,
        covers: &dyn Fn(&Observation) -> bool,
    ) -> Result<usize, StoreError> {
        let mut batch = WriteBatch::default();
        let mut released = 0;
        for kv in self.db.prefix_iterator_cf(self.cf(layout::HELD), patient.0) {
            let (k, v) = kv?;
            if !k.starts_with(&patient.0) {
                break;
            }
            let leaf = k
                .get(32..40)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .ok_or_else(|| crate::store::corrupt("held entry", "not 40 bytes"))?;
            let handle = RecordHandle(
                v.as_ref()
                    .try_into()
                    .map_err(|_| crate::store::corrupt("held entry", "not a 32-byte handle"))?,
            );
            match self.get_handle(&handle) {
                Ok(o) if covers(&o) => {
                    batch.delete_cf(self.cf(layout::HELD), &k);
                    batch.put_cf(self.cf(layout::OUTBOX), leaf, handle.0);
                    released += 1;
                }
                Ok(_) => {}
                Err(StoreError::Erased(_)) => batch.delete_cf(self.cf(layout::HELD), &k),
                Err(e) => return Err(e),
            }
        }
        if !batch.is_empty() {
            self.write_durably(batch)?;
        }
        self.outbox_entries += released as u64;
        // Released values keep their old leaf index, which may lie below the scan's floor.
        if released > 0 {
            self.outbox_floor = 0;
        }
        Ok(released)
    }

    /// Up to `limit` observations still to be shared, decrypted, with their handles and outbox
    /// entries, oldest first. Records of a patient erased since (whose entries the erasure
    /// removed) never appear.
    ///
    /// The scan starts at a floor below which no key is live: shared entries are deleted
    /// oldest first, and a scan from the first key would step over every deletion since the
    /// last compaction, each time. New entries are keyed by new leaf indexes, above the floor;
    /// only values released from hold can come below it, and a release lowers the floor.
    pub fn outbox_pending(&mut self, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let mut out = Vec::new();
        let floor = outbox_key(self.outbox_floor);
        let mut first = None;
        for kv in self.db.iterator_cf(
            self.cf(layout::OUTBOX),
            IteratorMode::From(&floor, Direction::Forward),
        ) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv?;
            let leaf_index = <[u8; 8]>::try_from(k.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| crate::store::corrupt("outbox key", "not a leaf index"))?;
            first.get_or_insert(leaf_index);
            let handle = RecordHandle(
                v.as_ref()
                    .try_into()
                    .map_err(|_| crate::store::corrupt("outbox entry", "not a 32-byte handle"))?,
            );
            if let Some(observation) = self.just_queued.take(leaf_index, &handle) {
                out.push(Pending {
                    leaf_index,
                    handle,
                    observation,
                });
                continue;
            }
            match self.get_handle(&handle) {
                Ok(observation) => out.push(Pending {
                    leaf_index,
                    handle,
                    observation,
                }),
                Err(StoreError::Erased(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(first) = first {
            self.outbox_floor = first;
        }
        Ok(out)
    }

    /// Removes the outbox entries `leaf_indexes` (as [`Pending::leaf_index`] named them) in
    /// one synced write: call it only once all three parties acknowledged their shares. Indexes
    /// with no entry (already removed, or erased since) are ignored, so repeating it is
    /// harmless. The records themselves are not read.
    pub fn outbox_done(&mut self, leaf_indexes: &[u64]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        let mut removed = 0;
        let mut seen = std::collections::HashSet::new();
        for &leaf_index in leaf_indexes {
            let key = outbox_key(leaf_index);
            if seen.insert(leaf_index)
                && self
                    .db
                    .get_pinned_cf(self.cf(layout::OUTBOX), key)?
                    .is_some()
            {
                batch.delete_cf(self.cf(layout::OUTBOX), key);
                removed += 1;
            }
        }
        if !batch.is_empty() {
            self.write_durably(batch)?;
        }
        self.outbox_entries -= removed;
        Ok(())
    }

    /// Number of observations still to be shared (kept by every write, not counted).
    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        Ok(self.outbox_entries)
    }

    /// Every outbox entry names a stored record anchored at the leaf it is keyed by.
    pub(crate) fn check_outbox(&self) -> Result<(), VerifyError> {
        for kv in self
            .db
            .iterator_cf(self.cf(layout::OUTBOX), IteratorMode::Start)
        {
            let (k, v) = kv?;
            let id = <[u8; 32]>::try_from(v.as_ref()).map(RecordHandle);
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
