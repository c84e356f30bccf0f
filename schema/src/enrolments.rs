//! A hospital's enrolments: which local patient reference is linked to which patient key.
//!
//! An enrolled patient's pseudonym is derived from their public key
//! ([`Pseudonym::from_public_key`]), so it is the same at every hospital and the patient's
//! signed consents name it; everyone else keeps the node-keyed pseudonym of their reference
//! ([`PseudonymKey::pseudonym`]). The references themselves are never held, only their
//! node-keyed pseudonyms.
//!
//! The links are indexed three ways, each lookup a map access however many patients are
//! enrolled: by reference (the pseudonym an observation is filed under), by key (one reference
//! per key), and by the pseudonym the key gives (whether a stored patient is enrolled, asked
//! for every value at ingest).

use std::collections::{BTreeMap, HashSet};

use crate::ids::Pseudonym;
use crate::pseudonym::PseudonymKey;

/// The links of a hospital's enrolled patients: one key per reference, one reference per key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enrolments {
    /// By the node-keyed pseudonym of the reference: the patient's key and its pseudonym.
    by_reference: BTreeMap<Pseudonym, Link>,
    /// By key: the reference's pseudonym.
    by_key: BTreeMap<[u8; 32], Pseudonym>,
    /// The pseudonyms the enrolled patients go by (from their keys).
    enrolled: HashSet<Pseudonym>,
}

/// One link: the patient's key and the pseudonym derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Link {
    key: [u8; 32],
    pseudonym: Pseudonym,
}

/// Why a link cannot be added as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkConflict {
    /// The reference is already linked (to this key or another).
    #[error("the reference is already enrolled")]
    Reference,
    /// The key is already linked to another reference.
    #[error("the key is already enrolled for another reference")]
    Key,
}

impl Enrolments {
    /// Links `reference` (its node-keyed pseudonym) to `key`, unless either is linked already.
    pub fn link(&mut self, reference: Pseudonym, key: [u8; 32]) -> Result<(), LinkConflict> {
        if self.by_reference.contains_key(&reference) {
            return Err(LinkConflict::Reference);
        }
        if self.by_key.contains_key(&key) {
            return Err(LinkConflict::Key);
        }
        let pseudonym = Pseudonym::from_public_key(&key);
        self.by_reference.insert(reference, Link { key, pseudonym });
        self.by_key.insert(key, reference);
        self.enrolled.insert(pseudonym);
        Ok(())
    }

    /// Links `reference` to `key`, replacing any link either had: a later change (an
    /// anchored enrolment) overrides an earlier one (the enrolments file).
    pub fn relink(&mut self, reference: Pseudonym, key: [u8; 32]) {
        self.unlink(&reference);
        if let Some(other) = self.by_key.get(&key).copied() {
            self.unlink(&other);
        }
        // both were just unlinked, so this cannot conflict
        let _ = self.link(reference, key);
    }

    /// Removes the link of `reference`; returns the key it had.
    pub fn unlink(&mut self, reference: &Pseudonym) -> Option<[u8; 32]> {
        let link = self.by_reference.remove(reference)?;
        self.by_key.remove(&link.key);
        self.enrolled.remove(&link.pseudonym);
        Some(link.key)
    }

    /// The key `reference` (its node-keyed pseudonym) is linked to.
    pub fn key_of(&self, reference: &Pseudonym) -> Option<&[u8; 32]> {
        self.by_reference.get(reference).map(|l| &l.key)
    }

    /// The reference (its node-keyed pseudonym) `key` is linked to.
    pub fn reference_of(&self, key: &[u8; 32]) -> Option<&Pseudonym> {
        self.by_key.get(key)
    }

    /// Whether `pseudonym` is an enrolled patient's (derived from their key).
    pub fn is_enrolled(&self, pseudonym: &Pseudonym) -> bool {
        self.enrolled.contains(pseudonym)
    }

    /// The number of enrolled patients.
    pub fn len(&self) -> usize {
        self.by_reference.len()
    }

    /// Whether nobody is enrolled.
    pub fn is_empty(&self) -> bool {
        self.by_reference.is_empty()
    }

