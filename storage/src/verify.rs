//! `verify`: re-derive every hash and signature from what is on disk and name the first bad entry.
//!
//! Walks the ledger leaves in order, recomputing the Merkle tree (and comparing every stored
//! perfect node), checks each signed head's signature, height, time and root against the tree at
//! its size, checks each record's sealed body against its leaf's content hash and its decrypted
//! body against its id and index entries, checks erasures against the erased records, and checks
//! that the indexes hold nothing beyond what the records imply; checks every share receipt against
//! the share rows it anchors (see `verify_shares`) and every outbox entry against its record.

use std::collections::{BTreeMap, HashMap};

use hdg_ledger::{
    Checkpoint, EntryKind, Frontier, Hash, LedgerEntry, NoteVerifier, leaf_hash, sha256,
};
use hdg_schema::{Pseudonym, RecordHandle};
use rocksdb::IteratorMode;
use sha2::{Digest, Sha256};

use crate::erasure::erasure_content;
use crate::error::StoreError;
use crate::layout;
use crate::seal;
use crate::store::Store;
use crate::verify_shares::SharesSeen;

/// What a clean verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    /// Ledger leaves re-hashed.
    pub leaves: u64,
    /// Records decrypted and checked against their ids and indexes.
    pub records: u64,
    /// Records of erased patients, checked against their erasure entries instead.
    pub shredded: u64,
    /// Share rows checked against their share receipts.
    pub shares: u64,
    /// Signed heads checked.
    pub heads: u64,
    /// Root of the whole ledger.
    pub root: Hash,
}

