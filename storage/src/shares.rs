//! Shares at rest: this party's replicated share pairs of observations shared by any node.
//!
//! A party P_i holds (x_i, x_{i+1}) of every shared value x = x_0 + x_1 + x_2 (mod 2^64), with the
//! least metadata the query rules need to select rows without the record: the indicator, the UTC
//! day of the effective time (never the instant), the patient pseudonym, the party index, and the
//! record's handle — an opaque name the home node derives from the record id with a secret key, so
//! nothing a party holds is a function of the value. Rows are keyed (indicator, day, handle),
//! sealed at rest under a key derived from the master key, indexed by a keyed tag of the patient
//! (erasure), and each received batch is anchored by one `ShareReceipt`
//! ledger entry and a new signed head in the same synced write batch — the same durability as
//! [`Store::commit`]. Rows of a patient erased here are dropped on arrival, never stored.

use std::collections::BTreeMap;
use std::fmt;

use hdg_ledger::{EntryKind, LedgerEntry};
use hdg_schema::{Pseudonym, RecordHandle, Timestamp};
use rocksdb::{Direction, IteratorMode, WriteBatch};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::StoreError;
use crate::layout;
use crate::read::TimeRange;
use crate::share_manifest::{self, ManifestEntry};
use crate::share_value::{Sealing, StoredShare};
use crate::store::{Store, append_leaf, corrupt};

/// Number of MPC parties; party indexes are `0..PARTIES`.
pub const PARTIES: u8 = 3;

/// One observation's share as held by one party: metadata in the clear, the pair secret.
///
/// The pair is wiped from memory on drop and never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ShareRow {
    /// The shared record's handle (an opaque name given by its home node).
    #[zeroize(skip)]
    pub handle: RecordHandle,
    /// Its indicator code.
    #[zeroize(skip)]
    pub indicator: String,
    /// The UTC day of its effective time (00:00 UTC of that day).
    #[zeroize(skip)]
    pub day: Timestamp,
    /// Its patient (pairing of indicators per patient, consent and erasure use it).
    #[zeroize(skip)]
    pub patient: Pseudonym,
    /// The party holding this row (0, 1 or 2).
    pub party: u8,
    /// (x_party, x_{party+1 mod 3}).
    pub pair: (u64, u64),
}

impl fmt::Debug for ShareRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareRow")
            .field("handle", &self.handle)
            .field("indicator", &self.indicator)
            .field("day", &self.day)
            .field("patient", &self.patient)
            .field("party", &self.party)
            .field("pair", &"<secret>")
            .finish()
    }
}

/// What a durable [`Store::commit_shares`] did.
#[derive(Debug, Clone)]
pub struct ShareReceipt {
    /// Records whose shares were stored, in handle order.
    pub stored: Vec<RecordHandle>,
    /// Records whose shares were already here (or repeated in the batch): skipped, never stored twice.
    pub duplicates: Vec<RecordHandle>,
    /// Records of patients erased here: dropped, never stored.
    pub dropped: Vec<RecordHandle>,
    /// The batch id (the receipt's ledger subject); `None` when nothing new.
    pub batch_id: Option<[u8; 32]>,
    /// Ledger index of the receipt entry, when one was written.
    pub leaf_index: Option<u64>,
    /// Height of the block this receipt closed, when one was written.
    pub height: Option<u64>,
    /// Ledger size after the commit.
    pub tree_size: u64,
    /// The signed head closing this receipt's block, when one was written.
    pub checkpoint: Option<String>,
}

