//! AND of boolean shares, bit-sliced: the multiplication formula with AND for * and XOR for +,
//! z_i = x_i&y_i ^ x_i&y_{i+1} ^ x_{i+1}&y_i ^ F(k_i) ^ F(k_{i+1}); P_i sends z_i to P_{i-1}.

use crate::fault::Point;
use crate::protocols::BLOCK;
use crate::{BoolShares, Party, ProtocolError};

/// Pair of word vectors (component i, component i+1) of bit-sliced boolean shares.
pub(crate) type Words = (Vec<u64>, Vec<u64>);

/// One operand of a plane-wise AND: components (i, i+1) of `w` words each.
pub(crate) type Plane<'a> = (&'a [u64], &'a [u64]);

/// ANDs of many plane pairs (x_j, y_j), each of the same word count, wherever they live in
/// memory; the results are laid out contiguously in pair order. All pairs go in one message.
///
/// Cost: one round; every party sends one word per input word.
pub(crate) fn and_planes(
    party: &mut Party,
    pairs: &[(Plane<'_>, Plane<'_>)],
    step: &'static str,
) -> Result<Words, ProtocolError> {
    let w = pairs.first().map_or(0, |(x, _)| x.0.len());
    let total = pairs.len() * w;
    let op = party.next_op();
    let k = party.kernels();
    let mut z = vec![0u64; total];
    let (mut rp, mut rn) = (vec![0u64; BLOCK.min(total)], vec![0u64; BLOCK.min(total)]);
    for (j, (x, y)) in pairs.iter().enumerate() {
        assert!(
            [x.0.len(), x.1.len(), y.0.len(), y.1.len()]
                .iter()
                .all(|l| *l == w),
            "planes of one AND differ in length"
        );
        for start in (0..w).step_by(BLOCK) {
            let end = (start + BLOCK).min(w);
            let len = end - start;
            let at = j * w + start;
            party.fill_prev_at(op, at, &mut rp[..len]);
            party.fill_next_at(op, at, &mut rn[..len]);
            k.and_local(
                &mut z[at..at + len],
                (&x.0[start..end], &x.1[start..end]),
                (&y.0[start..end], &y.1[start..end]),
                (&rp[..len], &rn[..len]),
            );
        }
    }
    let me = party.id();
    party.send(me.prev(), &z, Point::Product)?;
    let from_next = party.recv(me.next(), total, step)?;
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
    let (a, b) = and_planes(party, &[((&x.a, &x.b), (&y.a, &y.b))], "and")?;
    Ok(BoolShares::new(a, b, x.len))
}
