//! Boolean bits to arithmetic 0/1 values (bit injection), and counting set bits.
//!
//! A shared bit is b = b0 ^ b1 ^ b2, and each component b_k is an arithmetic sharing of itself
//! for free (its two holders put it in share x_k, the third holds zeros). Then
//! b = t ^ b2 = t + b2 - 2*t*b2 with t = b0 ^ b1.
//! P0 holds b0 and b1, so it knows t and inputs it (one message). Under malicious security
//! P0 then proves its input right, t = b0 + b1 - 2*b0*b1, to P2 (which holds b0) and P1 (which
//! holds b1) in the product proof ([`crate::verify::product_proof::InputCheck`]): nothing more
//! is sent before the proof.

use crate::fault::Point;
use crate::protocols::BLOCK;
use crate::protocols::input::input;
use crate::protocols::mul::{dot_segments, mul, reshare};
use crate::verify::product_proof::{InputCheck, Record};
use crate::{ArithShares, BoolShares, Party, PartyId, ProtocolError};

/// The bits of packed words as 0/1 ring elements.
fn unpack(words: &[u64], n: usize) -> Vec<u64> {
    (0..n).map(|i| (words[i / 64] >> (i % 64)) & 1).collect()
}

/// Shares of t = b0 ^ b1 (input by P0; under malicious security recorded for P0's proof that
/// it is right) and of b2 (free), as arithmetic 0/1 vectors.
fn split(
    party: &mut Party,
    bits: &BoolShares,
) -> Result<(ArithShares, ArithShares), ProtocolError> {
    let n = bits.len;
    let me = party.id();
    let t_plain = (me == PartyId::P0).then(|| {
        let t: Vec<u64> = bits.a.iter().zip(&bits.b).map(|(a, b)| a ^ b).collect();
        unpack(&t, n)
    });
    let t = input(party, PartyId::P0, t_plain.as_deref(), n)?;
    if n > 0 {
        party.record_product(|| Record::Input(input_check(me, bits, &t)));
    }
    Ok((t, component(me, bits, 2)))
}

/// This party's part of P0's proof that t = b0 + b1 - 2 b0 b1 ([`InputCheck`]).
fn input_check(me: PartyId, bits: &BoolShares, t: &ArithShares) -> InputCheck {
    let n = bits.len;
    let twice = |v: Vec<u64>| v.into_iter().map(|b| 2 * b).collect::<Vec<u64>>();
    let minus = |v: Vec<u64>, w: &[u64]| -> Vec<u64> {
        v.iter().zip(w).map(|(b, x)| b.wrapping_sub(*x)).collect()
    };
    let mut check = InputCheck {
        gates: n,
        prover: None,
        left: None,
        right: None,
    };
    match me.index() {
        // P0 holds (b0, b1)
        0 => check.prover = Some([twice(unpack(&bits.a, n)), unpack(&bits.b, n)]),
        // P1 holds (b1, b2) and (t1, t2): e_R = b1 - t1
        1 => {
            let b1 = unpack(&bits.a, n);
            check.right = Some([b1.clone(), minus(b1, &t.a)]);
        }
        // P2 holds (b2, b0) and (t2, t0): e_L = b0 - t0 - t2
        _ => {
            let b0 = unpack(&bits.b, n);
            let e = minus(minus(b0.clone(), &t.b), &t.a);
            check.left = Some([twice(b0), e]);
        }
    }
    check
}

/// This party's shares of component k of the bits as an arithmetic 0/1 vector: share x_k is
/// the bit, the others zero (P_k holds x_k as its `a`, P_{k-1} as its `b`).
fn component(me: PartyId, bits: &BoolShares, k: usize) -> ArithShares {
    let n = bits.len;
    if me.index() == k {
        ArithShares::new(unpack(&bits.a, n), vec![0; n])
    } else if me.next().index() == k {
        ArithShares::new(vec![0; n], unpack(&bits.b, n))
    } else {
        ArithShares::zeros(n)
    }
}