/// Why verification stopped: the first bad entry, or a store that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// An entry on disk does not match what the rest of the store implies.
    #[error("{kind} {id}: {what}")]
    Bad {
        /// What sort of entry: "record", "ledger leaf", "ledger node", "head", "index entry", ...
        kind: &'static str,
        /// Which one (record id, leaf index, height, ...).
        id: String,
        /// What differs.
        what: String,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rocksdb::Error> for VerifyError {
    fn from(e: rocksdb::Error) -> Self {
        VerifyError::Store(StoreError::Db(e))
    }
}

pub(crate) fn bad(kind: &'static str, id: impl ToString, what: impl Into<String>) -> VerifyError {
    VerifyError::Bad {
        kind,
        id: id.to_string(),
        what: what.into(),
    }
}

struct HeadCheck {
    height: u64,
    root: Hash,
}

impl Store {
    /// Verifies the whole store against `verifier` (the node's published key; see [`Store::vkey`]).
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<VerifySummary, VerifyError> {
        let heads = self.check_heads(verifier)?;
        let erased = self.erased_patients()?;
        let mut erased_ids: HashMap<Pseudonym, Vec<RecordHandle>> =
            erased.iter().map(|p| (*p, Vec::new())).collect();
        let mut shares = SharesSeen::default();
        let mut frontier = Frontier::new();
        let mut summary = VerifySummary {
            leaves: 0,
            records: 0,
            shredded: 0,
            shares: 0,
            heads: heads.len() as u64,
            root: frontier.root(),
        };

        for kv in self
            .db
            .iterator_cf(self.cf(layout::LEDGER_LEAVES), IteratorMode::Start)
        {
            let (k, leaf) = kv?;
            let index = frontier.size();
            if k.as_ref() != index.to_be_bytes() {
                return Err(bad(
                    "ledger leaf",
                    index,
                    "missing (the next stored leaf has another index)",
                ));
            }
            let entry = LedgerEntry::from_bytes(&leaf)
                .map_err(|e| bad("ledger leaf", index, format!("does not decode: {e}")))?;
            for (level, idx, hash) in frontier.append(leaf_hash(&leaf)) {
                if self.nodes_get(level, idx)? != Some(hash) {
                    return Err(if level == 0 {
                        bad(
                            "ledger leaf",
                            index,
                            "hash differs from the stored leaf hash",
                        )
                    } else {
                        bad(
                            "ledger node",
                            format!("level {level} index {idx}"),
                            "differs from the hash of the leaves below it",
                        )
                    });
                }
            }
            if let Some(h) = heads.get(&frontier.size())
                && h.root != frontier.root()
            {
                return Err(bad(
                    "head",
                    h.height,
                    "root differs from the tree recomputed from the leaves",
                ));
            }
            match entry.kind {
                EntryKind::Record | EntryKind::Correction => {
                    let id = RecordHandle(entry.subject);
                    let shredded = self.check_anchored_record(index, &id, &entry, &erased)?;
                    if let Some(p) = shredded {
                        erased_ids.get_mut(&p).expect("erased patient").push(id);
                        summary.shredded += 1;
                    } else {
                        summary.records += 1;
                    }
                }
                EntryKind::Erasure => {
                    let p = Pseudonym(entry.subject);
                    if !self.data_key_destroyed(&p)? {
                        return Err(bad(
                            "erasure",
                            index,
                            "patient's data key was not destroyed",
                        ));
                    }
                    if self.shares_erased(&p)? != Some(index) {
                        return Err(bad(
                            "erasure",
                            index,
                            "the tombstone that drops the patient's later share rows is missing",
                        ));
                    }
                    let mut records = erased_ids.get(&p).cloned().unwrap_or_default();
                    records.sort();
                    let rows = shares.take_erased(index);
                    if erasure_content(&records, &rows) != entry.content_hash {
                        return Err(bad(
                            "erasure",
                            index,
                            "does not match the erased patient's records and share rows",
                        ));
                    }
                }
                EntryKind::ShareReceipt => self.check_share_receipt(index, &entry, &mut shares)?,
                EntryKind::Abort | EntryKind::Enrolment => {
                    let text = self.entry_text(index).map_err(VerifyError::from)?;
                    if text.map(|t| sha256(t.as_bytes())) != Some(entry.content_hash) {
                        let what = if entry.kind == EntryKind::Abort {
                            "abort"
                        } else {
                            "enrolment"
                        };
                        return Err(bad(
                            what,
                            index,
                            "the stored text is missing or differs from the anchored one",
                        ));
                    }
                }
                _ => {}
            }
            summary.leaves += 1;
        }

        if frontier.size() != self.frontier.size() || frontier.root() != self.frontier.root() {
            return Err(bad(
                "ledger",
                "frontier",
                "stored frontier differs from the tree recomputed from the leaves",
            ));
        }
        if let Some((&size, h)) = heads.iter().next_back()
            && size != frontier.size()
        {
            return Err(bad(
                "head",
                h.height,
                format!(
                    "covers {size} leaves but the ledger has {}",
                    frontier.size()
                ),
            ));
        }
        self.check_records_anchored(frontier.size())?;
        self.check_index_counts(summary.records)?;
        self.check_shares_anchored(&shares)?;
        self.check_outbox()?;
        summary.shares = shares.rows();
        summary.root = frontier.root();
        Ok(summary)
    }

    /// Checks every head's signature and chain; returns them keyed by tree size.
    fn check_heads(
        &self,
        verifier: &NoteVerifier,
    ) -> Result<BTreeMap<u64, HeadCheck>, VerifyError> {
        let mut out = BTreeMap::new();
        let mut prev: Option<Checkpoint> = None;
        for (i, (height, note)) in self.heads()?.into_iter().enumerate() {
            if height != i as u64 {
                return Err(bad(
                    "head",
                    i,
                    format!("missing: the next stored head has height {height}"),
                ));
            }
            let (cp, _) = Checkpoint::open(&note, verifier)
                .map_err(|e| bad("head", height, format!("signature or checkpoint: {e}")))?;
            if cp.origin != self.origin {
                return Err(bad("head", height, "origin is not this log's"));
            }
            if cp.height != height {
                return Err(bad("head", height, format!("says height {}", cp.height)));
            }
            if cp.prev != prev.as_ref().map(Checkpoint::text_hash) {
                return Err(bad(
                    "head",
                    height,
                    "does not chain to the previous head (prev)",
                ));
            }
            if let Some(p) = &prev {
                if cp.size <= p.size {
                    return Err(bad("head", height, "does not extend the previous head"));
                }
                if cp.time < p.time {
                    return Err(bad("head", height, "is dated before the previous head"));
                }
            }
            out.insert(
                cp.size,
                HeadCheck {
                    height,
                    root: cp.root,
                },
            );
            prev = Some(cp);
        }
        Ok(out)
    }

    /// Checks a record leaf against the stored record; returns the patient when it was shredded.
    fn check_anchored_record(
        &self,
        index: u64,
        id: &RecordHandle,
        entry: &LedgerEntry,
        erased: &[Pseudonym],
    ) -> Result<Option<Pseudonym>, VerifyError> {
        let stored = self.stored(id)?.ok_or_else(|| {
            bad(
                "record",
                id,
                format!("anchored at leaf {index} but missing from the store"),
            )
        })?;
        if stored.leaf_index != index {
            return Err(bad(
                "record",
                id,
                format!(
                    "claims leaf {} but is anchored at leaf {index}",
                    stored.leaf_index
                ),
            ));
        }
        let digest: [u8; 32] = Sha256::digest(&stored.sealed).into();
        if digest != entry.content_hash {
            return Err(bad(
                "record",
                id,
                "sealed body differs from the one anchored in the ledger",
            ));
        }
        if erased.contains(&stored.patient) {
            return Ok(Some(stored.patient));
        }
        let key = self
            .existing_data_key(&stored.patient)
            .map_err(|e| bad("record", id, e.to_string()))?;
        let plain = seal::open(&key, id, &stored.patient, &stored.sealed).ok_or_else(|| {
            bad(
                "record",
                id,
                "body does not open under its patient's data key",
            )
        })?;
        let obs = hdg_schema::Observation::from_canonical_bytes(&plain)
            .map_err(|e| bad("record", id, format!("body does not decode: {e}")))?;
        if self.handle(&obs.id()) != *id || obs.patient != stored.patient {
            return Err(bad("record", id, "body belongs to another record"));
        }
        let by_ind = layout::by_indicator_key(&obs.indicator, obs.effective, id);
        if self
            .db
            .get_pinned_cf(self.cf(layout::BY_INDICATOR), by_ind)?
            .is_none()
        {
            return Err(bad(
                "index entry",
                id,
                "indicator index has no entry for this record",
            ));
        }
        let by_pat = layout::by_patient_key(&obs.patient, &obs.indicator, obs.effective, id);
        if self
            .db
            .get_pinned_cf(self.cf(layout::BY_PATIENT), by_pat)?
            .is_none()
        {
            return Err(bad(
                "index entry",
                id,
                "patient index has no entry for this record",
            ));
        }
        Ok(None)
    }

    /// Every stored record must be the subject of the leaf it names.
    fn check_records_anchored(&self, size: u64) -> Result<(), VerifyError> {
        for kv in self
            .db
            .iterator_cf(self.cf(layout::RECORDS), IteratorMode::Start)
        {
            let (k, v) = kv?;
            let id = RecordHandle(
                k.as_ref()
                    .try_into()
                    .map_err(|_| bad("record", hex::encode(&k), "key is not a record handle"))?,
            );
            let stored = crate::record::StoredRecord::from_bytes(&v)
                .ok_or_else(|| bad("record", id, "does not decode"))?;
            if stored.leaf_index >= size {
                return Err(bad("record", id, "is not anchored in the ledger"));
            }
            let entry = LedgerEntry::from_bytes(&self.leaf(stored.leaf_index)?).map_err(|e| {
                bad(
                    "ledger leaf",
                    stored.leaf_index,
                    format!("does not decode: {e}"),
                )
            })?;
            if entry.subject != id.0 {
                return Err(bad(
                    "record",
                    id,
                    format!("leaf {} anchors another record", stored.leaf_index),
                ));
            }
        }
        Ok(())
    }

    /// The indexes hold exactly one entry per readable record (missing ones were caught per record).
    fn check_index_counts(&self, records: u64) -> Result<(), VerifyError> {
        for cf in [layout::BY_INDICATOR, layout::BY_PATIENT] {
            let mut n = 0u64;
            for kv in self.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
                let (k, _) = kv?;
                n += 1;
                if n > records {
                    return Err(bad(
                        "index entry",
                        hex::encode(&k),
                        format!("{cf} has an entry that no record implies"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// True when `patient`'s data key here is the erased tombstone.
    fn data_key_destroyed(&self, patient: &Pseudonym) -> Result<bool, VerifyError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(layout::KEYS), patient.0)?
            .is_some_and(|v| v.as_ref() == layout::ERASED))
    }

    fn erased_patients(&self) -> Result<Vec<Pseudonym>, VerifyError> {
        let mut out = Vec::new();
        for kv in self
            .db
            .iterator_cf(self.cf(layout::KEYS), IteratorMode::Start)
        {
            let (k, v) = kv?;
            if v.as_ref() == layout::ERASED {
                out.push(Pseudonym(k.as_ref().try_into().map_err(|_| {
                    bad("data key", hex::encode(&k), "key is not a pseudonym")
                })?));
            }
        }
        Ok(out)
    }

    fn nodes_get(&self, level: u8, index: u64) -> Result<Option<Hash>, VerifyError> {
        Ok(self
            .db
            .get_pinned_cf(
                self.cf(layout::LEDGER_NODES),
                layout::node_key(level, index),
            )?
            .and_then(|v| v.as_ref().try_into().ok()))
    }
}
