//! Which ledger entries concern a patient, for the patient's audit: their records (found by the
//! patient index), and the entries indexed by pseudonym in [`layout::PATIENT_LOG`] — their
//! consents, every query that selected their rows and every raw access to their records. The
//! text of a query or access (no health values: the statistic, indicator, window and filter
//! threshold; or who asked, why and who approved) is kept beside its entry so the audit can say
//! what was done.

use std::collections::BTreeSet;

use hdg_ledger::{EntryKind, LedgerEntry, sha256};
use hdg_schema::{Pseudonym, Timestamp};
use rocksdb::WriteBatch;

use crate::error::StoreError;
use crate::layout;
use crate::privacy_spent::PrivacySpend;
use crate::store::{Store, append_leaf, corrupt};

/// [`layout::PATIENT_LOG`] key: the pseudonym, then the leaf index.
pub(crate) fn patient_log_key(patient: &Pseudonym, leaf: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&patient.0);
    k[32..].copy_from_slice(&leaf.to_be_bytes());
    k
}

impl Store {
    /// Anchors an entry that uses patients' data — a researcher query or a raw access — with
    /// its text (content hash SHA-256 of `text`) and the patients whose data it used, in one
    /// synced write; returns the entry's leaf index and the new signed head. A private query's
    /// `spend` is added to its researcher's spent privacy loss in the same write.
    #[allow(clippy::too_many_arguments)] // one write: each argument is one thing it records
    pub fn anchor_use(
        &mut self,
        kind: EntryKind,
        subject: [u8; 32],
        text: &str,
        actor: [u8; 32],
        patients: &BTreeSet<Pseudonym>,
        spend: Option<&PrivacySpend>,
        now: Timestamp,
    ) -> Result<(u64, String), StoreError> {
        if !matches!(kind, EntryKind::Query | EntryKind::Access) {
            return Err(StoreError::Ledger(format!(
                "{kind:?} entries do not record a use of patients' data"
            )));
        }
        self.anchor_with_text(kind, subject, text, actor, now, |store, batch, leaf| {
            for p in patients {
                batch.put_cf(store.cf(layout::PATIENT_LOG), patient_log_key(p, leaf), []);
            }
            match spend {
                Some(spend) => store.charge_privacy(batch, spend),
                None => Ok(()),
            }
        })
    }

    /// Anchors an entry whose content is `text` (content hash SHA-256 of it), kept beside the
    /// entry, with whatever `more` adds to the same synced write for the entry's leaf index;
    /// returns the leaf index and the new signed head.
    pub(crate) fn anchor_with_text(
        &mut self,
        kind: EntryKind,
        subject: [u8; 32],
        text: &str,
        actor: [u8; 32],
        now: Timestamp,
        more: impl FnOnce(&Store, &mut WriteBatch, u64) -> Result<(), StoreError>,
    ) -> Result<(u64, String), StoreError> {
        let entry = LedgerEntry {
            kind,
            subject,
            content_hash: sha256(text.as_bytes()),
            actor,
            time: now.0,
        };
        let mut batch = WriteBatch::default();
        let mut frontier = self.frontier.clone();
        let leaf = frontier.size();
        append_leaf(&mut batch, self, &mut frontier, &entry.to_bytes());
        batch.put_cf(
            self.cf(layout::ENTRY_TEXT),
            leaf.to_be_bytes(),
            text.as_bytes(),
        );
        more(self, &mut batch, leaf)?;
        let head = self.close_block(&mut batch, &frontier, now);
        self.write_durably(batch)?;
        self.advance(frontier, &head);
        Ok((leaf, head.note))
    }

    /// The text of the query or access anchored at `leaf`, if one is.
    pub fn entry_text(&self, leaf: u64) -> Result<Option<String>, StoreError> {
        self.db
            .get_cf(self.cf(layout::ENTRY_TEXT), leaf.to_be_bytes())?
            .map(|v| String::from_utf8(v).map_err(|_| corrupt("entry text", "not UTF-8")))
            .transpose()
    }

    /// The leaf indexes of the ledger entries that concern `patient`, in ledger order: their
    /// current records here, their consents, and the queries that selected their rows.
    pub fn patient_entries(&self, patient: &Pseudonym) -> Result<Vec<u64>, StoreError> {
        let mut leaves = BTreeSet::new();
        for handle in self.scan_patient(patient, None)? {
            if let Some(r) = self.stored(&handle)? {
                leaves.insert(r.leaf_index);
            }
        }
        for kv in self
            .db
            .prefix_iterator_cf(self.cf(layout::PATIENT_LOG), patient.0)
        {
            let (k, _) = kv?;
            if !k.starts_with(&patient.0) {
                break;
            }
            let leaf = k
                .get(32..40)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .ok_or_else(|| corrupt("patient log key", "not 40 bytes"))?;
            leaves.insert(u64::from_be_bytes(leaf));
        }
        Ok(leaves.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_logged_for_exactly_the_patients_it_selected() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut s = Store::open(dir.path(), true, &crate::keyring::test_keys()).unwrap();
        let (a, b, c) = (Pseudonym([1; 32]), Pseudonym([2; 32]), Pseudonym([3; 32]));
        let now = Timestamp(1_700_000_000_000);
        let text = r#"{"statistic":{"kind":"count"},"indicator":"8867-4"}"#;
        let (q1, _) = s
            .anchor_use(
                EntryKind::Query,
                [9; 32],
                text,
                [7; 32],
                &[a, b].into(),
                None,
                now,
            )
            .unwrap();
        let (q2, _) = s
            .anchor_use(
                EntryKind::Query,
                [8; 32],
                text,
                [7; 32],
                &[b].into(),
                None,
                now,
            )
            .unwrap();
        assert_eq!(s.patient_entries(&a).unwrap(), vec![q1]);
        assert_eq!(s.patient_entries(&b).unwrap(), vec![q1, q2]);
        assert_eq!(s.patient_entries(&c).unwrap(), Vec::<u64>::new());
        assert_eq!(s.entry_text(q2).unwrap().as_deref(), Some(text));
        let entry = LedgerEntry::from_bytes(&s.leaf(q1).unwrap()).unwrap();
        assert_eq!((entry.kind, entry.subject), (EntryKind::Query, [9; 32]));
        assert_eq!(entry.content_hash, sha256(text.as_bytes()));
        s.verify(&s.verifier()).unwrap();
    }
}