/// Arithmetic shares of each bit as 0 or 1.
///
/// Cost ([`bits_to_arith_cost`]): two rounds; P0 sends 2n ring elements, P1 and P2 n each.
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
/// bits (one count per segment): sum b = sum t + sum b2 - 2 * dot(t, b2), the dot product
/// resharing one element per segment. Semi-honest, with t input by P0, it streams the PRF
/// output block by block instead of materialising t and b2 as ring vectors (same messages and
/// randomness as `input` followed by `dot_segments`); malicious, t and b2 are materialised for
/// the proofs ([`split`]).
///
/// Cost ([`count_ones_cost`]): two rounds.
#[allow(clippy::needless_range_loop)] // one index walks the bits, the streams and the messages together
pub fn count_ones(
    party: &mut Party,
    bits: &BoolShares,
    segments: usize,
) -> Result<ArithShares, ProtocolError> {
    if segments == 0 || !bits.len.is_multiple_of(segments) {
        return Err(ProtocolError::InvalidArgument {
            step: "count ones",
            reason: "bit count is not a multiple of the segment count",
        });
    }
    if party.security().checks() {
        return count_ones_checked(party, bits, segments);
    }
    let n = bits.len;
    let seg = n / segments;
    let me = party.id();
    let op_input = party.next_op();
    // Per segment: sums of this party's two t components, of its two b2 components, and the
    // local dot-product term.
    let mut sum_ta = vec![0u64; segments];
    let mut sum_tb = vec![0u64; segments];
    let mut sum_ba = vec![0u64; segments];
    let mut sum_bb = vec![0u64; segments];
    let mut local = vec![0u64; segments];
    let bit = |words: &[u64], i: usize| (words[i / 64] >> (i % 64)) & 1;
    let mut s1 = vec![0u64; BLOCK.min(n)];
    let mut s2 = vec![0u64; BLOCK.min(n)];
    match me.index() {
        0 => {
            // t0 = t - F(k1) - F(k_all), sent to P2; holds (t0, t1 = F(k1)).
            let mut t0 = vec![0u64; n];
            for start in (0..n).step_by(BLOCK) {
                let len = BLOCK.min(n - start);
                party.fill_next_at(op_input, start, &mut s1[..len]);
                party.fill_all_at(op_input, start, &mut s2[..len]);
                for j in 0..len {
                    let i = start + j;
                    let t = bit(&bits.a, i) ^ bit(&bits.b, i);
                    t0[i] = t.wrapping_sub(s1[j]).wrapping_sub(s2[j]);
                    let sg = i / seg;
                    sum_ta[sg] = sum_ta[sg].wrapping_add(t0[i]);
                    sum_tb[sg] = sum_tb[sg].wrapping_add(s1[j]);
                }
            }
            party.send(me.prev(), &t0, Point::Input)?;
        }
        1 => {
            // holds (t1 = F(k1), t2 = F(k_all)) and b2 as its `b`; local term t1 * b2.
            for start in (0..n).step_by(BLOCK) {
                let len = BLOCK.min(n - start);
                party.fill_prev_at(op_input, start, &mut s1[..len]);
                party.fill_all_at(op_input, start, &mut s2[..len]);
                for j in 0..len {
                    let i = start + j;
                    let sg = i / seg;
                    let b2 = bit(&bits.b, i);
                    sum_ta[sg] = sum_ta[sg].wrapping_add(s1[j]);
                    sum_tb[sg] = sum_tb[sg].wrapping_add(s2[j]);
                    sum_bb[sg] += b2;
                    local[sg] = local[sg].wrapping_add(s1[j] & b2.wrapping_neg());
                }
            }
        }
        _ => {
            // holds (t2 = F(k_all), t0 received) and b2 as its `a`; local term (t2 + t0) * b2.
            let t0 = party.recv(me.next(), n, "count ones input")?;
            for start in (0..n).step_by(BLOCK) {
                let len = BLOCK.min(n - start);
                party.fill_all_at(op_input, start, &mut s2[..len]);
                for j in 0..len {
                    let i = start + j;
                    let sg = i / seg;
                    let b2 = bit(&bits.a, i);
                    sum_ta[sg] = sum_ta[sg].wrapping_add(s2[j]);
                    sum_tb[sg] = sum_tb[sg].wrapping_add(t0[i]);
                    sum_ba[sg] += b2;
                    local[sg] =
                        local[sg].wrapping_add(s2[j].wrapping_add(t0[i]) & b2.wrapping_neg());
                }
            }
        }
    }
    // dot-product resharing, as in `dot_segments`
    let op_dot = party.next_op();
    let rp = party.stream_prev(op_dot, segments);
    let rn = party.stream_next(op_dot, segments);
    let z: Vec<u64> = (0..segments)
        .map(|s| local[s].wrapping_add(rp[s]).wrapping_sub(rn[s]))
        .collect();
    let dots = reshare(party, z, "count ones dot")?;
    let sums = ArithShares::new(
        (0..segments)
            .map(|s| sum_ta[s].wrapping_add(sum_ba[s]))
            .collect(),
        (0..segments)
            .map(|s| sum_tb[s].wrapping_add(sum_bb[s]))
            .collect(),
    );
    Ok(sums.sub(&dots.scale(2)))
}

/// [`count_ones`] under malicious security: t input and recorded for P0's proof ([`split`]),
/// then sum b = sum t + sum b2 - 2 * dot(t, b2) per segment, the dot products verified too.
fn count_ones_checked(
    party: &mut Party,
    bits: &BoolShares,
    segments: usize,
) -> Result<ArithShares, ProtocolError> {
    let (t, b2) = split(party, bits)?;
    let dots = dot_segments(party, &t, &b2, segments)?;
    let both = t.add(&b2);
    let seg = bits.len / segments;
    let per_segment: Vec<ArithShares> = (0..segments)
        .map(|s| both.slice(s * seg..(s + 1) * seg).sum())
        .collect();
    let sums = ArithShares::concat(&per_segment.iter().collect::<Vec<_>>());
    Ok(sums.sub(&dots.scale(2)))
}

/// Words each party sends in [`count_ones`] of n bits into `segments` counts: P0's input of t
/// and one element per segment.
pub fn count_ones_cost(n: usize, segments: usize) -> [u64; 3] {
    let (n, m) = (n as u64, segments as u64);
    [n + m, m, m]
}