impl Store {
    /// Stores a batch of share rows received from `from_node` (its ed25519 public key) durably and
    /// anchors one `ShareReceipt` ledger entry for it under a new signed head.
    ///
    /// Rows already stored here (the same indicator, day and handle: a home node splits a record
    /// the same way every time), or whose handle repeats in the batch, are skipped (a retried
    /// send is harmless: a value is never stored twice); rows of a patient erased here are dropped;
    /// when nothing is new, nothing is written. A malformed row (party index out of range,
    /// indicator code too long, a time that is not a UTC day) refuses the whole batch. The
    /// receipt's subject and content hash commit to its manifest ([`share_manifest`]), its actor
    /// is `from_node`.
    pub fn commit_shares(
        &mut self,
        batch: &[ShareRow],
        from_node: [u8; 32],
        now: Timestamp,
    ) -> Result<ShareReceipt, StoreError> {
        batch.iter().try_for_each(check_row)?;
        let keys: Vec<Vec<u8>> = batch
            .iter()
            .map(|r| layout::share_key(&r.indicator, r.day, &r.handle))
            .collect();
        let present = self.stored_share_keys(&keys)?;
        let mut new: BTreeMap<RecordHandle, (&ShareRow, Vec<u8>)> = BTreeMap::new();
        let (mut duplicates, mut dropped) = (Vec::new(), Vec::new());
        let mut erased: BTreeMap<Pseudonym, bool> = BTreeMap::new();
        for ((row, share_key), stored) in batch.iter().zip(keys).zip(present) {
            if stored || new.contains_key(&row.handle) {
                duplicates.push(row.handle);
                continue;
            }
            let gone = match erased.get(&row.patient) {
                Some(g) => *g,
                None => {
                    let g = self.shares_erased(&row.patient)?.is_some();
                    erased.insert(row.patient, g);
                    g
                }
            };
            if gone {
                dropped.push(row.handle);
            } else {
                new.insert(row.handle, (row, share_key));
            }
        }
        let mut receipt = ShareReceipt {
            stored: new.keys().copied().collect(),
            duplicates,
            dropped,
            batch_id: None,
            leaf_index: None,
            height: None,
            tree_size: self.tree_size(),
            checkpoint: None,
        };
        if new.is_empty() {
            return Ok(receipt);
        }

        let mut wb = WriteBatch::default();
        let mut frontier = self.frontier.clone();
        let leaf_index = frontier.size();
        let cipher = self.share_cipher();
        let mut manifest = Vec::with_capacity(new.len());
        let mut sealed_rows = Vec::with_capacity(new.len());
        for (row, share_key) in new.into_values() {
            let sealed = cipher.seal(&share_key, &row.patient, row.party, row.pair);
            manifest.push(ManifestEntry::Row {
                key: share_key.clone(),
                digest: Sha256::digest(&sealed).into(),
            });
            sealed_rows.push((row.patient, share_key, sealed));
        }
        let batch_id = share_manifest::batch_id(&manifest);
        // Each column family's keys go into the batch in key order: RocksDB's memtable then
        // inserts each next to the last (its skip list keeps the splice), instead of searching
        // a memtable of millions of rows from the top for every row.
        let mut patients: Vec<Vec<u8>> = sealed_rows
            .iter()
            .map(|(patient, share_key, _)| self.share_patient_key(patient, share_key))
            .collect();
        patients.sort_unstable();
        for key in &patients {
            wb.put_cf(self.cf(layout::SHARE_PATIENTS), key, []);
        }
        sealed_rows.sort_unstable_by(|a, b| a.1.cmp(&b.1));
        for (_, share_key, sealed) in sealed_rows {
            let value = StoredShare {
                leaf_index,
                batch_id,
                sealing: Sealing::CURRENT,
                sealed,
            };
            wb.put_cf(self.cf(layout::SHARES), &share_key, value.to_bytes());
        }
        let entry = LedgerEntry {
            kind: EntryKind::ShareReceipt,
            subject: batch_id,
            content_hash: share_manifest::content_hash(&manifest),
            actor: from_node,
            time: now.0,
        };
        append_leaf(&mut wb, self, &mut frontier, &entry.to_bytes());
        wb.put_cf(
            self.cf(layout::SHARE_RECEIPTS),
            leaf_index.to_be_bytes(),
            share_manifest::to_bytes(&manifest),
        );
        let head = self.close_block(&mut wb, &frontier, now);
        self.write_durably(wb)?;
        self.advance(frontier, &head);
        receipt.batch_id = Some(batch_id);
        receipt.leaf_index = Some(leaf_index);
        receipt.height = Some(head.height);
        receipt.tree_size = self.tree_size();
        receipt.checkpoint = Some(head.note);
        Ok(receipt)
    }

    /// This party's share rows of `indicator` whose day is in `range`, in handle order.
    pub fn scan_shares(
        &self,
        indicator: &str,
        range: TimeRange,
    ) -> Result<Vec<ShareRow>, StoreError> {
        let mut rows = Vec::new();
        self.visit_shares(indicator, range, |r| rows.push(r))?;
        rows.sort_by_key(|r| r.handle);
        Ok(rows)
    }

