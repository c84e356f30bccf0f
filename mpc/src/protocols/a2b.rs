//! Arithmetic to boolean: [`msb`] for the most significant bit, which is all a comparison
//! needs, and [`a2b`] for every bit (a Kogge-Stone adder after the same carry-save layer).
//!
//! Each arithmetic share x_k is a boolean sharing of itself for free (x_k in component k, zeros
//! elsewhere: its holders are exactly the parties that know x_k). The sum x0 + x1 + x2 is then
//! computed bit-sliced (plane j holds bit j of 64 values per word):
//! 1. carry-save layer: S = x0^x1^x2 (local; it is exactly this party's pair of planes) and
//!    M = maj(x0,x1,x2) = x0&x1 ^ x1&x2 ^ x2&x0 on bits 0..62: one AND of two sharings made
//!    from the shares ([`carry_save`]; 63 AND planes, 1 round); the carry is C = M << 1;
//! 2. generate/propagate of S + C on bits 1..62: g_j = S_j & C_j (62 AND planes, 1 round),
//!    p_j = S_j ^ C_j (local); bit 0 never carries since C_0 = 0;
//! 3. a parallel-prefix tree over the 62 (g, p) pairs giving the carry into bit 63:
//!    (G, P) = (G_hi ^ P_hi&G_lo, P_hi&P_lo), the lowest node never needing P;
//!    levels 62 -> 31 -> 16 -> 8 -> 4 -> 2 -> 1 = 6 rounds, 61+29+15+7+3+1 = 116 AND planes;
//! 4. MSB = S_63 ^ C_63 ^ carry (local).
//!
//! Total for [`msb`]: 8 rounds; every party sends 63 + 62 + 116 = 241 words per 64 values
//! (241 * ceil(n/64) words = about 30.1 bytes per value).
//!
//! **Bounded width** ([`msb_within`]). When every value satisfies -2^t <= v < 2^t, bits t..63
//! of v mod 2^64 all equal its sign, so the sign is bit t. Bit t of x0 + x1 + x2 depends only
//! on bits 0..t of the three shares (a carry only moves up), so the same circuit on planes
//! 0..t gives it: t carry-save planes, t - 1 generate planes, a tree over t - 1 nodes. For the
//! catalog's ranges (t about 14-17) that is about 50-60 words per 64 values and 6 rounds, a
//! quarter of the full width. A value outside the width gets a wrong bit, so callers derive
//! the width from a bound they have checked ([`Width::for_magnitude`]).

use crate::kernels::{transpose_to_planes, transpose_to_planes_with, words_for};
use crate::protocols::boolean::{Plane, Words, and_planes};
use crate::{ArithShares, BoolShares, Party, ProtocolError};

/// The two's-complement width a comparison reads: it is correct for values v with
/// -2^(bits-1) <= v < 2^(bits-1) (module doc, bounded width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Width(u32);

impl Width {
    /// Every value: the sign is the most significant bit.
    pub const FULL: Width = Width(64);
    /// The narrowest width computed (narrower would save nothing worth a special case).
    pub const MIN_BITS: u32 = 8;

    /// The narrowest width that holds every v with |v| <= `max_abs` (< 2^63): the bit length
    /// of `max_abs` and a sign bit, at least [`Width::MIN_BITS`].
    pub fn for_magnitude(max_abs: u128) -> Width {
        let bits = 128 - max_abs.leading_zeros() + 1;
        Width(bits.clamp(Self::MIN_BITS, 64))
    }

    /// The width's bits, the sign bit included.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// The plane of the sign bit.
    fn sign_plane(self) -> usize {
        self.0 as usize - 1
    }
}

/// The AND calls of [`msb_within`] at `width`, in words per 64 values: carry-save, generate,
/// then the tree's levels.
pub fn msb_and_calls(width: Width) -> Vec<u64> {
    let t = width.sign_plane() as u64;
    let mut calls = vec![t, t - 1];
    let mut nodes = t - 1;
    while nodes > 1 {
        let pairs = nodes / 2;
        calls.push(2 * pairs - 1);
        nodes = pairs + nodes % 2;
    }
    calls
}

