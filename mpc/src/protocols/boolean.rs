//! AND of boolean shares, bit-sliced: the multiplication formula with AND for * and XOR for +,
//! z_i = x_i&y_i ^ x_i&y_{i+1} ^ x_{i+1}&y_i ^ F(k_i) ^ F(k_{i+1}); P_i sends z_i to P_{i-1}.

use crate::protocols::BLOCK;
use crate::{BoolShares, Party, ProtocolError};

/// Pair of word vectors (component i, component i+1) of bit-sliced boolean shares.
pub(crate) type Words = (Vec<u64>, Vec<u64>);

/// AND of two bit-sliced word vectors of equal length (any layout: planes, packed bits).
///
/// Cost: one round; every party sends one word per input word to its previous party.
pub(crate) fn and_words(
    party: &mut Party,
    x: (&[u64], &[u64]),
    y: (&[u64], &[u64]),
    step: &'static str,
) -> Result<Words, ProtocolError> {
    let n = x.0.len();
    let op = party.next_op();
    let k = party.kernels();
    let mut z = vec![0u64; n];
    let (mut rp, mut rn) = (vec![0u64; BLOCK.min(n)], vec![0u64; BLOCK.min(n)]);
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let len = end - start;
        party.fill_prev_at(op, start, &mut rp[..len]);
        party.fill_next_at(op, start, &mut rn[..len]);
        k.and_local(
            &mut z[start..end],
            (&x.0[start..end], &x.1[start..end]),
            (&y.0[start..end], &y.1[start..end]),
            (&rp[..len], &rn[..len]),
        );
    }
    let me = party.id();
    party.send(me.prev(), &z)?;
    let from_next = party.recv(me.next(), n, step)?;
    Ok((z, from_next))
}

/// Shares of x AND y, bit by bit.
///
/// Cost: one round; every party sends ceil(n/64) words.
pub fn and(party: &mut Party, x: &BoolShares, y: &BoolShares) -> Result<BoolShares, ProtocolError> {
    if x.len != y.len {
        return Err(ProtocolError::InvalidArgument {
            step: "and",
            reason: "operands differ in length",
        });
    }
    let (a, b) = and_words(party, (&x.a, &x.b), (&y.a, &y.b), "and")?;
    Ok(BoolShares::new(a, b, x.len))
}
