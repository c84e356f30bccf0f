//! Comparisons, as the sign of a difference ([`crate::protocols::a2b::msb_within`]).
//!
//! Each takes the [`Width`] the difference fits: correct whenever -2^(bits-1) <= x - y <
//! 2^(bits-1) ([`Width::FULL`]: |x - y| < 2^63, which holds for all x, y in [-2^62, 2^62)).
//! Statistics derive the width from the bounds they check before any comparison. Cost of each:
//! that of `msb_within` at the width (8 rounds and 241 words per 64 values per party at full
//! width).

use crate::protocols::a2b::{Affine, Width, msb_affine, msb_within};
use crate::ring::encode;
use crate::{ArithShares, BoolShares, Party, ProtocolError};

/// Shares of [x < c] for a public c, x - c within `width`.
pub fn less_than_public(
    party: &mut Party,
    x: &ArithShares,
    c: i64,
    width: Width,
) -> Result<BoolShares, ProtocolError> {
    let f = Affine {
        negate: false,
        offset: public_offset(party, encode(c).wrapping_neg()),
    };
    msb_affine(party, x, f, width)
}

/// Component offsets that add the public constant c (to share x_0: P0's `a`, P2's `b`).
fn public_offset(party: &Party, c: u64) -> (u64, u64) {
    match party.id().index() {
        0 => (c, 0),
        2 => (0, c),
        _ => (0, 0),
    }
}

/// Shares of [x > c] for a public c (the sign of c - x), x - c within `width`.
pub fn greater_than_public(
    party: &mut Party,
    x: &ArithShares,
    c: i64,
    width: Width,
) -> Result<BoolShares, ProtocolError> {
    let f = Affine {
        negate: true,
        offset: public_offset(party, encode(c)),
    };
    msb_affine(party, x, f, width)
}

/// Shares of [x > c] for a shared scalar c (one-element shares), element-wise over x: the sign
/// of c - x, with c added to each component while bit-slicing; x - c within `width`.
pub fn greater_than_shared(
    party: &mut Party,
    x: &ArithShares,
    c: &ArithShares,
    width: Width,
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
    msb_affine(party, x, f, width)
}

/// Shares of [x < y], element-wise, x - y within `width`.
pub fn less_than(
    party: &mut Party,
    x: &ArithShares,
    y: &ArithShares,
    width: Width,
) -> Result<BoolShares, ProtocolError> {
    if x.len() != y.len() {
        return Err(ProtocolError::InvalidArgument {
            step: "less than",
            reason: "operands differ in length",
        });
    }
    msb_within(party, &x.sub(y), width)
}