/// Words each party sends in [`msb_within`] of n values at `width`.
pub fn msb_cost(n: usize, width: Width) -> u64 {
    msb_and_calls(width).iter().sum::<u64>() * words_for(n) as u64
}

/// A local affine map applied to a shared vector on the fly: each component c becomes
/// `sign * c + offset.{0,1}` (the offsets must sum, over the three parties' components, to the
/// public or shared constant being added).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Affine {
    /// Negate the shares.
    pub negate: bool,
    /// Added to component `a` and `b`.
    pub offset: (u64, u64),
}

impl Affine {
    /// x itself.
    pub const IDENTITY: Affine = Affine {
        negate: false,
        offset: (0, 0),
    };

    fn apply(self, v: u64, offset: u64) -> u64 {
        let v = if self.negate { v.wrapping_neg() } else { v };
        v.wrapping_add(offset)
    }
}

/// Shares of the most significant bit of each value, i.e. of [x < 0] for x read as a signed
/// 64-bit integer. Cost: see the module documentation (8 rounds, 241 words per 64 values).
pub fn msb(party: &mut Party, x: &ArithShares) -> Result<BoolShares, ProtocolError> {
    msb_within(party, x, Width::FULL)
}

/// Shares of [x < 0] for values within `width` (module doc, bounded width): [`msb`] on the
/// low `width.bits()` bits. Cost: [`msb_cost`], 2 + ceil(log2(bits - 2)) rounds.
pub fn msb_within(
    party: &mut Party,
    x: &ArithShares,
    width: Width,
) -> Result<BoolShares, ProtocolError> {
    msb_affine(party, x, Affine::IDENTITY, width)
}

/// [`msb_within`] of `f(x)` for a local affine map f, applied while bit-slicing (no extra
/// copy).
pub(crate) fn msb_affine(
    party: &mut Party,
    x: &ArithShares,
    f: Affine,
    width: Width,
) -> Result<BoolShares, ProtocolError> {
    let n = x.len();
    let w = words_for(n);
    let t = width.sign_plane();
    let k = party.kernels();
    // Only planes 0..t are read.
    let (mut xa, mut xb) = (vec![0u64; (t + 1) * w], vec![0u64; (t + 1) * w]);
    transpose_to_planes_with(&x.a, &mut xa, |v| f.apply(v, f.offset.0));
    transpose_to_planes_with(&x.b, &mut xb, |v| f.apply(v, f.offset.1));

    let (ma, mb) = carry_save(party, &xa[..t * w], &xb[..t * w])?;

    // Generate and propagate for bits 1..t-1: S_j with C_j = M_{j-1}.
    let s_mid = (&xa[w..t * w], &xb[w..t * w]);
    let c_mid = (&ma[..(t - 1) * w], &mb[..(t - 1) * w]);
    let g = and_planes(party, &[(s_mid, c_mid)], "a2b generate")?;
    // p = S ^ C in place of the S planes 1..t-1 (plane t is kept aside for the end).
    let (top_a, top_b) = (xa.split_off(t * w), xb.split_off(t * w));
    xa.drain(..w);
    xb.drain(..w);
    k.xor_assign(&mut xa, c_mid.0);
    k.xor_assign(&mut xb, c_mid.1);

    // Prefix tree over the t - 1 (g, p) planes, lowest bit first.
    let mut level = Level {
        bufs: vec![g, (xa, xb)],
        g: (0..t - 1).map(|j| (0, j)).collect(),
        p: (0..t - 1).map(|j| (1, j)).collect(),
    };
    while level.g.len() > 1 {
        level = combine_level(party, level, w)?;
    }
    let root = level.plane(level.g[0], w);
    let (mut out_a, mut out_b) = (top_a, top_b);
    k.xor_assign(&mut out_a, &ma[(t - 1) * w..]);
    k.xor_assign(&mut out_b, &mb[(t - 1) * w..]);
    k.xor_assign(&mut out_a, root.0);
    k.xor_assign(&mut out_b, root.1);
    Ok(BoolShares::new(out_a, out_b, n))
}

