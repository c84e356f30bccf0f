//! Erasing a patient at this node, in one synced write and one ledger entry, whatever roles the
//! node plays for them:
//!
//! - as their home node: crypto-shred their records (destroy the data key; the sealed bodies stay,
//!   unreadable, so the ledger still verifies), drop their index entries and any value still
//!   waiting to be shared or held for a consent;
//! - as a computing party: delete their share rows (from every hospital) and the rows' index
//!   entries, and turn the rows' manifest entries into erased entries that keep only hashes (row
//!   id and value digest).
//!
//! Either way it leaves two tombstones, even where it held nothing yet: [`layout::ERASED`] for
//! the data key, so no record of the patient is stored here again, and one in
//! [`layout::SHARES_ERASED`], so their rows that arrive later (a share round already under way at
//! their home node) are dropped. An erasure is therefore final, and a repeated one changes
//! nothing ([`Erasure::AlreadyErased`]).
//!
//! The `Erasure` ledger entry has the pseudonym as subject, who asked as actor and, as content
//! hash, SHA-256("hdg erasure v2\n" || records digest || share rows digest): SHA-256 over the
//! erased records' sorted handles, and over the erased rows' sorted row ids. The patient's audit
//! lists it, with the text the caller gave (who asked, never a value) kept beside it. The copies
//! of the request owed to peers are queued in [`layout::ERASURE_OUTBOX`] in the same write.
//!
//! The deleted bytes must also leave the database files, so that neither a destroyed data key
//! nor an erased share survives in a copy of the folder taken later: the write records the key
//! ranges it touched ([`layout::META_COMPACTION`]), and [`Compaction`] flushes and compacts them
//! away — outside the store's lock, and again at the next open if the process died first.

use std::collections::BTreeMap;
use std::sync::Arc;

use hdg_ledger::{EntryKind, LedgerEntry};
use hdg_schema::{Pseudonym, RecordHandle, Timestamp};
use rocksdb::{BottommostLevelCompaction, CompactOptions, DB, WriteBatch};
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::layout;
use crate::patient_log::patient_log_key;
use crate::share_manifest::{self, ManifestEntry};
use crate::share_value::StoredShare;
use crate::store::{Store, append_leaf, cf, corrupt, sorted_digest};

/// What [`Store::erase_patient`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erasure {
    /// The patient was erased here now and the erasure anchored.
    Erased(ErasureReceipt),
    /// An earlier request erased the patient here already; nothing was written.
    AlreadyErased,
}

/// What this node holds of a patient (asked before an erasure, to tell an unknown patient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    /// No record, no share row, no tombstone.
    Nothing,
    /// Records or share rows.
    Data,
    /// Erased already.
    Erased,
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureReceipt {
    /// Records made unreadable (this node is their home).
    pub records: u64,
    /// Share rows deleted (this node is a computing party).
    pub share_rows: u64,
    /// Ledger index of the erasure entry.
    pub leaf_index: u64,
    /// The signed head closing the erasure's block.
    pub checkpoint: String,
}

/// An erasure to carry out here.
#[derive(Debug, Clone)]
pub struct ErasureOrder<'a> {
    /// Whose data.
    pub patient: Pseudonym,
    /// Who asked (the patient's key, or an approving admin's): the entry's actor.
    pub actor: [u8; 32],
    /// How it was asked, for the patient's audit (never a value).
    pub text: &'a str,
    /// The peers still owed the request, and the request (digest, bytes): queued in the same
    /// write, so a crash after it cannot leave them unerased.
    pub owed: Option<(&'a [u16], [u8; 32], &'a [u8])>,
}

/// An erasure request a peer still has to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingErasure {
    /// The peer's node id.
    pub peer: u16,
    /// The request's digest.
    pub digest: [u8; 32],
    /// The request as posted (JSON).
    pub request: Vec<u8>,
}

