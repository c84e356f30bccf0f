//! AND of boolean shares, bit-sliced: the multiplication formula with AND for * and XOR for +,
//! z_i = x_i&y_i ^ x_i&y_{i+1} ^ x_{i+1}&y_i ^ F(k_i) ^ F(k_{i+1}); P_i sends z_i to P_{i-1}.

use crate::fault::Point;
use crate::protocols::BLOCK;
use crate::verify::and_proof::AndWord;
use crate::verify::verify_pending;
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
    // Under malicious security every word is recorded for the proof ([`crate::verify`]).
    let record = party.security().checks();
    let (mut all_rp, mut all_rn) = (Vec::new(), Vec::new());
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
            if record {
                all_rp.extend_from_slice(&rp[..len]);
                all_rn.extend_from_slice(&rn[..len]);
            }
        }
    }
    let me = party.id();
    party.send(me.prev(), &z, Point::And)?;
    let from_next = party.recv(me.next(), total, step)?;
    if record {
        record_words(party, pairs, (&z, &from_next), (&all_rp, &all_rn));
        if party.pending_ands() >= MAX_PENDING_WORDS {
            verify_pending(party)?;
        }
    }
    Ok((z, from_next))
}

/// AND words recorded before they are verified, at most (64 MiB of records).
const MAX_PENDING_WORDS: usize = 1 << 20;

/// The sizes of the verifications a run of [`and_planes`] calls of `calls` words each leads
/// to, when what is pending is verified after it (before an opening or a seal): a
/// verification after each call that leaves [`MAX_PENDING_WORDS`] or more pending.
pub fn verifications(calls: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pending = 0;
    for c in calls {
        pending += c;
        if pending >= MAX_PENDING_WORDS {
            out.push(std::mem::take(&mut pending));
        }
    }
    if pending > 0 {
        out.push(pending);
    }
    out
}

/// Records the words of one [`and_planes`] for the proof: my operands, my message and the
/// one I received, and the two PRF streams (see [`AndWord`]).
fn record_words(
    party: &mut Party,
    pairs: &[(Plane<'_>, Plane<'_>)],
    (z, from_next): (&[u64], &[u64]),
    (rp, rn): (&[u64], &[u64]),
) {
    let w = pairs.first().map_or(0, |(x, _)| x.0.len());
    let words = pairs.iter().enumerate().flat_map(|(j, (x, y))| {
        (0..w).map(move |t| {
            let at = j * w + t;
            AndWord {
                x0: x.0[t],
                y0: y.0[t],
                x1: x.1[t],
                y1: y.1[t],
                e_mine: z[at] ^ (x.0[t] & y.0[t]) ^ rp[at],
                r_next: rn[at],
                e_next: from_next[at] ^ (x.1[t] & y.1[t]) ^ rn[at],
                r_prev: rp[at],
            }
        })
    });
    party.record_ands(words);
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
