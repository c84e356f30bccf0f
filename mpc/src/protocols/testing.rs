//! Test helpers: share plaintext from P0 and open results.

use crate::protocols::input::input;
use crate::protocols::reveal::reveal;
use crate::{ArithShares, Party, PartyId};

/// Shares `values` from P0 (every party passes the same plaintext; only P0's is used).
pub(crate) fn share(p: &mut Party, values: &[i64]) -> ArithShares {
    let ring = crate::ring::encode_all(values);
    let own = (p.id() == PartyId::P0).then_some(&ring[..]);
    input(p, PartyId::P0, own, values.len()).expect("input")
}

/// Opens shares as signed integers.
pub(crate) fn open(p: &mut Party, x: &ArithShares) -> Vec<i64> {
    crate::ring::decode_all(&reveal(p, x).expect("reveal"))
}
