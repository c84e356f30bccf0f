//! Patients' consent records as this node holds them: each the patient's signed request (grant
//! or revocation) exactly as received, under its consent id, anchored by a `Consent` ledger entry
//! written in the same synced batch (the entry holds the id, the SHA-256 of the stored bytes and
//! the patient's key: no health data). The gateway verifies a record before storing it and
//! again whenever it evaluates consents, so a record changed on disk is never trusted.

use hdg_ledger::{EntryKind, LedgerEntry, sha256};
use hdg_schema::{Pseudonym, Timestamp};
use rocksdb::{IteratorMode, WriteBatch};

use crate::error::StoreError;
use crate::layout;
use crate::patient_log::patient_log_key;
use crate::store::{Store, append_leaf, corrupt};

/// A stored consent record: its id and the signed request's JSON bytes.
pub type StoredConsent = ([u8; 32], Vec<u8>);

impl Store {
    /// Stores consent record `id` (`signed`: the patient's verified, signed request) and anchors
    /// it in one synced write; returns the entry's leaf index and the new signed head, or `None`
    /// when this node already holds the record (a retried replication).
    pub fn record_consent(
        &mut self,
        id: [u8; 32],
        signed: &[u8],
        patient_key: [u8; 32],
        now: Timestamp,
    ) -> Result<Option<(u64, String)>, StoreError> {
        if self.consent(&id)?.is_some() {
            return Ok(None);
        }
        let entry = LedgerEntry {
            kind: EntryKind::Consent,
            subject: id,
            content_hash: sha256(signed),
            actor: patient_key,
            time: now.0,
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(layout::CONSENTS), id, signed);
        let mut frontier = self.frontier.clone();
        let leaf_index = frontier.size();
        append_leaf(&mut batch, self, &mut frontier, &entry.to_bytes());
        // The patient's audit finds the entry by the pseudonym of the signing key.
        let patient = Pseudonym::from_public_key(&patient_key);
        batch.put_cf(
            self.cf(layout::PATIENT_LOG),
            patient_log_key(&patient, leaf_index),
            [],
        );
        let head = self.close_block(&mut batch, &frontier, now);
        self.write_durably(batch)?;
        self.advance(frontier, &head);
        self.consent_generation += 1;
        Ok(Some((leaf_index, head.note)))
    }

    /// Changes whenever this handle stores a consent record (records are never changed or
    /// deleted otherwise): a cache of what [`Store::consents`] returned, taken at one
    /// generation, is still exact at the same generation of the same handle.
    pub fn consent_generation(&self) -> u64 {
        self.consent_generation
    }

    /// Remembers (synced) that node `peer` still has to receive consent `id`.
    pub fn queue_consent_delivery(&mut self, peer: u16, id: &[u8; 32]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(layout::CONSENT_OUTBOX),
            layout::delivery_key(peer, id),
            [],
        );
        self.write_durably(batch)
    }

    /// The (peer, consent id) deliveries still to make.
    pub fn pending_consent_deliveries(&self) -> Result<Vec<(u16, [u8; 32])>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .db
            .iterator_cf(self.cf(layout::CONSENT_OUTBOX), IteratorMode::Start)
        {
            let (k, _) = kv?;
            let (peer, id) = layout::decode_delivery_key(&k)
                .ok_or_else(|| corrupt("consent delivery", "not a delivery key"))?;
            out.push((peer, id));
        }
        Ok(out)
    }

    /// Forgets a delivery once the peer acknowledged it.
    pub fn consent_delivered(&mut self, peer: u16, id: &[u8; 32]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for key in layout::delivery_keys(peer, id) {
            batch.delete_cf(self.cf(layout::CONSENT_OUTBOX), key);
        }
        self.write_durably(batch)
    }

    /// Consent record `id`, if held.
    pub fn consent(&self, id: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(layout::CONSENTS), id)?)
    }

    /// Every consent record held, by id.
    pub fn consents(&self) -> Result<Vec<StoredConsent>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .db
            .iterator_cf(self.cf(layout::CONSENTS), IteratorMode::Start)
        {
            let (k, v) = kv?;
            let id = <[u8; 32]>::try_from(k.as_ref())
                .map_err(|_| corrupt("consent key", "not a 32-byte id"))?;
            out.push((id, v.to_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deliveries are kept by node id; one queued under a party index before node ids (a
    /// 33-byte key) reads as that node's and is cleared by its delivery.
    #[test]
    fn deliveries_are_kept_by_node_and_old_keys_are_read_and_cleared() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut s = Store::open(dir.path(), true, &crate::keyring::test_keys()).unwrap();
        s.queue_consent_delivery(300, &[3; 32]).unwrap();
        let mut old = vec![1u8];
        old.extend_from_slice(&[1; 32]);
        s.db.put_cf(s.cf(layout::CONSENT_OUTBOX), &old, []).unwrap();
        let mut pending = s.pending_consent_deliveries().unwrap();
        pending.sort();
        assert_eq!(pending, [(1, [1; 32]), (300, [3; 32])]);
        s.consent_delivered(1, &[1; 32]).unwrap();
        s.consent_delivered(300, &[3; 32]).unwrap();
        assert!(s.pending_consent_deliveries().unwrap().is_empty());
    }

    #[test]
    fn a_consent_is_stored_once_and_anchored_with_its_hash() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut s = Store::open(dir.path(), true, &crate::keyring::test_keys()).unwrap();
        let now = Timestamp(1_700_000_000_000);
        let (leaf, _) = s
            .record_consent([1; 32], b"{\"signed\":1}", [5; 32], now)
            .unwrap()
            .expect("new");
        assert_eq!(
            s.record_consent([1; 32], b"{\"signed\":1}", [5; 32], now)
                .unwrap(),
            None
        );
        let entry = LedgerEntry::from_bytes(&s.leaf(leaf).unwrap()).unwrap();
        assert_eq!(entry.kind, EntryKind::Consent);
        assert_eq!(entry.subject, [1; 32]);
        assert_eq!(entry.content_hash, sha256(b"{\"signed\":1}"));
        assert_eq!(entry.actor, [5; 32]);
        assert_eq!(
            s.consents().unwrap(),
            vec![([1; 32], b"{\"signed\":1}".to_vec())]
        );
        let patient = Pseudonym::from_public_key(&[5; 32]);
        assert_eq!(s.patient_entries(&patient).unwrap(), vec![leaf]);
        s.verify(&s.verifier())
            .expect("the store verifies with a consent entry");
        s.queue_consent_delivery(2, &[1; 32]).unwrap();
        s.queue_consent_delivery(1, &[1; 32]).unwrap();
        assert_eq!(
            s.pending_consent_deliveries().unwrap(),
            vec![(1, [1; 32]), (2, [1; 32])]
        );
        s.consent_delivered(1, &[1; 32]).unwrap();
        assert_eq!(s.pending_consent_deliveries().unwrap(), vec![(2, [1; 32])]);
    }
}
