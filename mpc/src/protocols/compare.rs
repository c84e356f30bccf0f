//! Comparisons, as the most significant bit of a difference ([`crate::protocols::a2b::msb`]).
//!
//! Correct whenever the difference fits a signed 64-bit integer: |x - y| < 2^63, which holds
//! for all x, y in [-2^62, 2^62). Statistics keep values far inside that range (their bounds are
//! checked before any comparison). Cost of each: that of `msb` (8 rounds, 241 words per 64
//! values per party).

use crate::protocols::a2b::msb;
use crate::ring::encode;
use crate::{ArithShares, BoolShares, Party, ProtocolError};

/// Shares of [x < c] for a public c.
pub fn less_than_public(
    party: &mut Party,
    x: &ArithShares,
    c: i64,
) -> Result<BoolShares, ProtocolError> {
    let mut d = x.clone();
    d.add_public(party.id(), encode(c).wrapping_neg());
    msb(party, &d)
}

/// Shares of [x > c] for a public c (MSB of c - x).
pub fn greater_than_public(
    party: &mut Party,
    x: &ArithShares,
    c: i64,
) -> Result<BoolShares, ProtocolError> {
    let mut d = x.neg();
    d.add_public(party.id(), encode(c));
    msb(party, &d)
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