/// The content hash of an erasure entry from its two parts.
pub(crate) fn erasure_content(records: &[RecordHandle], rows: &[[u8; 32]]) -> [u8; 32] {
    let mut rows = rows.to_vec();
    rows.sort();
    let mut shares = Sha256::new();
    for r in &rows {
        shares.update(r);
    }
    let shares: [u8; 32] = shares.finalize().into();
    let mut h = Sha256::new();
    h.update(b"hdg erasure v2\n");
    h.update(sorted_digest(records));
    h.update(shares);
    h.finalize().into()
}

impl Store {
    /// What this node holds of `patient`.
    pub fn holding(&self, patient: &Pseudonym) -> Result<Holding, StoreError> {
        let key_state = self.db.get_cf(self.cf(layout::KEYS), patient.0)?;
        let erased = self.shares_erased(patient)?.is_some();
        Ok(match key_state {
            Some(v) if v == layout::ERASED && erased => Holding::Erased,
            Some(v) if v != layout::ERASED => Holding::Data,
            _ if !self.patient_share_rows(patient)?.is_empty() => Holding::Data,
            Some(_) => Holding::Erased,
            None if erased => Holding::Erased,
            None => Holding::Nothing,
        })
    }

    /// Erases `order.patient` at this node (see the module doc) and anchors it. The compaction
    /// of what it deleted is left to [`Store::pending_compaction`].
    pub fn erase_patient(
        &mut self,
        order: &ErasureOrder<'_>,
        now: Timestamp,
    ) -> Result<Erasure, StoreError> {
        let patient = &order.patient;
        let mut batch = WriteBatch::default();
        queue_owed(self, &mut batch, order);
        let key_state = self.db.get_cf(self.cf(layout::KEYS), patient.0)?;
        let keys_erased = key_state.as_deref() == Some(layout::ERASED);
        let rows = self.patient_share_rows(patient)?;
        if keys_erased && rows.is_empty() && self.shares_erased(patient)?.is_some() {
            if !batch.is_empty() {
                self.write_durably(batch)?;
            }
            return Ok(Erasure::AlreadyErased);
        }

        let mut frontier = self.frontier.clone();
        let leaf_index = frontier.size();
        let mut touched = Touched::default();
        let records = match key_state {
            Some(_) if keys_erased => Vec::new(),
            Some(_) => self.erase_indexes(patient, &mut batch, &mut touched)?,
            None => Vec::new(),
        };
        if !keys_erased {
            batch.put_cf(self.cf(layout::KEYS), patient.0, layout::ERASED);
            touched.add(layout::KEYS, &patient.0);
        }
        let row_ids = self.erase_share_rows(&rows, leaf_index, &mut batch, &mut touched)?;
        batch.put_cf(
            self.cf(layout::SHARES_ERASED),
            self.patient_tag(patient),
            leaf_index.to_be_bytes(),
        );
        let entry = LedgerEntry {
            kind: EntryKind::Erasure,
            subject: patient.0,
            content_hash: erasure_content(&records, &row_ids),
            actor: order.actor,
            time: now.0,
        };
        append_leaf(&mut batch, self, &mut frontier, &entry.to_bytes());
        batch.put_cf(
            self.cf(layout::ENTRY_TEXT),
            leaf_index.to_be_bytes(),
            order.text.as_bytes(),
        );
        // The patient's audit lists the erasure.
        batch.put_cf(
            self.cf(layout::PATIENT_LOG),
            patient_log_key(patient, leaf_index),
            [],
        );
        batch.put_cf(
            self.cf(layout::META),
            compaction_key(leaf_index),
            touched.to_bytes(),
        );
        let head = self.close_block(&mut batch, &frontier, now);
        self.write_durably(batch)?;
        self.advance(frontier, &head);
        self.forget_data_key(patient);
        self.just_queued.forget(patient);
        // The erasure removed the patient's queued values: count the outbox again (erasures
        // are rare, and this keeps the count exact without tracking which keys existed).
        self.outbox_entries = crate::outbox::count_outbox(&self.db)?;
        Ok(Erasure::Erased(ErasureReceipt {
            records: records.len() as u64,
            share_rows: row_ids.len() as u64,
            leaf_index,
            checkpoint: head.note,
        }))
    }

