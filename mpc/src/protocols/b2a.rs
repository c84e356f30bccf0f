//! Boolean bits to arithmetic 0/1 values (bit injection), and counting set bits.
//!
//! A shared bit is b = b0 ^ b1 ^ b2. P0 holds b0 and b1, so it knows t = b0 ^ b1 and inputs it
//! (one message); b2 is an arithmetic sharing of itself for free (its holders P1, P2 put it in
//! share x_2). Then b = t ^ b2 = t + b2 - 2*t*b2: one multiplication.

use crate::protocols::input::input;
use crate::protocols::mul::{dot_segments, mul};
use crate::{ArithShares, BoolShares, Party, PartyId, ProtocolError};

/// The bits of packed words as 0/1 ring elements.
fn unpack(words: &[u64], n: usize) -> Vec<u64> {
    (0..n).map(|i| (words[i / 64] >> (i % 64)) & 1).collect()
}

/// Shares of t = b0 ^ b1 (input by P0) and of b2 (free), as arithmetic 0/1 vectors.
fn split(party: &mut Party, bits: &BoolShares) -> Result<(ArithShares, ArithShares), ProtocolError> {
    let n = bits.len;
    let me = party.id();
    let t_plain = (me == PartyId::P0).then(|| {
        let t: Vec<u64> = bits.a.iter().zip(&bits.b).map(|(a, b)| a ^ b).collect();
        unpack(&t, n)
    });
    let t = input(party, PartyId::P0, t_plain.as_deref(), n)?;
    let b2 = match me.index() {
        1 => ArithShares::new(vec![0; n], unpack(&bits.b, n)),
        2 => ArithShares::new(unpack(&bits.a, n), vec![0; n]),
        _ => ArithShares::zeros(n),
    };
    Ok((t, b2))
}

/// Arithmetic shares of each bit as 0 or 1.
///
/// Cost: two rounds; P0 sends 2n ring elements, P1 and P2 send n each.
pub fn bits_to_arith(party: &mut Party, bits: &BoolShares) -> Result<ArithShares, ProtocolError> {
    let (t, b2) = split(party, bits)?;
    let tb = mul(party, &t, &b2)?;
    let mut out = t.add(&b2);
    out.sub_assign(&tb.scale(2));
    Ok(out)
}

/// Words each party sends in [`bits_to_arith`] of n bits.
pub fn bits_to_arith_cost(n: usize) -> [u64; 3] {
    let n = n as u64;
    [2 * n, n, n]
}

/// Shares of the number of set bits in each of `segments` equal consecutive segments of the
/// bits (one count per segment): sum b = sum t + sum b2 - 2 * dot(t, b2).
///
/// Cost: two rounds; P0 sends n + segments ring elements, P1 and P2 send `segments` each.
pub fn count_ones(party: &mut Party, bits: &BoolShares, segments: usize) -> Result<ArithShares, ProtocolError> {
    if segments == 0 || bits.len % segments != 0 {
        return Err(ProtocolError::InvalidArgument {
            step: "count ones",
            reason: "bit count is not a multiple of the segment count",
        });
    }
    let (t, b2) = split(party, bits)?;
    let dots = dot_segments(party, &t, &b2, segments)?;
    let seg = bits.len / segments;
    let both = t.add(&b2);
    let k = party.kernels();
    let sums = ArithShares::new(
        (0..segments).map(|s| k.sum(&both.a[s * seg..(s + 1) * seg])).collect(),
        (0..segments).map(|s| k.sum(&both.b[s * seg..(s + 1) * seg])).collect(),
    );
    Ok(sums.sub(&dots.scale(2)))
}

/// Words each party sends in [`count_ones`] of n bits into `segments` counts.
pub fn count_ones_cost(n: usize, segments: usize) -> [u64; 3] {
    let (n, m) = (n as u64, segments as u64);
    [n + m, m, m]
}
