//! Comparisons, as the most significant bit of a difference ([`crate::protocols::a2b::msb`]).
//!
//! Correct whenever the difference fits a signed 64-bit integer: |x - y| < 2^63, which holds
//! for all x, y in [-2^62, 2^62). Statistics keep values far inside that range (their bounds are
//! checked before any comparison). Cost of each: that of `msb` (8 rounds, 241 words per 64
//! values per party).

use crate::protocols::a2b::{Affine, msb, msb_affine};
use crate::ring::encode;
use crate::{ArithShares, BoolShares, Party, ProtocolError};

/// Shares of [x < c] for a public c.
pub fn less_than_public(
    party: &mut Party,
    x: &ArithShares,
    c: i64,
) -> Result<BoolShares, ProtocolError> {
    let f = Affine {
        negate: false,
        offset: public_offset(party, encode(c).wrapping_neg()),
    };
    msb_affine(party, x, f)
}

/// Component offsets that add the public constant c (to share x_0: P0's `a`, P2's `b`).
fn public_offset(party: &Party, c: u64) -> (u64, u64) {
    match party.id().index() {
        0 => (c, 0),
        2 => (0, c),
        _ => (0, 0),
    }
}

/// Shares of [x > c] for a public c (MSB of c - x).
pub fn greater_than_public(
    party: &mut Party,
    x: &ArithShares,
    c: i64,
) -> Result<BoolShares, ProtocolError> {
    let f = Affine {
        negate: true,
        offset: public_offset(party, encode(c)),
    };
    msb_affine(party, x, f)
}

/// Shares of [x > c] for a shared scalar c (one-element shares), element-wise over x: the MSB
/// of c - x, with c added to each component while bit-slicing.
pub fn greater_than_shared(
    party: &mut Party,
    x: &ArithShares,
    c: &ArithShares,
) -> Result<BoolShares, ProtocolError> {
    if c.len() != 1 {
        return Err(ProtocolError::InvalidArgument {
            step: "greater than shared scalar",
            reason: "the threshold must be one shared value",
        });
    }
    let f = Affine {
        negate: true,
        offset: (c.a[0], c.b[0]),
    };
    msb_affine(party, x, f)
}

/// Shares of [x < y], element-wise.
pub fn less_than(
    party: &mut Party,
    x: &ArithShares,
    y: &ArithShares,
) -> Result<BoolShares, ProtocolError> {
    if x.len() != y.len() {
        return Err(ProtocolError::InvalidArgument {
            step: "less than",
            reason: "operands differ in length",
        });
    }
    msb(party, &x.sub(y))
}