    /// The pseudonym of the patient with normalised reference `reference`: from their key
    /// when enrolled, else the node-keyed pseudonym of the reference.
    pub fn pseudonym(&self, key: &PseudonymKey, reference: &str) -> Pseudonym {
        let local = key.pseudonym(reference);
        self.by_reference.get(&local).map_or(local, |l| l.pseudonym)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_enrolled_patient_is_named_by_their_key_and_others_by_the_node_key() {
        let key = PseudonymKey::derive(&[1; 32]);
        let mut enrolled = Enrolments::default();
        enrolled
            .link(key.pseudonym("Patient/123"), [9; 32])
            .unwrap();
        assert_eq!(
            enrolled.reference_of(&[9; 32]),
            Some(&key.pseudonym("Patient/123"))
        );
        assert_eq!(enrolled.reference_of(&[8; 32]), None);
        assert_eq!(
            enrolled.pseudonym(&key, "Patient/123"),
            Pseudonym::from_public_key(&[9; 32])
        );
        assert!(enrolled.is_enrolled(&Pseudonym::from_public_key(&[9; 32])));
        assert_eq!(
            enrolled.pseudonym(&key, "Patient/124"),
            Pseudonym::from_reference(&[1; 32], "Patient/124")
        );
        assert!(!enrolled.is_enrolled(&Pseudonym::from_reference(&[1; 32], "Patient/124")));
    }

    #[test]
    fn a_reference_or_a_key_links_once() {
        let (a, b) = (Pseudonym([1; 32]), Pseudonym([2; 32]));
        let mut enrolled = Enrolments::default();
        enrolled.link(a, [7; 32]).unwrap();
        assert_eq!(enrolled.link(a, [8; 32]), Err(LinkConflict::Reference));
        assert_eq!(enrolled.link(a, [7; 32]), Err(LinkConflict::Reference));
        assert_eq!(enrolled.link(b, [7; 32]), Err(LinkConflict::Key));
        assert_eq!(enrolled.len(), 1);
        // relinking moves the key: the old reference is no longer enrolled
        enrolled.relink(b, [7; 32]);
        assert_eq!(enrolled.key_of(&a), None);
        assert_eq!(enrolled.key_of(&b), Some(&[7; 32]));
        assert_eq!(enrolled.unlink(&b), Some([7; 32]));
        assert!(enrolled.is_empty());
        assert!(!enrolled.is_enrolled(&Pseudonym::from_public_key(&[7; 32])));
    }

    /// An operation on the links, by small indexes so that references and keys collide.
    #[derive(Debug, Clone)]
    enum Op {
        Link(u8, u8),
        Relink(u8, u8),
        Unlink(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..6, 0u8..6).prop_map(|(r, k)| Op::Link(r, k)),
            (0u8..6, 0u8..6).prop_map(|(r, k)| Op::Relink(r, k)),
            (0u8..6).prop_map(Op::Unlink),
        ]
    }

    proptest! {
        /// After any operations the three indexes agree with a plain list of links, which
        /// never holds a reference or a key twice.
        #[test]
        fn the_indexes_agree_with_a_plain_list_of_links(ops in proptest::collection::vec(op(), 0..40)) {
            let reference = |r: u8| Pseudonym([r; 32]);
            let key = |k: u8| [k + 100; 32];
            let mut enrolled = Enrolments::default();
            let mut model: Vec<(Pseudonym, [u8; 32])> = Vec::new();
            for op in ops {
                match op {
                    Op::Link(r, k) => {
                        let taken = model.iter().any(|(x, y)| *x == reference(r) || *y == key(k));
                        prop_assert_eq!(enrolled.link(reference(r), key(k)).is_ok(), !taken);
                        if !taken {
                            model.push((reference(r), key(k)));
                        }
                    }
                    Op::Relink(r, k) => {
                        enrolled.relink(reference(r), key(k));
                        model.retain(|(x, y)| *x != reference(r) && *y != key(k));
                        model.push((reference(r), key(k)));
                    }
                    Op::Unlink(r) => {
                        let had = model.iter().find(|(x, _)| *x == reference(r)).map(|l| l.1);
                        prop_assert_eq!(enrolled.unlink(&reference(r)), had);
                        model.retain(|(x, _)| *x != reference(r));
                    }
                }
            }
            prop_assert_eq!(enrolled.len(), model.len());
            for r in 0..6u8 {
                let linked = model.iter().find(|(x, _)| *x == reference(r)).map(|l| l.1);
                prop_assert_eq!(enrolled.key_of(&reference(r)).copied(), linked);
            }
            for k in 0..6u8 {
                let linked = model.iter().find(|(_, y)| *y == key(k)).map(|l| l.0);
                prop_assert_eq!(enrolled.reference_of(&key(k)).copied(), linked);
                let pseudonym = Pseudonym::from_public_key(&key(k));
                prop_assert_eq!(enrolled.is_enrolled(&pseudonym), linked.is_some());
            }
        }
    }
}
