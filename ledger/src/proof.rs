//! Building roots and proofs (RFC 9162 sections 2.1.3.1 and 2.1.4.1) from stored perfect
//! subtrees. Each walks the RFC recursion top-down; every sibling it needs is either a perfect
//! subtree (one node read) or, at most once per proof, the ragged right border (one read per
//! set bit of its width), so a proof costs O(log n) reads.

use crate::hash::{EMPTY_ROOT, Hash, node_hash};
use crate::nodes::{NodeError, NodeReader};

/// Why a root or proof could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// An inclusion proof was asked for a leaf the tree does not have.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Requested leaf index.
        index: u64,
        /// Tree size the proof was asked against.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old_size} exceeds new tree size {new_size}")]
    SizeOrder {
        /// The earlier tree size.
        old_size: u64,
        /// The later tree size.
        new_size: u64,
    },
    /// A node the proof needs could not be read.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// The largest power of two strictly below `n` (`n >= 2`): the RFC's split point `k`.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[start:end])` for a range the RFC recursion produces (`start` is a multiple of a power
/// of two at least `end - start`): the perfect subtrees of its width, folded right to left.
fn subtree_root(reader: &impl NodeReader, start: u64, end: u64) -> Result<Hash, NodeError> {
    let width = end - start;
    let mut parts = Vec::with_capacity(width.count_ones() as usize);
    let mut pos = start;
    for level in (0..64u8).rev() {
        if (width >> level) & 1 == 1 {
            parts.push(reader.node(level, pos >> level)?);
            pos += 1 << level;
        }
    }
    let mut parts = parts.into_iter().rev();
    let last = parts.next().expect("width is at least one");
    Ok(parts.fold(last, |acc, left| node_hash(&left, &acc)))
}

/// The Merkle tree hash of the first `size` leaves (`EMPTY_ROOT` for 0).
pub fn root_at(reader: &impl NodeReader, size: u64) -> Result<Hash, TreeError> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    Ok(subtree_root(reader, 0, size)?)
}

/// The audit path `PATH(index, D[size])`, leaf level first.
pub fn inclusion_proof(
    reader: &impl NodeReader,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TreeError> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let (mut start, mut end) = (0, size);
    let mut path = Vec::new();
    while end - start > 1 {
        let mid = start + split(end - start);
        if index < mid {
            path.push(subtree_root(reader, mid, end)?);
            end = mid;
        } else {
            path.push(subtree_root(reader, start, mid)?);
            start = mid;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof `PROOF(old_size, D[new_size])`; empty when `old_size` is 0 or equals
/// `new_size` (nothing to prove beyond comparing roots).
pub fn consistency_proof(
    reader: &impl NodeReader,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, TreeError> {
    if old_size > new_size {
        return Err(TreeError::SizeOrder { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[start:end], whole_old_tree) unrolled; `m` is relative to `start`.
    let (mut start, mut end, mut m) = (0, new_size, old_size);
    let mut whole_old_tree = true;
    let mut proof = Vec::new();
    while m != end - start {
        let mid = start + split(end - start);
        if m <= mid - start {
            proof.push(subtree_root(reader, mid, end)?);
            end = mid;
        } else {
            proof.push(subtree_root(reader, start, mid)?);
            m -= mid - start;
            start = mid;
            whole_old_tree = false;
        }
    }
    if !whole_old_tree {
        proof.push(subtree_root(reader, start, end)?);
    }
    proof.reverse();
    Ok(proof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontier::Frontier;
    use crate::hash::leaf_hash;
    use crate::nodes::MemoryNodes;
    use crate::reference;
    use std::cell::Cell;

    /// A reader that counts node reads, to check the O(log n) bound.
    struct Counting<'a> {
        inner: &'a MemoryNodes,
        reads: Cell<u64>,
    }
    impl NodeReader for Counting<'_> {
        fn node(&self, level: u8, index: u64) -> Result<Hash, NodeError> {
            self.reads.set(self.reads.get() + 1);
            self.inner.node(level, index)
        }
    }

    fn build(n: u64) -> (Vec<Hash>, MemoryNodes) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut f = Frontier::new();
        let mut nodes = MemoryNodes::new();
        for l in &leaves {
            nodes.put_all(&f.append(*l));
        }
        (leaves, nodes)
    }

    #[test]
    fn roots_and_proofs_match_the_rfc_definitions_exhaustively_up_to_70() {
        let (leaves, nodes) = build(70);
        for n in 0..=70usize {
            let tree = &leaves[..n];
            assert_eq!(root_at(&nodes, n as u64), Ok(reference::mth(tree)));
            for m in 0..n {
                assert_eq!(
                    inclusion_proof(&nodes, m as u64, n as u64),
                    Ok(reference::path(m, tree))
                );
            }
            for m in 1..n {
                assert_eq!(
                    consistency_proof(&nodes, m as u64, n as u64),
                    Ok(reference::proof(m, tree))
                );
            }
        }
    }

    #[test]
    fn proofs_read_logarithmically_many_nodes() {
        let n = 1_000_003u64;
        let (_, nodes) = build(n);
        let counting = Counting {
            inner: &nodes,
            reads: Cell::new(0),
        };
        // log2(10^6) ~ 20; the ragged border adds at most one read per set bit of n.
        let bound = 2 * u64::from(64 - n.leading_zeros());
        for (index, old) in [(0, 1), (n / 2, n / 3), (n - 1, n - 1), (777_777, 524_288)] {
            counting.reads.set(0);
            inclusion_proof(&counting, index, n).unwrap();
            assert!(
                counting.reads.get() <= bound,
                "{} reads",
                counting.reads.get()
            );
            counting.reads.set(0);
            consistency_proof(&counting, old, n).unwrap();
            assert!(
                counting.reads.get() <= bound,
                "{} reads",
                counting.reads.get()
            );
        }
    }

    #[test]
    fn bad_requests_are_typed_errors() {
        let (_, nodes) = build(5);
        assert_eq!(
            inclusion_proof(&nodes, 5, 5),
            Err(TreeError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            consistency_proof(&nodes, 6, 5),
            Err(TreeError::SizeOrder {
                old_size: 6,
                new_size: 5
            })
        );
        assert_eq!(consistency_proof(&nodes, 0, 5), Ok(vec![]));
        assert_eq!(consistency_proof(&nodes, 5, 5), Ok(vec![]));
        // Asking beyond what is stored reports the missing node.
        assert!(matches!(
            root_at(&nodes, 6),
            Err(TreeError::Node(NodeError::Missing { .. }))
        ));
    }
}
