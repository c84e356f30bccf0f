//! `verify` for shares at rest: every share receipt in the ledger against the rows it anchors.
//!
//! A receipt's manifest must hash to the receipt's subject and content hash; every row it still
//! names must be stored, with a sealed value hashing to the manifest's digest, naming that
//! receipt, and opening under the share key; the handle and patient indexes must point at it.
//! Every erased entry must be accounted for by the erasure entry it names (checked with that
//! entry, see `verify`). Afterwards no row, index entry or manifest may exist that no receipt
//! anchors. A changed or removed row is named by its handle.

use std::collections::{HashMap, HashSet};

use hdg_ledger::LedgerEntry;
use rocksdb::IteratorMode;
use sha2::{Digest, Sha256};

use crate::layout;
use crate::share_manifest::{self, ManifestEntry};
use crate::share_value::StoredShare;
use crate::shares::PARTIES;
use crate::store::Store;
use crate::verify::{VerifyError, bad};

/// What the share checks have seen so far while walking the ledger.
#[derive(Default)]
pub(crate) struct SharesSeen {
    /// Share key -> leaf index of the receipt anchoring it.
    rows: HashMap<Vec<u8>, u64>,
    /// Leaf indexes of the share receipts checked.
    receipts: HashSet<u64>,
    /// Erasure leaf -> ids of the rows the manifests say it erased.
    erased: HashMap<u64, Vec<[u8; 32]>>,
    /// Leaf indexes of the erasure entries checked.
    erasures: HashSet<u64>,
    /// The patient index entries the rows imply.
    patient_keys: HashSet<Vec<u8>>,
}

impl SharesSeen {
    /// Number of share rows anchored by the receipts checked.
    pub(crate) fn rows(&self) -> u64 {
        self.rows.len() as u64
    }

    /// The ids of the rows erased by the erasure at `leaf` (checked against it now).
    pub(crate) fn take_erased(&mut self, leaf: u64) -> Vec<[u8; 32]> {
        self.erasures.insert(leaf);
        self.erased.remove(&leaf).unwrap_or_default()
    }
}

impl Store {
    /// Checks the share receipt at leaf `index` against its manifest and the rows it names.
    pub(crate) fn check_share_receipt(
        &self,
        index: u64,
        entry: &LedgerEntry,
        seen: &mut SharesSeen,
    ) -> Result<(), VerifyError> {
        let receipt = |what: &str| bad("share receipt", index, what);
        let bytes = self
            .db
            .get_cf(self.cf(layout::SHARE_RECEIPTS), index.to_be_bytes())?
            .ok_or_else(|| receipt("manifest of its rows is missing"))?;
        let manifest = share_manifest::from_bytes(&bytes)
            .ok_or_else(|| receipt("manifest does not decode"))?;
        if share_manifest::batch_id(&manifest) != entry.subject {
            return Err(receipt("manifest's rows differ from the anchored batch"));
        }
        if share_manifest::content_hash(&manifest) != entry.content_hash {
            return Err(receipt(
                "manifest's value digests differ from the anchored ones",
            ));
        }
        let cipher = self.share_cipher();
        for e in &manifest {
            match e {
                ManifestEntry::Row {
                    key: share_key,
                    digest,
                } => {
                    let handle = e.handle().ok_or_else(|| {
                        receipt("manifest names a share key that does not decode")
                    })?;
                    let row = |what: String| bad("share row", handle, what);
                    let value = self
                        .db
                        .get_pinned_cf(self.cf(layout::SHARES), share_key)?
                        .ok_or_else(|| {
                            row(format!(
                                "anchored by receipt {index} but missing from the store"
                            ))
                        })?;
                    let stored = StoredShare::from_bytes(&value)
                        .ok_or_else(|| row("does not decode".into()))?;
                    if <[u8; 32]>::from(Sha256::digest(&stored.sealed)) != *digest {
                        return Err(row(
                            "sealed value differs from the one anchored in the ledger".into(),
                        ));
                    }
                    if stored.leaf_index != index || stored.batch_id != entry.subject {
                        return Err(row(format!(
                            "names receipt {} but is anchored by receipt {index}",
                            stored.leaf_index
                        )));
                    }
                    let opened = cipher
                        .open(share_key, &stored)
                        .ok_or_else(|| row("does not open under the share key".into()))?;
                    if opened.party >= PARTIES {
                        return Err(row("party index is not 0, 1 or 2".into()));
                    }
                    seen.patient_keys
                        .insert(self.share_patient_key(&opened.patient, share_key));
                    if seen.rows.insert(share_key.clone(), index).is_some() {
                        return Err(row(format!("anchored again by receipt {index}")));
                    }
                }
                ManifestEntry::Erased {
                    row_id, erasure, ..
                } => {
                    if *erasure <= index {
                        return Err(receipt("names an erasure that is not later than it"));
                    }
                    seen.erased.entry(*erasure).or_default().push(*row_id);
                }
            }
        }
        seen.receipts.insert(index);
        Ok(())
    }

