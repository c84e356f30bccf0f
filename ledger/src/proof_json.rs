//! The inclusion proof handed to outsiders, as JSON:
//!
//! ```json
//! { "leaf": "<hex of the leaf bytes>", "leaf_index": 5, "tree_size": 9,
//!   "leaf_hash": "<hex>", "audit_path": ["<hex>", ...], "root": "<hex>",
//!   "checkpoint": "<the signed checkpoint note>" }
//! ```
//!
//! Hashes are lowercase hex. Checking it needs only the node's vkey and standard pieces: a
//! C2SP signed-note verifier for the checkpoint, `SHA-256(0x00 || leaf)` for the leaf hash, and
//! the RFC 9162 inclusion verifier against the checkpoint's size and root.

use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::hash::{Hash, leaf_hash};
use crate::note::NoteVerifier;
use crate::verify::{VerifyError, verify_inclusion};

/// An inclusion proof in the outsider JSON format (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProofJson {
    /// Hex of the leaf bytes (the canonical [`crate::LedgerEntry`] bytes).
    pub leaf: String,
    /// Index of the leaf in the log.
    pub leaf_index: u64,
    /// Size of the tree the proof is against (the checkpoint's size).
    pub tree_size: u64,
    /// Hex of `SHA-256(0x00 || leaf)`.
    pub leaf_hash: String,
    /// Hex audit path, leaf level first.
    pub audit_path: Vec<String>,
    /// Hex root of the tree at `tree_size` (the checkpoint's root).
    pub root: String,
    /// The signed checkpoint note committing to `tree_size` and `root`.
    pub checkpoint: String,
}

/// Why an outsider proof did not verify; each variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The JSON does not have the proof's shape.
    #[error("proof JSON malformed: {0}")]
    Json(String),
    /// A hex field is not lowercase hex of the right length.
    #[error("{field}: not lowercase hex of the expected length")]
    Hex {
        /// The field (`leaf`, `leaf_hash`, `root`, `audit_path[i]`).
        field: String,
    },
    /// The checkpoint's signature or text was rejected.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// `tree_size` is not the checkpoint's tree size.
    #[error("tree_size {proof} differs from the checkpoint's tree size {checkpoint}")]
    TreeSize {
        /// The proof's `tree_size`.
        proof: u64,
        /// The signed checkpoint's size.
        checkpoint: u64,
    },
    /// `root` is not the checkpoint's root hash.
    #[error("root differs from the checkpoint's root hash")]
    Root,
    /// `leaf_hash` is not `SHA-256(0x00 || leaf)`.
    #[error("leaf_hash is not SHA-256(0x00 || leaf)")]
    LeafHash,
    /// The audit path does not lead from the leaf to the root.
    #[error("audit_path does not prove leaf_index {leaf_index} in tree_size {tree_size}: {source}")]
    Inclusion {
        /// The proof's `leaf_index`.
        leaf_index: u64,
        /// The proof's `tree_size`.
        tree_size: u64,
        /// What the RFC 9162 verifier found.
        source: VerifyError,
    },
}

fn decode_hex(field: &str, s: &str) -> Result<Vec<u8>, ProofError> {
    let bad = || ProofError::Hex {
        field: field.to_owned(),
    };
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad());
    }
    hex::decode(s).map_err(|_| bad())
}

fn decode_hash(field: &str, s: &str) -> Result<Hash, ProofError> {
    decode_hex(field, s)?
        .try_into()
        .map_err(|_| ProofError::Hex {
            field: field.to_owned(),
        })
}

impl InclusionProofJson {
    /// Assembles a proof that `leaf` is leaf `leaf_index` under `checkpoint` (a signed note
    /// whose checkpoint has size `tree_size` and root `root`).
    pub fn new(
        leaf: &[u8],
        leaf_index: u64,
        tree_size: u64,
        audit_path: &[Hash],
        root: &Hash,
        checkpoint: &str,
    ) -> Self {
        Self {
            leaf: hex::encode(leaf),
            leaf_index,
            tree_size,
            leaf_hash: hex::encode(leaf_hash(leaf)),
            audit_path: audit_path.iter().map(hex::encode).collect(),
            root: hex::encode(root),
            checkpoint: checkpoint.to_owned(),
        }
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain strings and integers serialise")
    }

    /// Parses the JSON form (unknown fields rejected).
    pub fn from_json(json: &str) -> Result<Self, ProofError> {
        serde_json::from_str(json).map_err(|e| ProofError::Json(e.to_string()))
    }

    /// Verifies the proof with only the node's verifier key: the checkpoint's signature, that
    /// `tree_size` and `root` are the checkpoint's, that `leaf_hash` is `SHA-256(0x00 || leaf)`,
    /// and the RFC 9162 inclusion of `leaf_hash` at `leaf_index`. Returns the checkpoint.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<Checkpoint, ProofError> {
        let (checkpoint, _) = Checkpoint::open(&self.checkpoint, verifier)?;
        if self.tree_size != checkpoint.size {
            return Err(ProofError::TreeSize {
                proof: self.tree_size,
                checkpoint: checkpoint.size,
            });
        }
        if decode_hash("root", &self.root)? != checkpoint.root {
            return Err(ProofError::Root);
        }
        let leaf = decode_hex("leaf", &self.leaf)?;
        let claimed_leaf_hash = decode_hash("leaf_hash", &self.leaf_hash)?;
        if leaf_hash(&leaf) != claimed_leaf_hash {
            return Err(ProofError::LeafHash);
        }
        let path = self
            .audit_path
            .iter()
            .enumerate()
            .map(|(i, h)| decode_hash(&format!("audit_path[{i}]"), h))
            .collect::<Result<Vec<_>, _>>()?;
        verify_inclusion(
            &claimed_leaf_hash,
            self.leaf_index,
            checkpoint.size,
            &path,
            &checkpoint.root,
        )
        .map_err(|source| ProofError::Inclusion {
            leaf_index: self.leaf_index,
            tree_size: self.tree_size,
            source,
        })?;
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{EntryKind, LedgerEntry};
    use crate::frontier::Frontier;
    use crate::nodes::MemoryNodes;
    use crate::note::NoteSigner;
    use crate::proof::inclusion_proof;
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    fn entry(i: u64) -> LedgerEntry {
        LedgerEntry {
            kind: EntryKind::Record,
            subject: crate::hash::sha256(&i.to_be_bytes()),
            content_hash: [i as u8; 32],
            actor: [7; 32],
            time: 1_700_000_000_000 + i as i64,
        }
    }

