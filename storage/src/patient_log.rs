//! Which ledger entries concern a patient, for the patient's audit: their records (found by the
//! patient index), and the entries indexed by pseudonym in [`layout::PATIENT_LOG`] — their
//! consents and every query that selected their rows. A query's text (no health values: the
//! statistic, indicator, window and filter threshold) is kept beside its entry so the audit can
//! say what was asked.

use std::collections::BTreeSet;

use hdg_ledger::{EntryKind, LedgerEntry, sha256};
use hdg_schema::{Pseudonym, Timestamp};
use rocksdb::WriteBatch;

use crate::error::StoreError;
use crate::layout;
use crate::store::{Store, append_leaf, corrupt};

/// [`layout::PATIENT_LOG`] key: the pseudonym, then the leaf index.
pub(crate) fn patient_log_key(patient: &Pseudonym, leaf: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&patient.0);
    k[32..].copy_from_slice(&leaf.to_be_bytes());
    k
}

impl Store {
    /// Anchors a researcher query (subject `session`, content hash SHA-256 of `query_text`,
    /// actor the researcher) with its text and the patients whose rows it selected, in one
    /// synced write; returns the entry's leaf index and the new signed head.
    pub fn anchor_query(
        &mut self,
        session: [u8; 32],
        query_text: &str,
        researcher: [u8; 32],
        patients: &BTreeSet<Pseudonym>,
        now: Timestamp,
    ) -> Result<(u64, String), StoreError> {
        let entry = LedgerEntry {
            kind: EntryKind::Query,
            subject: session,
            content_hash: sha256(query_text.as_bytes()),
            actor: researcher,
            time: now.0,
        };
        let mut batch = WriteBatch::default();
        let mut frontier = self.frontier.clone();
        let leaf = frontier.size();
        append_leaf(&mut batch, self, &mut frontier, &entry.to_bytes());
        batch.put_cf(
            self.cf(layout::QUERY_LOG),
            leaf.to_be_bytes(),
            query_text.as_bytes(),
        );
        for p in patients {
            batch.put_cf(self.cf(layout::PATIENT_LOG), patient_log_key(p, leaf), []);
        }
        let head = self.close_block(&mut batch, &frontier, now);
        self.write_durably(batch)?;
        self.advance(frontier, &head);
        Ok((leaf, head.note))
    }

    /// The text of the query anchored at `leaf`, if one is.
    pub fn query_text(&self, leaf: u64) -> Result<Option<String>, StoreError> {
        self.db
            .get_cf(self.cf(layout::QUERY_LOG), leaf.to_be_bytes())?
            .map(|v| String::from_utf8(v).map_err(|_| corrupt("query text", "not UTF-8")))
            .transpose()
    }

    /// The leaf indexes of the ledger entries that concern `patient`, in ledger order: their
    /// current records here, their consents, and the queries that selected their rows.
    pub fn patient_entries(&self, patient: &Pseudonym) -> Result<Vec<u64>, StoreError> {
        let mut leaves = BTreeSet::new();
        for id in self.scan_patient(patient, None)? {
            if let Some(r) = self.stored(&id)? {
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
        let mut s = Store::open(dir.path(), true).unwrap();
        let (a, b, c) = (Pseudonym([1; 32]), Pseudonym([2; 32]), Pseudonym([3; 32]));
        let now = Timestamp(1_700_000_000_000);
        let text = r#"{"statistic":{"kind":"count"},"indicator":"8867-4"}"#;
        let (q1, _) = s
            .anchor_query([9; 32], text, [7; 32], &[a, b].into(), now)
            .unwrap();
        let (q2, _) = s
            .anchor_query([8; 32], text, [7; 32], &[b].into(), now)
            .unwrap();
        assert_eq!(s.patient_entries(&a).unwrap(), vec![q1]);
        assert_eq!(s.patient_entries(&b).unwrap(), vec![q1, q2]);
        assert_eq!(s.patient_entries(&c).unwrap(), Vec::<u64>::new());
        assert_eq!(s.query_text(q2).unwrap().as_deref(), Some(text));
        let entry = LedgerEntry::from_bytes(&s.leaf(q1).unwrap()).unwrap();
        assert_eq!((entry.kind, entry.subject), (EntryKind::Query, [9; 32]));
        assert_eq!(entry.content_hash, sha256(text.as_bytes()));
        s.verify(&s.verifier()).unwrap();
    }
}
