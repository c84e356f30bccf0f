//! RFC 6962 / RFC 9162 Merkle tree hashing (section 2.1.1): SHA-256 with a one-byte domain
//! separator, so a leaf can never be mistaken for an interior node.

use sha2::{Digest, Sha256};

/// A SHA-256 output: every leaf hash, node hash and tree root is one of these.
pub type Hash = [u8; 32];

/// Root of the empty tree, `MTH({}) = SHA-256()` (the hash of the empty string).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Leaf hash `SHA-256(0x00 || data)`: what a leaf contributes to the tree.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// Interior node hash `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Plain SHA-256 of `data` (key ids, checkpoint chain links).
pub fn sha256(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, sha256(b""));
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        // A 64-byte leaf whose bytes equal left || right must not collide with the node.
        let (l, r) = ([1u8; 32], [2u8; 32]);
        let mut data = l.to_vec();
        data.extend_from_slice(&r);
        assert_ne!(leaf_hash(&data), node_hash(&l, &r));
        let mut prefixed = vec![0x01];
        prefixed.extend_from_slice(&data);
        assert_eq!(node_hash(&l, &r), sha256(&prefixed));
    }
}