    /// No share row, index entry, manifest or erasure tombstone exists that the ledger does not
    /// account for, and every erased row names an erasure entry.
    pub(crate) fn check_shares_anchored(&self, seen: &SharesSeen) -> Result<(), VerifyError> {
        if let Some(leaf) = seen.erased.keys().next() {
            return Err(bad(
                "share receipt",
                "manifest",
                format!("names an erasure at leaf {leaf}, which is not an erasure entry"),
            ));
        }
        for kv in self
            .db
            .iterator_cf(self.cf(layout::SHARES), IteratorMode::Start)
        {
            let (k, _) = kv?;
            if !seen.rows.contains_key(k.as_ref()) {
                let name = layout::decode_index_tail(&k)
                    .map_or_else(|| hex::encode(&k), |(_, _, h)| h.to_string());
                return Err(bad(
                    "share row",
                    name,
                    "is not anchored by any share receipt",
                ));
            }
        }
        if let Some(kv) = self
            .db
            .iterator_cf(self.cf(layout::SHARE_IDS), IteratorMode::Start)
            .next()
        {
            let (k, _) = kv?;
            return Err(bad(
                "share index",
                hex::encode(&k),
                "is in the family layout 3 retired (opening the store empties it)",
            ));
        }
        let mut indexed = 0;
        for kv in self
            .db
            .iterator_cf(self.cf(layout::SHARE_PATIENTS), IteratorMode::Start)
        {
            let (k, _) = kv?;
            if !seen.patient_keys.contains(k.as_ref()) {
                let name = k
                    .get(32..)
                    .and_then(layout::decode_index_tail)
                    .map_or_else(|| hex::encode(&k), |(_, _, h)| h.to_string());
                return Err(bad(
                    "share patient index",
                    name,
                    "names no anchored share row of that patient",
                ));
            }
            indexed += 1;
        }
        if indexed != seen.patient_keys.len() {
            return Err(bad(
                "share patient index",
                "entries",
                format!(
                    "{indexed} entries for {} anchored rows: a row's entry is missing",
                    seen.patient_keys.len()
                ),
            ));
        }
        for kv in self
            .db
            .iterator_cf(self.cf(layout::SHARE_RECEIPTS), IteratorMode::Start)
        {
            let (k, _) = kv?;
            let index = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes);
            if !index.is_ok_and(|i| seen.receipts.contains(&i)) {
                return Err(bad(
                    "share receipt",
                    hex::encode(&k),
                    "manifest has no share receipt in the ledger",
                ));
            }
        }
        for kv in self
            .db
            .iterator_cf(self.cf(layout::SHARES_ERASED), IteratorMode::Start)
        {
            let (_, v) = kv?;
            let leaf = <[u8; 8]>::try_from(v.as_ref()).map(u64::from_be_bytes);
            if !leaf.is_ok_and(|l| seen.erasures.contains(&l)) {
                return Err(bad(
                    "share erasure",
                    hex::encode(&v),
                    "tombstone names no erasure entry",
                ));
            }
        }
        Ok(())
    }
}
