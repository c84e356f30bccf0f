//! Where the tree's perfect subtrees live. A perfect subtree is addressed by `(level, index)`:
//! it covers leaves `[index * 2^level, (index + 1) * 2^level)`, and level 0 holds the leaf hashes.
//! Only perfect subtrees are ever stored, so a stored node never changes once written; hashes of
//! the ragged right border are recomputed from them when a proof needs them.

use crate::hash::Hash;

/// Why a stored node could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The store has no node at this address (it was never written or was removed).
    #[error("tree node at level {level} index {index} is missing")]
    Missing {
        /// Level of the missing node (0 = leaf hash).
        level: u8,
        /// Index of the missing node within its level.
        index: u64,
    },
    /// The backing store failed; the text says how (never health data: nodes are hashes).
    #[error("tree node store failed: {0}")]
    Store(String),
}

/// Read access to the perfect-subtree hashes of one log. `storage` implements it over RocksDB;
/// [`MemoryNodes`] implements it in memory for tests and benches.
pub trait NodeReader {
    /// The hash of the perfect subtree at `(level, index)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, NodeError>;
}

/// An in-memory node store: `levels[level][index]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryNodes {
    levels: Vec<Vec<Hash>>,
}

impl MemoryNodes {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores (or overwrites) the node at `(level, index)`.
    ///
    /// # Panics
    /// If `index` would leave a gap in its level: nodes are written in append order, which is
    /// the order [`crate::Frontier::append`] reports them.
    pub fn put(&mut self, level: u8, index: u64, hash: Hash) {
        let level = usize::from(level);
        if self.levels.len() <= level {
            self.levels.resize(level + 1, Vec::new());
        }
        let row = &mut self.levels[level];
        let index = usize::try_from(index).expect("node index fits in memory");
        match index.cmp(&row.len()) {
            std::cmp::Ordering::Less => row[index] = hash,
            std::cmp::Ordering::Equal => row.push(hash),
            std::cmp::Ordering::Greater => panic!("node ({level}, {index}) written out of order"),
        }
    }

    /// Stores every node [`crate::Frontier::append`] reported.
    pub fn put_all(&mut self, nodes: &[(u8, u64, Hash)]) {
        for &(level, index, hash) in nodes {
            self.put(level, index, hash);
        }
    }
}

impl NodeReader for MemoryNodes {
    fn node(&self, level: u8, index: u64) -> Result<Hash, NodeError> {
        self.levels
            .get(usize::from(level))
            .and_then(|row| row.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(NodeError::Missing { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_was_put_and_reports_gaps() {
        let mut m = MemoryNodes::new();
        m.put(2, 0, [7; 32]);
        m.put(2, 1, [8; 32]);
        m.put(2, 0, [9; 32]);
        assert_eq!(m.node(2, 0), Ok([9; 32]));
        assert_eq!(m.node(2, 1), Ok([8; 32]));
        assert_eq!(m.node(2, 2), Err(NodeError::Missing { level: 2, index: 2 }));
        assert_eq!(m.node(0, 0), Err(NodeError::Missing { level: 0, index: 0 }));
        assert_eq!(m.node(5, 0), Err(NodeError::Missing { level: 5, index: 0 }));
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn gaps_are_refused() {
        MemoryNodes::new().put(0, 1, [1; 32]);
    }
}