/// The carry-save layer's majority planes M = maj(x0, x1, x2), as an AND of two consistent
/// sharings so the proof ([`crate::verify`]) checks it like any other AND: with [x_k] the
/// boolean sharing of the share x_k alone (x_k in component k, zeros elsewhere),
/// maj = ([x0]^[x1]) & ([x1]^[x2]) ^ [x1]. Party i's components (i, i+1) of P = [x0]^[x1] and
/// Q = [x1]^[x2] are its own planes `a` (x_i), `b` (x_{i+1}) or zeros: P0 has P = (a, b),
/// Q = (0, b); P1 has P = (a, 0), Q = (a, b); P2 has P = (0, b), Q = (a, 0). The local AND term
/// is then a&b at P0 and P2 and a ^ a&b at P1, and XORing [x1] back (P1's `a`, P0's `b`) leaves
/// each party x_i & x_{i+1} plus its zero share, as the plain formula would.
///
/// Cost: one round; every party sends one word per input word.
fn carry_save(party: &mut Party, a: &[u64], b: &[u64]) -> Result<Words, ProtocolError> {
    let zero = vec![0u64; a.len()];
    let me = party.id().index();
    let (p, q): (Plane<'_>, Plane<'_>) = match me {
        0 => ((a, b), (&zero, b)),
        1 => ((a, &zero), (a, b)),
        _ => ((&zero, b), (a, &zero)),
    };
    let (mut ma, mut mb) = and_planes(party, &[(p, q)], "a2b carry-save")?;
    let k = party.kernels();
    match me {
        0 => k.xor_assign(&mut mb, b),
        1 => k.xor_assign(&mut ma, a),
        _ => {}
    }
    Ok((ma, mb))
}

/// One level of the prefix tree: each node's generate and propagate plane, as (buffer, plane)
/// references into the buffers of earlier rounds (so no plane is copied between levels; the
/// propagate plane of node 0 is never read).
struct Level {
    bufs: Vec<Words>,
    g: Vec<(usize, usize)>,
    p: Vec<(usize, usize)>,
}

impl Level {
    fn plane(&self, (buf, j): (usize, usize), w: usize) -> Plane<'_> {
        plane(&self.bufs[buf], j, w)
    }
}

/// Adjacent nodes (lo, hi) become (G_hi ^ P_hi&G_lo, P_hi&P_lo), all ANDs of the level in one
/// round; P of the lowest pair is skipped and an odd last node passes unchanged. The round's
/// buffer holds the new nodes: plane t is G'_t after the XOR, plane pairs + t - 1 is P'_t.
fn combine_level(party: &mut Party, mut cur: Level, w: usize) -> Result<Level, ProtocolError> {
    let nodes = cur.g.len();
    let pairs = nodes / 2;
    let mut ands: Vec<(Plane<'_>, Plane<'_>)> = Vec::with_capacity(2 * pairs);
    for t in 0..pairs {
        ands.push((cur.plane(cur.p[2 * t + 1], w), cur.plane(cur.g[2 * t], w)));
    }
    for t in 1..pairs {
        ands.push((cur.plane(cur.p[2 * t + 1], w), cur.plane(cur.p[2 * t], w)));
    }
    let mut z = and_planes(party, &ands, "a2b prefix tree")?;
    let k = party.kernels();
    for t in 0..pairs {
        let (ga, gb) = cur.plane(cur.g[2 * t + 1], w);
        k.xor_assign(&mut z.0[t * w..(t + 1) * w], ga);
        k.xor_assign(&mut z.1[t * w..(t + 1) * w], gb);
    }
    let at = cur.bufs.len();
    let mut g: Vec<(usize, usize)> = (0..pairs).map(|t| (at, t)).collect();
    let mut p: Vec<(usize, usize)> = std::iter::once((at, 0))
        .chain((1..pairs).map(|t| (at, pairs + t - 1)))
        .collect();
    if nodes % 2 == 1 {
        g.push(cur.g[nodes - 1]);
        p.push(cur.p[nodes - 1]);
    } else {
        cur.bufs
            .iter_mut()
            .for_each(|b| *b = (Vec::new(), Vec::new()));
    }
    cur.bufs.push(z);
    Ok(Level {
        bufs: cur.bufs,
        g,
        p,
    })
}

