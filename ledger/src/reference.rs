//! Test-only reference: the RFC 6962 section 2.1 recursive definitions (MTH, PATH, PROOF)
//! written as literally as possible over a slice of leaf hashes, to check the O(log n)
//! storage-backed code against.

use crate::hash::{EMPTY_ROOT, Hash, node_hash};

/// The largest power of two strictly smaller than `n` (`n >= 2`), written as a loop so it does
/// not share code with the production bit tricks.
fn split(n: usize) -> usize {
    let mut k = 1;
    while k < n - k {
        k *= 2;
    }
    k
}

/// `MTH(D[n])` over leaf hashes: `MTH({}) = SHA-256()`, `MTH({d}) = leaf hash`, else split.
pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// `PATH(m, D[n])`, the audit path of leaf `m`.
pub fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// For each element of `PATH(m, D[n])`, whether that sibling sits to the left of the path.
pub fn path_sides(m: u64, n: u64) -> Vec<bool> {
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n as usize) as u64;
    let mut sides = if m < k {
        path_sides(m, k)
    } else {
        path_sides(m - k, n - k)
    };
    sides.push(m >= k);
    sides
}

/// `PROOF(m, D[n])` for `0 < m < n`.
pub fn proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    subproof(m, leaves, true)
}

fn subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(leaves)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], b);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}