    /// The compactions erasures still owe (see the module doc), to run without the store's lock.
    pub fn pending_compaction(&self) -> Result<Option<Compaction>, StoreError> {
        Compaction::pending(&self.db)
    }

    /// True when this store holds share receipts: it is a computing party of a cluster (whose
    /// patients are erased through the cluster, never at one node alone).
    pub fn has_share_receipts(&self) -> Result<bool, StoreError> {
        let mut it = self.db.iterator_cf(
            self.cf(layout::SHARE_RECEIPTS),
            rocksdb::IteratorMode::Start,
        );
        Ok(it.next().transpose()?.is_some())
    }

    /// Remembers (synced) that party `peer` still has to receive the erasure request `bytes`
    /// (its digest `digest`).
    pub fn queue_erasure_delivery(
        &mut self,
        peer: u16,
        digest: &[u8; 32],
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(layout::ERASURE_OUTBOX),
            layout::delivery_key(peer, digest),
            bytes,
        );
        self.write_durably(batch)
    }

    /// The erasure deliveries still to make.
    pub fn pending_erasure_deliveries(&self) -> Result<Vec<PendingErasure>, StoreError> {
        let mut out = Vec::new();
        for kv in self.db.iterator_cf(
            self.cf(layout::ERASURE_OUTBOX),
            rocksdb::IteratorMode::Start,
        ) {
            let (k, v) = kv?;
            let (peer, digest) = layout::decode_delivery_key(&k)
                .ok_or_else(|| corrupt("erasure delivery", "not a delivery key"))?;
            out.push(PendingErasure {
                peer,
                digest,
                request: v.to_vec(),
            });
        }
        Ok(out)
    }

    /// Forgets an erasure delivery once the peer took it.
    pub fn erasure_delivered(&mut self, peer: u16, digest: &[u8; 32]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for key in layout::delivery_keys(peer, digest) {
            batch.delete_cf(self.cf(layout::ERASURE_OUTBOX), key);
        }
        self.write_durably(batch)
    }

    /// The patient's share rows here.
    fn patient_share_rows(&self, patient: &Pseudonym) -> Result<Vec<IndexedRow>, StoreError> {
        let tag = self.patient_tag(patient);
        let mut out = Vec::new();
        for kv in self
            .db
            .prefix_iterator_cf(self.cf(layout::SHARE_PATIENTS), tag)
        {
            let (k, _) = kv?;
            if !k.starts_with(&tag) {
                break;
            }
            out.push(IndexedRow {
                index_key: k.to_vec(),
                share_key: k[tag.len()..].to_vec(),
            });
        }
        Ok(out)
    }

    /// Deletes `rows` and their index entries into `batch` and turns their manifest entries into
    /// erased entries naming the erasure at `leaf`; returns the erased rows' ids.
    fn erase_share_rows(
        &self,
        rows: &[IndexedRow],
        leaf: u64,
        batch: &mut WriteBatch,
        touched: &mut Touched,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut by_receipt: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
        for IndexedRow {
            index_key,
            share_key,
        } in rows
        {
            let (_, _, handle) = layout::decode_index_tail(share_key)
                .ok_or_else(|| corrupt("share patient index entry", "does not name a share key"))?;
            let value = self
                .db
                .get_cf(self.cf(layout::SHARES), share_key)?
                .ok_or_else(|| corrupt(&format!("share row {handle}"), "indexed but missing"))?;
            let stored = StoredShare::from_bytes(&value)
                .ok_or_else(|| corrupt(&format!("share row {handle}"), "does not decode"))?;
            by_receipt
                .entry(stored.leaf_index)
                .or_default()
                .push(share_key.clone());
            batch.delete_cf(self.cf(layout::SHARES), share_key);
            batch.delete_cf(self.cf(layout::SHARE_PATIENTS), index_key);
            touched.add(layout::SHARES, share_key);
            touched.add(layout::SHARE_PATIENTS, index_key);
        }
        let mut row_ids = Vec::with_capacity(rows.len());
        for (receipt, keys) in by_receipt {
            let receipt_key = receipt.to_be_bytes();
            let bytes = self
                .db
                .get_cf(self.cf(layout::SHARE_RECEIPTS), receipt_key)?
                .ok_or_else(|| corrupt(&format!("share receipt {receipt}"), "manifest missing"))?;
            let mut manifest = share_manifest::from_bytes(&bytes).ok_or_else(|| {
                corrupt(
                    &format!("share receipt {receipt}"),
                    "manifest does not decode",
                )
            })?;
            for e in &mut manifest {
                if let ManifestEntry::Row { key, digest } = e
                    && keys.contains(key)
                {
                    let row_id = share_manifest::row_id(key);
                    row_ids.push(row_id);
                    *e = ManifestEntry::Erased {
                        row_id,
                        digest: *digest,
                        erasure: leaf,
                    };
                }
            }
            batch.put_cf(
                self.cf(layout::SHARE_RECEIPTS),
                receipt_key,
                share_manifest::to_bytes(&manifest),
            );
            touched.add(layout::SHARE_RECEIPTS, &receipt_key);
        }
        Ok(row_ids)
    }

    /// Removes every index entry of `patient`'s records into `batch`, and any of their values
    /// still queued for sharing or held for a consent; returns their records' handles.
    fn erase_indexes(
        &self,
        patient: &Pseudonym,
        batch: &mut WriteBatch,
        touched: &mut Touched,
    ) -> Result<Vec<RecordHandle>, StoreError> {
        let mut handles = Vec::new();
        for kv in self
            .db
            .prefix_iterator_cf(self.cf(layout::BY_PATIENT), patient.0)
        {
            let (k, _) = kv?;
            if !k.starts_with(&patient.0) {
                break;
            }
            let (indicator, effective, handle) = layout::decode_index_tail(&k[32..])
                .ok_or_else(|| corrupt("patient index entry", "does not decode"))?;
            let by_indicator = layout::by_indicator_key(&indicator, effective, &handle);
            batch.delete_cf(self.cf(layout::BY_PATIENT), &k);
            batch.delete_cf(self.cf(layout::BY_INDICATOR), &by_indicator);
            touched.add(layout::BY_PATIENT, &k);
            touched.add(layout::BY_INDICATOR, &by_indicator);
            // A shredded value must never be secret-shared afterwards.
            if let Some(stored) = self.stored(&handle)? {
                let outbox = crate::outbox::outbox_key(stored.leaf_index);
                batch.delete_cf(self.cf(layout::OUTBOX), outbox);
                touched.add(layout::OUTBOX, &outbox);
            }
            handles.push(handle);
        }
        // Nor a value held back for a consent.
        for kv in self.db.prefix_iterator_cf(self.cf(layout::HELD), patient.0) {
            let (k, _) = kv?;
            if !k.starts_with(&patient.0) {
                break;
            }
            batch.delete_cf(self.cf(layout::HELD), &k);
            touched.add(layout::HELD, &k);
        }
        handles.sort();
        Ok(handles)
    }
}

