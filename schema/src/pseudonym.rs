//! Patient pseudonyms: a keyed BLAKE3 hash of the patient reference under a node secret, or a hash
//! of the patient's public key. The raw FHIR id, MRN or name is never stored.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ids::Pseudonym;

/// BLAKE3 `derive_key` context for the per-node pseudonym key.
const REFERENCE_CONTEXT: &str = "hdg-schema 2025 patient pseudonym from reference v1";
/// BLAKE3 `derive_key` context for pseudonyms derived from a patient's public key.
const PUBLIC_KEY_CONTEXT: &str = "hdg-schema 2025 patient pseudonym from public key v1";

/// The key that turns patient references into pseudonyms, derived once from the node secret.
/// Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct PseudonymKey([u8; 32]);

impl PseudonymKey {
    /// Derives the pseudonym key from the node secret (BLAKE3 `derive_key`).
    pub fn derive(node_secret: &[u8; 32]) -> PseudonymKey {
        PseudonymKey(blake3::derive_key(REFERENCE_CONTEXT, node_secret))
    }

    /// The pseudonym of a normalised patient reference (e.g. `"Patient/123"`).
    pub fn pseudonym(&self, reference: &str) -> Pseudonym {
        Pseudonym(*blake3::keyed_hash(&self.0, reference.as_bytes()).as_bytes())
    }
}

impl Pseudonym {
    /// Pseudonym of a patient reference under a node secret: keyed BLAKE3, so it cannot be
    /// reversed or recomputed without the secret.
    pub fn from_reference(node_secret: &[u8; 32], reference: &str) -> Pseudonym {
        PseudonymKey::derive(node_secret).pseudonym(reference)
    }

    /// Pseudonym of a patient's public key: the same patient has the same pseudonym on every node.
    pub fn from_public_key(public_key: &[u8; 32]) -> Pseudonym {
        let mut hasher = blake3::Hasher::new_derive_key(PUBLIC_KEY_CONTEXT);
        hasher.update(public_key);
        Pseudonym(*hasher.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_deterministic() {
        let a = Pseudonym::from_reference(&[1; 32], "Patient/123");
        assert_eq!(a, Pseudonym::from_reference(&[1; 32], "Patient/123"));
        assert_ne!(a, Pseudonym::from_reference(&[2; 32], "Patient/123"));
        assert_ne!(a, Pseudonym::from_reference(&[1; 32], "Patient/124"));
        // Not an unkeyed hash of the reference.
        assert_ne!(a.0, *blake3::hash(b"Patient/123").as_bytes());
        // Same as deriving by hand with the documented construction.
        let key = blake3::derive_key(REFERENCE_CONTEXT, &[1; 32]);
        assert_eq!(a.0, *blake3::keyed_hash(&key, b"Patient/123").as_bytes());
    }

    #[test]
    fn public_key_pseudonym_is_domain_separated() {
        let pk = [7u8; 32];
        let p = Pseudonym::from_public_key(&pk);
        assert_eq!(p, Pseudonym::from_public_key(&pk));
        assert_ne!(p.0, *blake3::hash(&pk).as_bytes());
        assert_ne!(p, Pseudonym::from_reference(&pk, ""));
    }
}
