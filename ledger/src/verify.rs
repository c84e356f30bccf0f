//! Pure verifiers for inclusion and consistency proofs, following the RFC 9162 algorithms of
//! sections 2.1.3.2 and 2.1.4.2 step by step. They need only hashes, no tree.
//!
//! An inclusion proof authenticates the leaf and index against the root, but not the tree
//! size on its own: two sizes whose audit paths have the same shape (e.g. leaf 0 in trees of 5
//! and 7 leaves) accept the same path. Take the size from the signed checkpoint that carries
//! the root, as [`crate::InclusionProofJson::verify`] does.

use crate::hash::{EMPTY_ROOT, Hash, node_hash};

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The old tree size exceeds the new one.
    #[error("old tree size {old_size} exceeds new tree size {new_size}")]
    SizeOrder {
        /// The claimed earlier size.
        old_size: u64,
        /// The claimed later size.
        new_size: u64,
    },
    /// The proof has more elements than the sizes allow.
    #[error("proof has more elements than the tree sizes allow")]
    ProofTooLong,
    /// The proof has fewer elements than the sizes need.
    #[error("proof has fewer elements than the tree sizes need")]
    ProofTooShort,
    /// The proof recomputes a different root than the one claimed.
    #[error("proof does not lead to the claimed root")]
    RootMismatch,
    /// The consistency proof recomputes a different old root than the one claimed.
    #[error("consistency proof does not lead to the claimed old root")]
    OldRootMismatch,
    /// The consistency proof recomputes a different new root than the one claimed.
    #[error("consistency proof does not lead to the claimed new root")]
    NewRootMismatch,
}

/// Right-shifts `f` and `s` together while `f` is even and non-zero (RFC 9162 step
/// "right-shift both fn and sn equally until either LSB(fn) is set or fn is 0").
fn shift_to_odd_or_zero(f: &mut u64, s: &mut u64) {
    while *f & 1 == 0 && *f != 0 {
        *f >>= 1;
        *s >>= 1;
    }
}

/// Checks that `path` proves `leaf_hash` is leaf `index` of the tree of `size` leaves whose
/// root is `root` (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in path {
        if s == 0 {
            return Err(VerifyError::ProofTooLong);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                shift_to_odd_or_zero(&mut f, &mut s);
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(VerifyError::ProofTooShort);
    }
    if r != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// Checks that `proof` shows the tree of `new_size` leaves with root `new_root` extends the
/// tree of `old_size` leaves with root `old_root` (RFC 9162 section 2.1.4.2). The cases the RFC
/// leaves out are decided strictly: equal sizes need an empty proof and equal roots; an old
/// size of 0 needs an empty proof and the empty-tree root.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if old_size > new_size {
        return Err(VerifyError::SizeOrder { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(VerifyError::ProofTooLong);
        }
        if old_size == 0 && *old_root != EMPTY_ROOT {
            return Err(VerifyError::OldRootMismatch);
        }
        if old_size == new_size && old_root != new_root {
            return Err(VerifyError::NewRootMismatch);
        }
        return Ok(());
    }
    // 1. An empty proof fails.
    let (first, rest) = proof.split_first().ok_or(VerifyError::ProofTooShort)?;
    // 2. If old_size is a power of two, old_root is prepended to the path.
    let (seed, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    // 3-4.
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // 5.
    let (mut fr, mut sr) = (*seed, *seed);
    // 6.
    for c in rest {
        if s == 0 {
            return Err(VerifyError::ProofTooLong);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                shift_to_odd_or_zero(&mut f, &mut s);
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // 7.
    if s != 0 {
        return Err(VerifyError::ProofTooShort);
    }
    if fr != *old_root {
        return Err(VerifyError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(VerifyError::NewRootMismatch);
    }
    Ok(())
}
