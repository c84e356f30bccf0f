//! `verify` for shares at rest: every share receipt in the ledger against the rows it anchors.
//!
//! A receipt's manifest must hash to the receipt's subject and content hash; every row it names
//! must be stored, with a sealed value hashing to the manifest's digest, naming that receipt, and
//! opening under the share key; the record-id index must point at it. Afterwards no row, index
//! entry or manifest may exist that no receipt anchors. A changed or removed row is named by its
//! record id.

use std::collections::{HashMap, HashSet};

use hdg_ledger::LedgerEntry;
use hdg_schema::RecordId;
use rocksdb::IteratorMode;
use sha2::{Digest, Sha256};

use crate::layout;
use crate::share_manifest;
use crate::share_value::{self, StoredShare};
use crate::shares::PARTIES;
use crate::store::{Store, sorted_ids_digest};
use crate::verify::{VerifyError, bad};

/// What the share checks have seen so far while walking the ledger.
#[derive(Default)]
pub(crate) struct SharesSeen {
    /// Share key -> leaf index of the receipt anchoring it.
    rows: HashMap<Vec<u8>, u64>,
    /// Leaf indexes of the share receipts checked.
    receipts: HashSet<u64>,
}

impl SharesSeen {
    /// Number of share rows anchored by the receipts checked.
    pub(crate) fn rows(&self) -> u64 {
        self.rows.len() as u64
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
        let ids = manifest
            .iter()
            .map(|e| e.record())
            .collect::<Option<Vec<RecordId>>>()
            .ok_or_else(|| receipt("manifest names a share key that does not decode"))?;
        if !ids.windows(2).all(|w| w[0] < w[1]) {
            return Err(receipt("manifest is not in record-id order"));
        }
        if sorted_ids_digest(&ids) != entry.subject {
            return Err(receipt("manifest's records differ from the anchored batch"));
        }
        if share_manifest::content_hash(&manifest) != entry.content_hash {
            return Err(receipt(
                "manifest's value digests differ from the anchored ones",
            ));
        }
        let key = self.share_sealing_key();
        for (e, id) in manifest.iter().zip(&ids) {
            let row = |what: String| bad("share row", id, what);
            let value = self
                .db
                .get_pinned_cf(self.cf(layout::SHARES), &e.key)?
                .ok_or_else(|| {
                    row(format!(
                        "anchored by receipt {index} but missing from the store"
                    ))
                })?;
            let stored =
                StoredShare::from_bytes(&value).ok_or_else(|| row("does not decode".into()))?;
            if <[u8; 32]>::from(Sha256::digest(&stored.sealed)) != e.digest {
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
            let opened = share_value::open(&key, &e.key, &stored.sealed)
                .ok_or_else(|| row("does not open under the share key".into()))?;
            if opened.party >= PARTIES {
                return Err(row("party index is not 0, 1 or 2".into()));
            }
            let indexed = self.db.get_pinned_cf(self.cf(layout::SHARE_IDS), id.0)?;
            if indexed.as_deref() != Some(e.key.as_slice()) {
                return Err(bad(
                    "share index",
                    id,
                    "does not point to the record's share row",
                ));
            }
            if seen.rows.insert(e.key.clone(), index).is_some() {
                return Err(row(format!("anchored again by receipt {index}")));
            }
        }
        seen.receipts.insert(index);
        Ok(())
    }

    /// No share row, record-id index entry or manifest exists that no checked receipt anchors.
    pub(crate) fn check_shares_anchored(&self, seen: &SharesSeen) -> Result<(), VerifyError> {
        for kv in self
            .db
            .iterator_cf(self.cf(layout::SHARES), IteratorMode::Start)
        {
            let (k, _) = kv?;
            if !seen.rows.contains_key(k.as_ref()) {
                let name = layout::decode_index_tail(&k)
                    .map_or_else(|| hex::encode(&k), |(_, _, id)| id.to_string());
                return Err(bad(
                    "share row",
                    name,
                    "is not anchored by any share receipt",
                ));
            }
        }
        for kv in self
            .db
            .iterator_cf(self.cf(layout::SHARE_IDS), IteratorMode::Start)
        {
            let (k, v) = kv?;
            let names_its_row = layout::decode_index_tail(&v)
                .is_some_and(|(_, _, id)| id.0.as_slice() == k.as_ref())
                && seen.rows.contains_key(v.as_ref());
            if !names_its_row {
                return Err(bad(
                    "share index",
                    hex::encode(&k),
                    "names no anchored share row of that record",
                ));
            }
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
        Ok(())
    }
}