    /// A log of `n` entries, its signer, and the proof for leaf `index`.
    fn proof(n: u64, index: u64) -> (NoteSigner, InclusionProofJson) {
        let signer = NoteSigner::new("hdg.example/n1", SigningKey::from_bytes(&[3; 32])).unwrap();
        let mut f = Frontier::new();
        let mut nodes = MemoryNodes::new();
        for i in 0..n {
            nodes.put_all(&f.append(entry(i).leaf_hash()));
        }
        let cp = Checkpoint {
            origin: "hdg.example/n1".into(),
            size: n,
            root: f.root(),
            height: 4,
            time: 1_700_000_000_999,
            prev: Some([1; 32]),
        };
        let note = cp.sign(&signer).unwrap();
        let path = inclusion_proof(&nodes, index, n).unwrap();
        let p = InclusionProofJson::new(&entry(index).to_bytes(), index, n, &path, &cp.root, &note);
        (signer, p)
    }

    fn flip_hex(s: &str) -> String {
        let mut b = s.as_bytes().to_vec();
        b[0] = if b[0] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn a_valid_proof_verifies_after_a_json_round_trip() {
        let (signer, p) = proof(11, 6);
        let json = p.to_json();
        let back = InclusionProofJson::from_json(&json).unwrap();
        assert_eq!(back, p);
        let cp = back.verify(&signer.verifier()).unwrap();
        assert_eq!((cp.size, cp.height), (11, 4));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys.len(), 7);
        for k in [
            "leaf",
            "leaf_index",
            "tree_size",
            "leaf_hash",
            "audit_path",
            "root",
            "checkpoint",
        ] {
            assert!(keys.contains(&k), "{k}");
        }
    }

    #[test]
    fn tampering_with_each_field_fails_naming_it() {
        let (signer, good) = proof(11, 6);
        let v = signer.verifier();
        let mut cases: Vec<(InclusionProofJson, &str)> = Vec::new();
        let mut p = good.clone();
        p.leaf = flip_hex(&p.leaf);
        cases.push((p, "leaf"));
        let mut p = good.clone();
        p.leaf_index += 1;
        cases.push((p, "leaf_index"));
        let mut p = good.clone();
        p.tree_size -= 1;
        cases.push((p, "tree_size"));
        let mut p = good.clone();
        p.leaf_hash = flip_hex(&p.leaf_hash);
        cases.push((p, "leaf_hash"));
        let mut p = good.clone();
        p.audit_path[1] = flip_hex(&p.audit_path[1]);
        cases.push((p, "audit_path"));
        let mut p = good.clone();
        p.audit_path.pop();
        cases.push((p, "audit_path"));
        let mut p = good.clone();
        p.root = flip_hex(&p.root);
        cases.push((p, "root"));
        let mut p = good.clone();
        p.checkpoint = p.checkpoint.replacen("height 4", "height 5", 1);
        cases.push((p, "checkpoint"));
        let mut p = good.clone();
        p.root = p.root.to_uppercase();
        cases.push((p, "root"));
        // Another entry with its own correct leaf hash: the path no longer leads to the root.
        let mut p = good.clone();
        p.leaf = hex::encode(entry(5).to_bytes());
        p.leaf_hash = hex::encode(entry(5).leaf_hash());
        cases.push((p, "audit_path"));
        for (p, field) in cases {
            let err = p.verify(&v).expect_err(field);
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
        // The right proof with the wrong key.
        let other = NoteSigner::new("hdg.example/n1", SigningKey::from_bytes(&[4; 32])).unwrap();
        assert!(matches!(
            good.verify(&other.verifier()),
            Err(ProofError::Checkpoint(_))
        ));
        assert!(matches!(
            InclusionProofJson::from_json(&good.to_json().replacen(
                "\"leaf\"",
                "\"extra\": 1, \"leaf\"",
                1
            )),
            Err(ProofError::Json(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn every_leaf_proof_verifies_and_bit_flips_fail(n in 1u64..40, pick: u64, bit in 0usize..256) {
            let index = pick % n;
            let (signer, p) = proof(n, index);
            prop_assert!(p.verify(&signer.verifier()).is_ok());
            let flip = |s: &str| {
                let mut b = hex::decode(s).unwrap();
                let i = (bit / 8) % b.len();
                b[i] ^= 1 << (bit % 8);
                hex::encode(b)
            };
            for field in 0..4 {
                let mut q = p.clone();
                match field {
                    0 => q.leaf = flip(&q.leaf),
                    1 => q.leaf_hash = flip(&q.leaf_hash),
                    2 => q.root = flip(&q.root),
                    _ => match q.audit_path.first_mut() {
                        Some(e) => *e = flip(e),
                        None => continue,
                    },
                }
                prop_assert!(q.verify(&signer.verifier()).is_err());
            }
        }
    }
}
