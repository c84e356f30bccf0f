//! Shares at rest: this party's replicated share pairs of observations shared by any node.
//!
//! A party P_i holds (x_i, x_{i+1}) of every shared value x = x_0 + x_1 + x_2 (mod 2^64), with the
//! metadata a party needs to select rows without the record: indicator, effective time, patient
//! pseudonym, its party index and the sharing batch. Rows are keyed like the indicator index
//! (indicator, effective time, record id), sealed at rest under a key derived from the master key,
//! and each received batch is anchored by one `ShareReceipt` ledger entry and a new signed head in
//! the same synced write batch — the same durability as [`Store::commit`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use hdg_ledger::{EntryKind, LedgerEntry};
use hdg_schema::{Pseudonym, RecordId, Timestamp};
use rocksdb::{Direction, IteratorMode, WriteBatch};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::StoreError;
use crate::layout;
use crate::read::TimeRange;
use crate::share_manifest::{self, ManifestEntry};
use crate::share_value::{self, StoredShare};
use crate::store::{Store, append_leaf, corrupt, sorted_ids_digest};

/// Number of MPC parties; party indexes are `0..PARTIES`.
pub const PARTIES: u8 = 3;

/// One observation's share as held by one party: metadata in the clear, the pair secret.
///
/// The pair is wiped from memory on drop and never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ShareRow {
    /// The shared observation (on its home node).
    #[zeroize(skip)]
    pub record: RecordId,
    /// Its indicator code.
    #[zeroize(skip)]
    pub indicator: String,
    /// Its effective time.
    #[zeroize(skip)]
    pub effective: Timestamp,
    /// Its patient (pairing of indicators per patient is done on this metadata).
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
            .field("record", &self.record)
            .field("indicator", &self.indicator)
            .field("effective", &self.effective)
            .field("patient", &self.patient)
            .field("party", &self.party)
            .field("pair", &"<secret>")
            .finish()
    }
}

/// What a durable [`Store::commit_shares`] did.
#[derive(Debug, Clone)]
pub struct ShareReceipt {
    /// Records whose shares were stored, in record-id order.
    pub stored: Vec<RecordId>,
    /// Records whose shares were already here (or repeated in the batch): skipped, never stored twice.
    pub duplicates: Vec<RecordId>,
    /// The batch id: SHA-256 over `stored` (the receipt's ledger subject); `None` when nothing new.
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
    /// Rows whose record already has a share here, or repeated in the batch, are skipped (a retried
    /// send is harmless: a value is never stored twice); when nothing is new, nothing is written.
    /// A malformed row (party index out of range, indicator code too long) refuses the whole batch.
    /// The receipt's subject is SHA-256 over the stored rows' sorted record ids, its content hash
    /// SHA-256 over the SHA-256 of each sealed value in that order, its actor `from_node`.
    pub fn commit_shares(
        &mut self,
        batch: &[ShareRow],
        from_node: [u8; 32],
        now: Timestamp,
    ) -> Result<ShareReceipt, StoreError> {
        batch.iter().try_for_each(check_row)?;
        let present = self.existing_shares(batch)?;
        let mut new: BTreeMap<RecordId, &ShareRow> = BTreeMap::new();
        let mut duplicates = Vec::new();
        for row in batch {
            if present.contains(&row.record) || new.contains_key(&row.record) {
                duplicates.push(row.record);
            } else {
                new.insert(row.record, row);
            }
        }
        let stored: Vec<RecordId> = new.keys().copied().collect();
        let mut receipt = ShareReceipt {
            stored,
            duplicates,
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
        let batch_id = sorted_ids_digest(&receipt.stored);
        let key = self.share_sealing_key();
        let mut manifest = Vec::with_capacity(new.len());
        for (id, row) in &new {
            let share_key = layout::share_key(&row.indicator, row.effective, id);
            let sealed = share_value::seal(&key, &share_key, &row.patient, row.party, row.pair);
            manifest.push(ManifestEntry {
                key: share_key.clone(),
                digest: Sha256::digest(&sealed).into(),
            });
            let value = StoredShare {
                leaf_index,
                batch_id,
                sealed,
            };
            wb.put_cf(self.cf(layout::SHARES), &share_key, value.to_bytes());
            wb.put_cf(self.cf(layout::SHARE_IDS), id.0, &share_key);
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

    /// This party's share rows of `indicator` with an effective time in `range`, in record-id
    /// order: the deterministic row order every party uses, so the three select aligned vectors.
    pub fn scan_shares(
        &self,
        indicator: &str,
        range: TimeRange,
    ) -> Result<Vec<ShareRow>, StoreError> {
        let prefix = layout::indicator_prefix(indicator);
        let mut start = prefix.clone();
        if let Some(f) = range.from {
            start.extend_from_slice(&layout::time_key(f));
        }
        let key = self.share_sealing_key();
        let mut rows = Vec::new();
        let it = self.db.iterator_cf(
            self.cf(layout::SHARES),
            IteratorMode::From(&start, Direction::Forward),
        );
        for kv in it {
            let (k, v) = kv?;
            if !k.starts_with(&prefix) {
                break;
            }
            let (indicator, effective, record) = layout::decode_index_tail(&k)
                .ok_or_else(|| corrupt("share key", "does not decode"))?;
            if range.to.is_some_and(|e| effective >= e) {
                break;
            }
            let what = || format!("share row of record {record}");
            let stored =
                StoredShare::from_bytes(&v).ok_or_else(|| corrupt(&what(), "does not decode"))?;
            let opened = share_value::open(&key, &k, &stored.sealed)
                .ok_or_else(|| corrupt(&what(), "does not open under the share key"))?;
            rows.push(ShareRow {
                record,
                indicator,
                effective,
                patient: opened.patient,
                party: opened.party,
                pair: *opened.pair,
            });
        }
        rows.sort_by_key(|r| r.record);
        Ok(rows)
    }

    /// The records among `batch` that already have a share row here, in one batched read.
    fn existing_shares(&self, batch: &[ShareRow]) -> Result<HashSet<RecordId>, StoreError> {
        let found = self.db.batched_multi_get_cf(
            self.cf(layout::SHARE_IDS),
            batch.iter().map(|r| &r.record.0),
            false,
        );
        let mut out = HashSet::new();
        for (row, r) in batch.iter().zip(found) {
            if r?.is_some() {
                out.insert(row.record);
            }
        }
        Ok(out)
    }
}

/// Refuses a row that cannot be stored as given.
fn check_row(row: &ShareRow) -> Result<(), StoreError> {
    let refuse = |reason| StoreError::InvalidShareRow {
        record: row.record,
        reason,
    };
    if row.party >= PARTIES {
        return Err(refuse("party index is not 0, 1 or 2"));
    }
    if row.indicator.is_empty() || row.indicator.len() > 64 {
        return Err(refuse("indicator code is empty or longer than 64 bytes"));
    }
    Ok(())
}