/// A share row as the patient index names it.
struct IndexedRow {
    /// Its key in [`layout::SHARE_PATIENTS`].
    index_key: Vec<u8>,
    /// Its key in [`layout::SHARES`].
    share_key: Vec<u8>,
}

/// Queues the copies of the request `order` owes peers into `batch`.
fn queue_owed(store: &Store, batch: &mut WriteBatch, order: &ErasureOrder<'_>) {
    if let Some((peers, digest, request)) = order.owed {
        for peer in peers {
            batch.put_cf(
                store.cf(layout::ERASURE_OUTBOX),
                layout::delivery_key(*peer, &digest),
                request,
            );
        }
    }
}

/// [`layout::META`] key of the compaction an erasure at `leaf` owes.
fn compaction_key(leaf: u64) -> Vec<u8> {
    let mut k = layout::META_COMPACTION.to_vec();
    k.extend_from_slice(&leaf.to_be_bytes());
    k
}

/// Key ranges to compact: (column family, first key, last key).
type Ranges = Vec<(String, Vec<u8>, Vec<u8>)>;

/// The key ranges an erasure touched, per column family.
#[derive(Default)]
struct Touched {
    ranges: BTreeMap<&'static str, (Vec<u8>, Vec<u8>)>,
}

impl Touched {
    fn add(&mut self, cf: &'static str, key: &[u8]) {
        let range = self
            .ranges
            .entry(cf)
            .or_insert_with(|| (key.to_vec(), key.to_vec()));
        if key < range.0.as_slice() {
            range.0 = key.to_vec();
        }
        if key > range.1.as_slice() {
            range.1 = key.to_vec();
        }
    }

