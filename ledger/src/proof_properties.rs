//! Property tests over random trees: every proof the builders produce matches the RFC
//! definitions and verifies, and one-bit changes to its inputs make verification fail.

use crate::frontier::Frontier;
use crate::hash::{Hash, leaf_hash};
use crate::nodes::MemoryNodes;
use crate::proof::{consistency_proof, inclusion_proof, root_at};
use crate::reference;
use crate::verify::{VerifyError, verify_consistency, verify_inclusion};
use proptest::prelude::*;

struct Tree {
    leaves: Vec<Hash>,
    nodes: MemoryNodes,
}

fn tree(n: u64, salt: u64) -> Tree {
    let leaves: Vec<Hash> = (0..n)
        .map(|i| leaf_hash(&(salt ^ i.rotate_left(17)).to_le_bytes()))
        .collect();
    let mut f = Frontier::new();
    let mut nodes = MemoryNodes::new();
    for l in &leaves {
        nodes.put_all(&f.append(*l));
    }
    Tree { leaves, nodes }
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[bit / 8] ^= 1 << (bit % 8);
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn every_inclusion_proof_of_every_leaf_verifies(n in 1u64..300, salt: u64) {
        let t = tree(n, salt);
        let root = root_at(&t.nodes, n).unwrap();
        for i in 0..n {
            let path = inclusion_proof(&t.nodes, i, n).unwrap();
            prop_assert_eq!(&path, &reference::path(i as usize, &t.leaves));
            prop_assert_eq!(verify_inclusion(&t.leaves[i as usize], i, n, &path, &root), Ok(()));
        }
    }

    #[test]
    fn consistency_proofs_between_every_pair_of_sizes_verify(n in 1u64..70, salt: u64) {
        let t = tree(n, salt);
        for new in 0..=n {
            let new_root = root_at(&t.nodes, new).unwrap();
            for old in 0..=new {
                let old_root = root_at(&t.nodes, old).unwrap();
                let proof = consistency_proof(&t.nodes, old, new).unwrap();
                if old > 0 && old < new {
                    prop_assert_eq!(&proof, &reference::proof(old as usize, &t.leaves[..new as usize]));
                }
                prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn one_bit_changes_break_inclusion(
        n in 1u64..300, salt: u64, pick: u64, bit in 0usize..256, element: usize, int_bit in 0u32..64,
    ) {
        let t = tree(n, salt);
        let index = pick % n;
        let leaf = t.leaves[index as usize];
        let root = root_at(&t.nodes, n).unwrap();
        let path = inclusion_proof(&t.nodes, index, n).unwrap();

        prop_assert!(verify_inclusion(&flip(&leaf, bit), index, n, &path, &root).is_err());
        prop_assert!(verify_inclusion(&leaf, index, n, &path, &flip(&root, bit)).is_err());
        if !path.is_empty() {
            let mut bad = path.clone();
            let e = element % bad.len();
            bad[e] = flip(&bad[e], bit);
            prop_assert!(verify_inclusion(&leaf, index, n, &bad, &root).is_err());
        }
        let other_index = index ^ (1 << int_bit);
        prop_assert!(verify_inclusion(&leaf, other_index, n, &path, &root).is_err());

        // The RFC algorithm binds the size only through the shape of the path: a flipped size
        // is accepted exactly when its audit path has the same left/right shape (which is why
        // the size must come from the signed checkpoint).
        let other_size = n ^ (1 << int_bit);
        let accepted = verify_inclusion(&leaf, index, other_size, &path, &root).is_ok();
        let same_shape = index < other_size
            && reference::path_sides(index, other_size) == reference::path_sides(index, n);
        prop_assert_eq!(accepted, same_shape);
    }

    #[test]
    fn tampered_consistency_proofs_fail(
        n in 2u64..200, salt: u64, a: u64, b: u64, bit in 0usize..256, element: usize,
    ) {
        let t = tree(n, salt);
        let new = 2 + b % (n - 1);
        let old = 1 + a % (new - 1);
        let (r1, r2) = (root_at(&t.nodes, old).unwrap(), root_at(&t.nodes, new).unwrap());
        let proof = consistency_proof(&t.nodes, old, new).unwrap();
        prop_assert_eq!(verify_consistency(old, new, &r1, &r2, &proof), Ok(()));

        let mut bad = proof.clone();
        let e = element % bad.len();
        bad[e] = flip(&bad[e], bit);
        prop_assert!(verify_consistency(old, new, &r1, &r2, &bad).is_err());
        prop_assert!(verify_consistency(old, new, &flip(&r1, bit), &r2, &proof).is_err());
        prop_assert!(verify_consistency(old, new, &r1, &flip(&r2, bit), &proof).is_err());
        prop_assert!(verify_consistency(old, new, &r1, &r2, &proof[..proof.len() - 1]).is_err());
        let longer = [proof.clone(), vec![r1]].concat();
        prop_assert_eq!(verify_consistency(old, new, &r1, &r2, &longer), Err(VerifyError::ProofTooLong));
    }
}

#[test]
fn the_size_hazard_is_real_leaf_0_of_5_and_7() {
    let t = tree(7, 42);
    let root5 = root_at(&t.nodes, 5).unwrap();
    let path = inclusion_proof(&t.nodes, 0, 5).unwrap();
    assert_eq!(verify_inclusion(&t.leaves[0], 0, 7, &path, &root5), Ok(()));
}