/// Plane j (w words) of both components.
fn plane(v: &Words, j: usize, w: usize) -> Plane<'_> {
    (&v.0[j * w..(j + 1) * w], &v.1[j * w..(j + 1) * w])
}

/// AND planes (words per 64 values) every party sends in [`a2b`]: 63 (carry-save) + 62
/// (generate) + 557 (Kogge-Stone prefix over bits 1..62: 121 + 118 + 112 + 100 + 76 + 30).
pub const A2B_WORDS_PER_64: u64 = 682;

/// Full arithmetic-to-boolean conversion: a boolean sharing of every bit of each value.
/// Element j of the result holds bit j of all values. Same carry-save layer as [`msb`], then a
/// Kogge-Stone prefix adder giving every carry (6 rounds, distances 1, 2, 4, ..., 32).
///
/// Cost: 8 rounds; every party sends 682 words per 64 values ([`A2B_WORDS_PER_64`]).
pub fn a2b(party: &mut Party, x: &ArithShares) -> Result<Vec<BoolShares>, ProtocolError> {
    let n = x.len();
    let w = words_for(n);
    let k = party.kernels();
    let (mut xa, mut xb) = (vec![0u64; 64 * w], vec![0u64; 64 * w]);
    transpose_to_planes(&x.a, &mut xa);
    transpose_to_planes(&x.b, &mut xb);
    let s = (xa, xb);
    let lo = 63 * w;
    let m = carry_save(party, &s.0[..lo], &s.1[..lo])?;
    // positions 1..62 (index i = j - 1): g = S_j & M_{j-1}, p = S_j ^ M_{j-1}
    let s_mid = (&s.0[w..63 * w], &s.1[w..63 * w]);
    let c_mid = (&m.0[..62 * w], &m.1[..62 * w]);
    let gw = and_planes(party, &[(s_mid, c_mid)], "a2b generate")?;
    let mut g: Vec<Words> = (0..62).map(|i| owned(plane(&gw, i, w))).collect();
    let mut p: Vec<Words> = (0..62)
        .map(|i| {
            let (mut pa, mut pb) =
                owned((&s_mid.0[i * w..(i + 1) * w], &s_mid.1[i * w..(i + 1) * w]));
            k.xor_assign(&mut pa, &c_mid.0[i * w..(i + 1) * w]);
            k.xor_assign(&mut pb, &c_mid.1[i * w..(i + 1) * w]);
            (pa, pb)
        })
        .collect();
    let mut d = 1;
    while d < 62 {
        let mut ands: Vec<(Plane<'_>, Plane<'_>)> = Vec::new();
        for i in d..62 {
            ands.push((view(&p[i]), view(&g[i - d])));
        }
        for i in 2 * d..62 {
            ands.push((view(&p[i]), view(&p[i - d])));
        }
        let z = and_planes(party, &ands, "a2b prefix")?;
        for (t, i) in (d..62).enumerate() {
            let (za, zb) = plane(&z, t, w);
            k.xor_assign(&mut g[i].0, za);
            k.xor_assign(&mut g[i].1, zb);
        }
        let base = 62 - d;
        for (t, i) in (2 * d..62).enumerate() {
            p[i] = owned(plane(&z, base + t, w));
        }
        d *= 2;
    }
    // bit 0 = S_0; bit 1 = S_1 ^ C_1; bit j >= 2 = S_j ^ M_{j-1} ^ G[1..j-1]
    let mut bits = Vec::with_capacity(64);
    for j in 0..64 {
        let (mut a, mut b) = owned(plane(&s, j, w));
        if j >= 1 {
            let (ma, mb) = plane(&m, j - 1, w);
            k.xor_assign(&mut a, ma);
            k.xor_assign(&mut b, mb);
        }
        if j >= 2 {
            k.xor_assign(&mut a, &g[j - 2].0);
            k.xor_assign(&mut b, &g[j - 2].1);
        }
        bits.push(BoolShares::new(a, b, n));
    }
    Ok(bits)
}

fn owned(p: Plane<'_>) -> Words {
    (p.0.to_vec(), p.1.to_vec())
}

fn view(v: &Words) -> Plane<'_> {
    (&v.0, &v.1)
}
