//! A hospital's enrolments as they change: each enrolment or unenrolment of a patient's key
//! for a local reference is anchored (`EntryKind::Enrolment`, the request's digest as subject,
//! its text beside it), listed in the patient's log for their audit, and leaves the reference's
//! current link in [`layout::ENROLMENTS`], all in one synced write. The reference is held only
//! as its node-keyed pseudonym, so the store never names it.

use hdg_ledger::EntryKind;
use hdg_schema::{Pseudonym, Timestamp};

use crate::error::StoreError;
use crate::layout;
use crate::patient_log::patient_log_key;
use crate::store::{Store, corrupt};

/// One enrolment or unenrolment to anchor.
#[derive(Debug, Clone, Copy)]
pub struct EnrolmentChange<'a> {
    /// The request's digest: the entry's subject.
    pub subject: [u8; 32],
    /// The node-keyed pseudonym of the hospital's reference.
    pub reference: Pseudonym,
    /// The patient's ed25519 public key.
    pub patient_key: [u8; 32],
    /// `true` links the reference to the key, `false` undoes the link.
    pub enrolled: bool,
    /// What the patient's audit shows (no reference, no value).
    pub text: &'a str,
    /// Who acted: the staff member's key.
    pub actor: [u8; 32],
}

/// A reference's current link, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEnrolment {
    /// The node-keyed pseudonym of the reference.
    pub reference: Pseudonym,
    /// The patient's key it was last linked to, or unlinked from.
    pub patient_key: [u8; 32],
    /// Whether the link holds (`false`: the last change was an unenrolment).
    pub enrolled: bool,
    /// The leaf of the last change.
    pub leaf_index: u64,
}

/// Stored value: leaf index (u64 BE), 1 (enrolled) or 0 (unenrolled), the key.
const VALUE_LEN: usize = 8 + 1 + 32;

impl Store {
    /// Anchors `change` with its text, lists it for the patient's audit and stores the
    /// reference's link, in one synced write; returns the leaf index and the new signed head.
    pub fn record_enrolment(
        &mut self,
        change: &EnrolmentChange<'_>,
        now: Timestamp,
    ) -> Result<(u64, String), StoreError> {
        let patient = Pseudonym::from_public_key(&change.patient_key);
        self.anchor_with_text(
            EntryKind::Enrolment,
            change.subject,
            change.text,
            change.actor,
            now,
            |store, batch, leaf| {
                let mut value = Vec::with_capacity(VALUE_LEN);
                value.extend_from_slice(&leaf.to_be_bytes());
                value.push(u8::from(change.enrolled));
                value.extend_from_slice(&change.patient_key);
                batch.put_cf(store.cf(layout::ENROLMENTS), change.reference.0, value);
                batch.put_cf(
                    store.cf(layout::PATIENT_LOG),
                    patient_log_key(&patient, leaf),
                    [],
                );
                Ok(())
            },
        )
    }

    /// Every reference's current link, in reference-pseudonym order.
    pub fn enrolments(&self) -> Result<Vec<StoredEnrolment>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .db
            .iterator_cf(self.cf(layout::ENROLMENTS), rocksdb::IteratorMode::Start)
        {
            let (k, v) = kv?;
            let reference =
                <[u8; 32]>::try_from(&*k).map_err(|_| corrupt("enrolment key", "not 32 bytes"))?;
            if v.len() != VALUE_LEN || v[8] > 1 {
                return Err(corrupt("enrolment", "not a leaf, a flag and a key"));
            }
            let (leaf, rest) = v.split_at(8);
            out.push(StoredEnrolment {
                reference: Pseudonym(reference),
                patient_key: rest[1..].try_into().expect("32 bytes"),
                enrolled: rest[0] == 1,
                leaf_index: u64::from_be_bytes(leaf.try_into().expect("8 bytes")),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdg_ledger::{LedgerEntry, sha256};

    #[test]
    fn an_enrolment_is_anchored_listed_for_the_patient_and_undone_by_an_unenrolment() {
        let dir = tempfile::TempDir::new().unwrap();
        let mut s = Store::open(dir.path(), true, &crate::keyring::test_keys()).unwrap();
        let now = Timestamp(1_700_000_000_000);
        let enrol = EnrolmentChange {
            subject: [1; 32],
            reference: Pseudonym([2; 32]),
            patient_key: [3; 32],
            enrolled: true,
            text: r#"{"action":"enrol"}"#,
            actor: [4; 32],
        };
        let (first, _) = s.record_enrolment(&enrol, now).unwrap();
        let patient = Pseudonym::from_public_key(&[3; 32]);
        assert_eq!(s.patient_entries(&patient).unwrap(), vec![first]);
        assert_eq!(
            s.enrolments().unwrap(),
            vec![StoredEnrolment {
                reference: Pseudonym([2; 32]),
                patient_key: [3; 32],
                enrolled: true,
                leaf_index: first,
            }]
        );
        let entry = LedgerEntry::from_bytes(&s.leaf(first).unwrap()).unwrap();
        assert_eq!(entry.kind, EntryKind::Enrolment);
        assert_eq!(
            (entry.subject, entry.actor, entry.content_hash),
            ([1; 32], [4; 32], sha256(enrol.text.as_bytes()))
        );
        let undo = EnrolmentChange {
            subject: [5; 32],
            enrolled: false,
            text: r#"{"action":"unenrol"}"#,
            ..enrol
        };
        let (second, _) = s.record_enrolment(&undo, now).unwrap();
        assert_eq!(s.patient_entries(&patient).unwrap(), vec![first, second]);
        let links = s.enrolments().unwrap();
        assert_eq!((links.len(), links[0].enrolled), (1, false));
        assert_eq!(links[0].leaf_index, second);
        s.verify(&s.verifier()).unwrap();
        // A changed text no longer matches its entry.
        s.db.put_cf(
            s.cf(layout::ENTRY_TEXT),
            second.to_be_bytes(),
            r#"{"action":"enrol"}"#,
        )
        .unwrap();
        let e = s.verify(&s.verifier()).unwrap_err().to_string();
        assert!(e.contains("enrolment"), "{e}");
    }
}
