//! Oblivious selection: if b then x else y, element-wise, as y + B2A(b) * (x - y).

use crate::protocols::b2a::bits_to_arith;
use crate::protocols::mul::mul;
use crate::{ArithShares, BoolShares, Party, ProtocolError};

/// Shares of x where the bit is set and y elsewhere.
///
/// Cost: three rounds; P0 sends 3n ring elements, P1 and P2 send 2n each.
pub fn select(
    party: &mut Party,
    bits: &BoolShares,
    x: &ArithShares,
    y: &ArithShares,
) -> Result<ArithShares, ProtocolError> {
    if bits.len != x.len() || x.len() != y.len() {
        return Err(ProtocolError::InvalidArgument {
            step: "select",
            reason: "bits and operands differ in length",
        });
    }
    let b = bits_to_arith(party, bits)?;
    let d = mul(party, &b, &x.sub(y))?;
    Ok(y.add(&d))
}
