//! The ledger of a gateway node: an append-only RFC 6962 / RFC 9162 Merkle log of
//! [`LedgerEntry`] leaves, its proofs, and its signed heads.
//!
//! Pure code, no I/O: the perfect-subtree hashes live behind [`NodeReader`] (RocksDB in the
//! `storage` crate, [`MemoryNodes`] in tests), appends go through a [`Frontier`] that returns
//! the nodes to persist, and heads are C2SP tlog-checkpoints in C2SP signed notes, the format
//! of Go's sumdb, Sigsum and the transparency-dev witnesses, so standard tools can check them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod checkpoint;
mod cosignature;
mod entry;
mod frontier;
mod hash;
mod nodes;
mod note;
mod proof;
mod proof_json;
mod verify;
mod witness;

#[cfg(test)]
mod proof_properties;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod rfc6962_vectors;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use cosignature::{COSIGNATURE_TYPE, CosignatureVerifier, Cosigner, cosignature_time};
pub use entry::{ENTRY_FORMAT, ENTRY_LEN, EntryError, EntryKind, LedgerEntry};
pub use frontier::{Frontier, FrontierError, NewNode};
pub use hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash, sha256};
pub use nodes::{MemoryNodes, NodeError, NodeReader};
pub use note::{
    ED25519_TYPE, MAX_SIGNATURES, NoteError, NoteSignature, NoteSigner, NoteVerifier, SignedNote,
    check_key_name, key_id,
};
pub use proof::{TreeError, consistency_proof, inclusion_proof, root_at};
pub use proof_json::{InclusionProofJson, ProofError};
pub use verify::{VerifyError, verify_consistency, verify_inclusion};
pub use witness::{ForkKind, WitnessRefusal, check_extension};
