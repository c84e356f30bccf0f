//! The published RFC 6962 test vectors (as carried by transparency-dev/merkle and
//! certificate-transparency-go): the eight standard leaves, the roots of sizes 0-8, and the
//! known inclusion and consistency paths, checked against both the builders and the verifiers.

use crate::frontier::Frontier;
use crate::hash::{EMPTY_ROOT, Hash, leaf_hash};
use crate::nodes::MemoryNodes;
use crate::proof::{consistency_proof, inclusion_proof, root_at};
use crate::reference;
use crate::verify::{VerifyError, verify_consistency, verify_inclusion};

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// The eight standard leaf inputs (data, not hashes).
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// `ROOTS[n]` is the root of the tree of the first `n` leaves.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, audit path). Published with 1-based leaf numbers; converted here.
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, consistency path).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn leaf_hashes() -> Vec<Hash> {
    LEAVES
        .iter()
        .map(|d| leaf_hash(&hex::decode(d).unwrap()))
        .collect()
}

fn stored_tree() -> MemoryNodes {
    let mut f = Frontier::new();
    let mut nodes = MemoryNodes::new();
    for l in leaf_hashes() {
        nodes.put_all(&f.append(l));
    }
    nodes
}

fn path(p: &[&str]) -> Vec<Hash> {
    p.iter().map(|s| h(s)).collect()
}

#[test]
fn roots_of_sizes_0_to_8() {
    let leaves = leaf_hashes();
    let nodes = stored_tree();
    assert_eq!(h(ROOTS[0]), EMPTY_ROOT);
    let mut f = Frontier::new();
    for (n, root) in ROOTS.iter().enumerate() {
        assert_eq!(root_at(&nodes, n as u64), Ok(h(root)), "size {n}");
        assert_eq!(reference::mth(&leaves[..n]), h(root), "size {n}");
        assert_eq!(f.root(), h(root), "size {n}");
        if n < 8 {
            f.append(leaves[n]);
        }
    }
}

#[test]
fn published_inclusion_paths_are_built_and_verified() {
    let leaves = leaf_hashes();
    let nodes = stored_tree();
    for (index, size, p) in INCLUSION {
        let want = path(p);
        assert_eq!(inclusion_proof(&nodes, index, size), Ok(want.clone()));
        let root = h(ROOTS[size as usize]);
        assert_eq!(
            verify_inclusion(&leaves[index as usize], index, size, &want, &root),
            Ok(())
        );
        // The RFC 9162 example: a different leaf or a truncated path must not verify.
        assert!(verify_inclusion(&[9; 32], index, size, &want, &root).is_err());
        if let Some((_, shorter)) = want.split_last() {
            assert_eq!(
                verify_inclusion(&leaves[index as usize], index, size, shorter, &root),
                Err(VerifyError::ProofTooShort)
            );
        }
    }
}

#[test]
fn published_consistency_paths_are_built_and_verified() {
    let nodes = stored_tree();
    for (old, new, p) in CONSISTENCY {
        let want = path(p);
        assert_eq!(consistency_proof(&nodes, old, new), Ok(want.clone()));
        let (r1, r2) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
        assert_eq!(verify_consistency(old, new, &r1, &r2, &want), Ok(()));
        if old != new {
            assert!(verify_consistency(old, new, &r2, &r1, &want).is_err());
            assert!(verify_consistency(old, new, &r1, &r2, &[]).is_err());
        }
    }
}

#[test]
fn trivial_consistency_cases_are_decided_strictly() {
    let (r1, r2) = (h(ROOTS[1]), h(ROOTS[2]));
    assert_eq!(
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
        Ok(())
    );
    assert_eq!(verify_consistency(0, 2, &EMPTY_ROOT, &r2, &[]), Ok(()));
    assert_eq!(verify_consistency(1, 1, &r1, &r1, &[]), Ok(()));
    assert!(verify_consistency(0, 2, &r1, &r2, &[]).is_err());
    assert!(verify_consistency(1, 1, &r1, &r2, &[]).is_err());
    assert!(verify_consistency(1, 1, &r1, &r1, &[EMPTY_ROOT]).is_err());
    assert!(verify_consistency(0, 1, &EMPTY_ROOT, &r1, &[EMPTY_ROOT]).is_err());
    assert_eq!(
        verify_consistency(2, 1, &r2, &r1, &[]),
        Err(VerifyError::SizeOrder {
            old_size: 2,
            new_size: 1
        })
    );
    assert!(verify_inclusion(&r1, 0, 0, &[], &r1).is_err());
    assert!(verify_inclusion(&r1, 1, 1, &[], &r1).is_err());
}
