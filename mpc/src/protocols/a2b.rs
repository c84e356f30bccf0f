//! Arithmetic to boolean for the most significant bit, which is all a comparison needs.
//!
//! Each arithmetic share x_k is a boolean sharing of itself for free (x_k in component k, zeros
//! elsewhere: its holders are exactly the parties that know x_k). The sum x0 + x1 + x2 is then
//! computed bit-sliced (plane j holds bit j of 64 values per word):
//! 1. carry-save layer: S = x0^x1^x2 (local), M = maj(x0,x1,x2) = ((x0^x2)&(x1^x2))^x2 on
//!    bits 0..62 (63 AND planes, 1 round); the carry vector is C = M << 1;
//! 2. generate/propagate of S + C on bits 1..62: g_j = S_j & C_j (62 AND planes, 1 round),
//!    p_j = S_j ^ C_j (local); bit 0 never carries since C_0 = 0;
//! 3. a parallel-prefix tree over the 62 (g, p) pairs giving the carry into bit 63:
//!    (G, P) = (G_hi ^ P_hi&G_lo, P_hi&P_lo), the lowest node never needing P;
//!    levels 62 -> 31 -> 16 -> 8 -> 4 -> 2 -> 1 = 6 rounds, 61+29+15+7+3+1 = 116 AND planes;
//! 4. MSB = S_63 ^ C_63 ^ carry (local).
//!
//! Total: 8 rounds; every party sends 63 + 62 + 116 = 241 words per 64 values
//! (241 * ceil(n/64) words = about 30.1 bytes per value).

use crate::kernels::{transpose_to_planes, words_for};
use crate::protocols::boolean::and_words;
use crate::{ArithShares, BoolShares, Party, ProtocolError};

/// AND planes (words per 64 values) every party sends in [`msb`].
pub const MSB_WORDS_PER_64: u64 = 241;

/// Words each party sends in [`msb`] of n values.
pub fn msb_cost(n: usize) -> u64 {
    MSB_WORDS_PER_64 * words_for(n) as u64
}

/// One node of the prefix tree: the generate and propagate planes of a bit range.
struct Node {
    g: (Vec<u64>, Vec<u64>),
    p: (Vec<u64>, Vec<u64>),
}

/// Shares of the most significant bit of each value, i.e. of [x < 0] for x read as a signed
/// 64-bit integer. Cost: see the module documentation (8 rounds, 241 words per 64 values).
pub fn msb(party: &mut Party, x: &ArithShares) -> Result<BoolShares, ProtocolError> {
    let n = x.len();
    let w = words_for(n);
    let i = party.id().index();
    let k = party.kernels();
    let (mut xa, mut xb) = (vec![0u64; 64 * w], vec![0u64; 64 * w]);
    transpose_to_planes(&x.a, &mut xa);
    transpose_to_planes(&x.b, &mut xb);

    // Carry-save layer on planes 0..62. Operand m's component c is x_m when c == m, else 0;
    // this party holds components i (`a`) and i+1 (`b`).
    let lo = 63 * w;
    let zero = vec![0u64; lo];
    let pick = |set: &[usize]| -> (&[u64], &[u64]) {
        let a: &[u64] = if set.contains(&i) { &xa[..lo] } else { &zero };
        let b: &[u64] = if set.contains(&((i + 1) % 3)) { &xb[..lo] } else { &zero };
        (a, b)
    };
    let (l, r, x2) = (pick(&[0, 2]), pick(&[1, 2]), pick(&[2]));
    let (mut ma, mut mb) = and_words(party, l, r, "a2b carry-save")?;
    k.xor_assign(&mut ma, x2.0);
    k.xor_assign(&mut mb, x2.1);

    // Generate and propagate for bits 1..62: S_j with C_j = M_{j-1}.
    let s_mid = (&xa[w..63 * w], &xb[w..63 * w]);
    let c_mid = (&ma[..62 * w], &mb[..62 * w]);
    let (ga, gb) = and_words(party, s_mid, c_mid, "a2b generate")?;
    let (mut pa, mut pb) = (s_mid.0.to_vec(), s_mid.1.to_vec());
    k.xor_assign(&mut pa, c_mid.0);
    k.xor_assign(&mut pb, c_mid.1);
    let mut nodes: Vec<Node> = (0..62)
        .map(|j| {
            let r = j * w..(j + 1) * w;
            Node {
                g: (ga[r.clone()].to_vec(), gb[r.clone()].to_vec()),
                p: (pa[r.clone()].to_vec(), pb[r].to_vec()),
            }
        })
        .collect();

    while nodes.len() > 1 {
        nodes = combine_level(party, nodes, w)?;
    }
    let root = nodes.pop().expect("62 leaves reduce to one root");

    let mut out_a = xa[63 * w..].to_vec();
    let mut out_b = xb[63 * w..].to_vec();
    k.xor_assign(&mut out_a, &ma[62 * w..]);
    k.xor_assign(&mut out_b, &mb[62 * w..]);
    k.xor_assign(&mut out_a, &root.g.0);
    k.xor_assign(&mut out_b, &root.g.1);
    Ok(BoolShares::new(out_a, out_b, n))
}

/// One prefix-tree level: adjacent nodes (lo, hi) become (G_hi ^ P_hi&G_lo, P_hi&P_lo), all
/// ANDs of the level in one round; P of the lowest pair is skipped, an odd last node passes.
fn combine_level(party: &mut Party, mut nodes: Vec<Node>, w: usize) -> Result<Vec<Node>, ProtocolError> {
    let pairs = nodes.len() / 2;
    let carry = (nodes.len() % 2 == 1).then(|| nodes.pop().expect("odd count"));
    let planes = 2 * pairs - 1;
    let (mut la, mut lb) = (Vec::with_capacity(planes * w), Vec::with_capacity(planes * w));
    let (mut ra, mut rb) = (Vec::with_capacity(planes * w), Vec::with_capacity(planes * w));
    for t in 0..pairs {
        let (low, high) = (&nodes[2 * t], &nodes[2 * t + 1]);
        la.extend_from_slice(&high.p.0);
        lb.extend_from_slice(&high.p.1);
        ra.extend_from_slice(&low.g.0);
        rb.extend_from_slice(&low.g.1);
    }
    for t in 1..pairs {
        let (low, high) = (&nodes[2 * t], &nodes[2 * t + 1]);
        la.extend_from_slice(&high.p.0);
        lb.extend_from_slice(&high.p.1);
        ra.extend_from_slice(&low.p.0);
        rb.extend_from_slice(&low.p.1);
    }
    let (za, zb) = and_words(party, (&la, &lb), (&ra, &rb), "a2b prefix tree")?;
    let k = party.kernels();
    let mut next = Vec::with_capacity(pairs + 1);
    let mut it = nodes.into_iter();
    for t in 0..pairs {
        let _low = it.next().expect("pair low");
        let mut high = it.next().expect("pair high");
        k.xor_assign(&mut high.g.0, &za[t * w..(t + 1) * w]);
        k.xor_assign(&mut high.g.1, &zb[t * w..(t + 1) * w]);
        let p = if t == 0 {
            (Vec::new(), Vec::new())
        } else {
            let r = (pairs + t - 1) * w..(pairs + t) * w;
            (za[r.clone()].to_vec(), zb[r].to_vec())
        };
        next.push(Node { g: high.g, p });
    }
    next.extend(carry);
    Ok(next)
}
