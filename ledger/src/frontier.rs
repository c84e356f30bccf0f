//! The compact frontier of an append-only Merkle log: the roots of the perfect subtrees along
//! the right border, one per set bit of the tree size (largest first). It is all that appending
//! needs, so storage keeps it in a single key and never rereads old nodes to append.

use crate::hash::{EMPTY_ROOT, Hash, node_hash};
use crate::nodes::{NodeError, NodeReader};

/// Right-border perfect-subtree roots of a tree of `size` leaves (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `roots[i]` covers the i-th set bit of `size`, from the most significant down.
    roots: Vec<Hash>,
}

/// A perfect node completed by an append: `(level, index, hash)`, to be persisted.
pub type NewNode = (u8, u64, Hash);

/// Version byte leading [`Frontier::to_bytes`].
const FRONTIER_FORMAT: u8 = 1;

/// Why frontier bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    /// The bytes are not a version-1 frontier: wrong version byte, or a length that does not
    /// match the number of roots the encoded size implies.
    #[error("frontier bytes malformed: {0}")]
    Malformed(&'static str),
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash. Returns the perfect nodes this completes, lowest level first:
    /// always the leaf itself at level 0, plus one node per carry (amortised two nodes per
    /// append, at most 64), costing that many `node_hash` calls.
    pub fn append(&mut self, leaf_hash: Hash) -> Vec<NewNode> {
        let index = self.size;
        let mut hash = leaf_hash;
        let mut completed = vec![(0, index, hash)];
        let mut level = 0u8;
        while (index >> level) & 1 == 1 {
            let left = self.roots.pop().expect("a set size bit has a root");
            hash = node_hash(&left, &hash);
            level += 1;
            completed.push((level, index >> level, hash));
        }
        self.roots.push(hash);
        self.size = index.checked_add(1).expect("tree size below 2^64");
        completed
    }

    /// The RFC 6962 Merkle tree hash of all leaves appended so far (`EMPTY_ROOT` when empty).
    pub fn root(&self) -> Hash {
        let mut roots = self.roots.iter().rev();
        match roots.next() {
            None => EMPTY_ROOT,
            Some(last) => roots.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// Rebuilds the frontier of a tree of `size` leaves from its stored perfect nodes
    /// (one read per set bit of `size`).
    pub fn load(reader: &impl NodeReader, size: u64) -> Result<Self, NodeError> {
        let mut roots = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if (size >> level) & 1 == 1 {
                roots.push(reader.node(level, start >> level)?);
                start += 1 << level;
            }
        }
        Ok(Self { size, roots })
    }

    /// Encodes as `0x01 || size (u64 big-endian) || roots (32 bytes each, largest subtree
    /// first)`; the number of roots is the number of set bits of `size`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + 32 * self.roots.len());
        out.push(FRONTIER_FORMAT);
        out.extend_from_slice(&self.size.to_be_bytes());
        for r in &self.roots {
            out.extend_from_slice(r);
        }
        out
    }

    /// Decodes [`Frontier::to_bytes`] output, checking version and length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FrontierError> {
        let (&version, rest) = bytes
            .split_first()
            .ok_or(FrontierError::Malformed("empty"))?;
        if version != FRONTIER_FORMAT {
            return Err(FrontierError::Malformed("unknown version byte"));
        }
        let (size, roots) = rest
            .split_first_chunk::<8>()
            .ok_or(FrontierError::Malformed("shorter than the size field"))?;
        let size = u64::from_be_bytes(*size);
        if roots.len() != 32 * size.count_ones() as usize {
            return Err(FrontierError::Malformed(
                "root count does not match the tree size",
            ));
        }
        let roots = roots
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32-byte chunk"))
            .collect();
        Ok(Self { size, roots })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::nodes::MemoryNodes;
    use crate::reference::mth;
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn empty_frontier_has_the_empty_root() {
        assert_eq!(Frontier::new().root(), EMPTY_ROOT);
        assert_eq!(Frontier::new().size(), 0);
    }

    #[test]
    fn append_reports_the_completed_perfect_nodes() {
        let l = leaves(4);
        let mut f = Frontier::new();
        assert_eq!(f.append(l[0]), vec![(0, 0, l[0])]);
        let n01 = node_hash(&l[0], &l[1]);
        assert_eq!(f.append(l[1]), vec![(0, 1, l[1]), (1, 0, n01)]);
        assert_eq!(f.append(l[2]), vec![(0, 2, l[2])]);
        let n23 = node_hash(&l[2], &l[3]);
        let n0123 = node_hash(&n01, &n23);
        assert_eq!(
            f.append(l[3]),
            vec![(0, 3, l[3]), (1, 1, n23), (2, 0, n0123)]
        );
        assert_eq!(f.root(), n0123);
    }

    #[test]
    fn decoding_rejects_bad_version_and_length() {
        let mut f = Frontier::new();
        for l in leaves(5) {
            f.append(l);
        }
        let good = f.to_bytes();
        assert_eq!(good.len(), 1 + 8 + 2 * 32);
        let mut bad_version = good.clone();
        bad_version[0] = 2;
        assert!(Frontier::from_bytes(&bad_version).is_err());
        assert!(Frontier::from_bytes(&good[..good.len() - 1]).is_err());
        assert!(Frontier::from_bytes(&[good.clone(), vec![0; 32]].concat()).is_err());
        assert!(Frontier::from_bytes(&good[..5]).is_err());
        assert!(Frontier::from_bytes(&[]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Every prefix's frontier root equals the RFC definition, the appended nodes are
        /// exactly the perfect subtrees, and the frontier survives bytes and reloads.
        #[test]
        fn frontier_tracks_the_reference_tree(n in 0u64..300) {
            let l = leaves(n);
            let mut f = Frontier::new();
            let mut nodes = MemoryNodes::new();
            let mut count = 0usize;
            for (i, leaf) in l.iter().enumerate() {
                let new = f.append(*leaf);
                for &(level, index, hash) in &new {
                    let start = (index << level) as usize;
                    prop_assert_eq!(start + (1usize << level), i + 1);
                    prop_assert_eq!(hash, mth(&l[start..i + 1]));
                }
                count += new.len();
                nodes.put_all(&new);
                prop_assert_eq!(f.size(), i as u64 + 1);
                prop_assert_eq!(f.root(), mth(&l[..=i]));
            }
            // A perfect tree of 2^k leaves has 2^(k+1) - 1 nodes: under two per leaf.
            prop_assert!(count < 2 * l.len() + 1);
            prop_assert_eq!(Frontier::from_bytes(&f.to_bytes()), Ok(f.clone()));
            prop_assert_eq!(Frontier::load(&nodes, n), Ok(f));
        }
    }
}