    /// `count (u16 BE)`, then per range: the family's name (u8 length) and the first and last
    /// keys (u16 lengths).
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = (self.ranges.len() as u16).to_be_bytes().to_vec();
        for (name, (first, last)) in &self.ranges {
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            for k in [first, last] {
                out.extend_from_slice(&(k.len() as u16).to_be_bytes());
                out.extend_from_slice(k);
            }
        }
        out
    }

    fn from_bytes(b: &[u8]) -> Option<Ranges> {
        let (count, mut rest) = b.split_first_chunk::<2>()?;
        let mut out = Vec::new();
        for _ in 0..u16::from_be_bytes(*count) {
            let (&len, r) = rest.split_first()?;
            let (name, r) = r.split_at_checked(usize::from(len))?;
            let (first, r) = key(r)?;
            let (last, r) = key(r)?;
            out.push((String::from_utf8(name.to_vec()).ok()?, first, last));
            rest = r;
        }
        rest.is_empty().then_some(out)
    }
}

fn key(b: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let (len, r) = b.split_first_chunk::<2>()?;
    let (k, r) = r.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
    Some((k.to_vec(), r))
}

/// The compactions erasures owe: flush the memtables, then compact each touched key range to the
/// bottom level, so the deleted values leave the table files (and the write-ahead logs that held
/// them become obsolete and are removed). Holds its own handle on the database, so it runs while
/// others use the store.
pub struct Compaction {
    db: Arc<DB>,
    /// Per erasure: its marker key, and the ranges it touched.
    owed: Vec<(Vec<u8>, Ranges)>,
}

impl Compaction {
    /// The compactions recorded in `db`, if any.
    pub(crate) fn pending(db: &Arc<DB>) -> Result<Option<Compaction>, StoreError> {
        let mut owed = Vec::new();
        for kv in db.prefix_iterator_cf(cf(db, layout::META), layout::META_COMPACTION) {
            let (k, v) = kv?;
            if !k.starts_with(layout::META_COMPACTION) {
                break;
            }
            let ranges = Touched::from_bytes(&v)
                .ok_or_else(|| corrupt("erasure compaction", "does not decode"))?;
            owed.push((k.to_vec(), ranges));
        }
        Ok((!owed.is_empty()).then(|| Compaction {
            db: db.clone(),
            owed,
        }))
    }

    /// Runs the compactions and forgets them.
    pub fn run(self) -> Result<(), StoreError> {
        let cfs: Vec<_> = layout::ALL.iter().map(|name| cf(&self.db, name)).collect();
        self.db
            .flush_cfs_opt(&cfs, &rocksdb::FlushOptions::default())?;
        let mut opts = CompactOptions::default();
        opts.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        for (marker, ranges) in &self.owed {
            for (name, first, last) in ranges {
                let family = self
                    .db
                    .cf_handle(name)
                    .ok_or_else(|| corrupt("erasure compaction", "names no column family"))?;
                // The end of a compaction range is exclusive: extend it past the last key.
                let mut end = last.clone();
                end.push(0);
                self.db
                    .compact_range_cf_opt(family, Some(first), Some(&end), &opts);
            }
            self.db.delete_cf(cf(&self.db, layout::META), marker)?;
        }
        Ok(())
    }
}