    /// Calls `visit` with each of this party's share rows of `indicator` whose day is in
    /// `range`, one at a time as the store is read (nothing is collected), in key order: by
    /// day, then handle. Every party holds the same days and handles, so this order is the same
    /// at the three and they select aligned vectors without sorting.
    pub fn visit_shares(
        &self,
        indicator: &str,
        range: TimeRange,
        mut visit: impl FnMut(ShareRow),
    ) -> Result<(), StoreError> {
        let prefix = layout::indicator_prefix(indicator);
        let mut start = prefix.clone();
        if let Some(f) = range.from {
            start.extend_from_slice(&layout::time_key(f));
        }
        let cipher = self.share_cipher();
        let it = self.db.iterator_cf(
            self.cf(layout::SHARES),
            IteratorMode::From(&start, Direction::Forward),
        );
        for kv in it {
            let (k, v) = kv?;
            if !k.starts_with(&prefix) {
                break;
            }
            let (indicator, day, handle) = layout::decode_index_tail(&k)
                .ok_or_else(|| corrupt("share key", "does not decode"))?;
            if range.to.is_some_and(|e| day >= e) {
                break;
            }
            let what = || format!("share row {handle}");
            let stored =
                StoredShare::from_bytes(&v).ok_or_else(|| corrupt(&what(), "does not decode"))?;
            let opened = cipher
                .open(&k, &stored)
                .ok_or_else(|| corrupt(&what(), "does not open under the share key"))?;
            visit(ShareRow {
                handle,
                indicator,
                day,
                patient: opened.patient,
                party: opened.party,
                pair: *opened.pair,
            });
        }
        Ok(())
    }

    /// The leaf index of the erasure of `patient`'s share rows here, if they were erased.
    pub fn shares_erased(&self, patient: &Pseudonym) -> Result<Option<u64>, StoreError> {
        match self
            .db
            .get_pinned_cf(self.cf(layout::SHARES_ERASED), self.patient_tag(patient))?
        {
            None => Ok(None),
            Some(v) => {
                Ok(Some(u64::from_be_bytes(v.as_ref().try_into().map_err(
                    |_| corrupt("share erasure entry", "not a leaf index"),
                )?)))
            }
        }
    }

    /// A keyed hash of `patient` under a key derived from the master key: how the share indexes
    /// name a patient without naming the pseudonym.
    pub(crate) fn patient_tag(&self, patient: &Pseudonym) -> [u8; 32] {
        *blake3::keyed_hash(self.share_patient_tag_key().expose(), &patient.0).as_bytes()
    }

    /// [`layout::SHARE_PATIENTS`] key of the row at `share_key`: the patient's tag, then the key.
    pub(crate) fn share_patient_key(&self, patient: &Pseudonym, share_key: &[u8]) -> Vec<u8> {
        layout::share_patient_key(&self.patient_tag(patient), share_key)
    }

    /// Whether each of `keys` names a share row stored here, in one batched read (the column
    /// family's bloom filters answer most misses without a search).
    fn stored_share_keys(&self, keys: &[Vec<u8>]) -> Result<Vec<bool>, StoreError> {
        self.db
            .batched_multi_get_cf(self.cf(layout::SHARES), keys, false)
            .into_iter()
            .map(|r| Ok(r?.is_some()))
            .collect()
    }
}

/// Refuses a row that cannot be stored as given.
fn check_row(row: &ShareRow) -> Result<(), StoreError> {
    let refuse = |reason| StoreError::InvalidShareRow {
        record: row.handle,
        reason,
    };
    if row.party >= PARTIES {
        return Err(refuse("party index is not 0, 1 or 2"));
    }
    if row.indicator.is_empty() || row.indicator.len() > 64 {
        return Err(refuse("indicator code is empty or longer than 64 bytes"));
    }
    if !row.day.is_utc_day() || row.day < Timestamp::MIN || row.day > Timestamp::MAX {
        return Err(refuse(
            "effective time is not a UTC day between years 1 and 9999 (a party holds days, never instants)",
        ));
    }
    Ok(())
}
