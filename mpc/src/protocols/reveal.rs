//! Opening shared values to all three parties: P_i sends x_i to P_{i+1}, the one share it lacks.

use crate::kernels::words_for;
use crate::{ArithShares, BoolShares, Party, ProtocolError};

/// Opens x to every party.
///
/// Cost: one round; every party sends n ring elements to its next party.
pub fn reveal(party: &mut Party, x: &ArithShares) -> Result<Vec<u64>, ProtocolError> {
    let me = party.id();
    party.send(me.next(), &x.a)?;
    let mut v = party.recv(me.prev(), x.len(), "reveal")?;
    let k = party.kernels();
    k.add_assign(&mut v, &x.a);
    k.add_assign(&mut v, &x.b);
    Ok(v)
}

/// Opens shared bits to every party.
///
/// Cost: one round; every party sends ceil(n/64) words to its next party.
pub fn reveal_bits(party: &mut Party, x: &BoolShares) -> Result<Vec<bool>, ProtocolError> {
    let me = party.id();
    party.send(me.next(), &x.a)?;
    let missing = party.recv(me.prev(), words_for(x.len), "reveal bits")?;
    Ok((0..x.len)
        .map(|i| {
            let w = i / 64;
            ((x.a[w] ^ x.b[w] ^ missing[w]) >> (i % 64)) & 1 == 1
        })
        .collect())
}
