//! Verifying AND gates: a distributed zero-knowledge proof (Boyle, Gilboa, Ishai, Nof, CCS
//! 2019) that every word a party reshared in an AND ([`crate::protocols::boolean`]) is what the
//! protocol says, run by each party for its own words and checked by the other two.
//!
//! **The statement.** Party P_i's AND message is z = x0&y0 ^ x0&y1 ^ x1&y0 ^ r0 ^ r1 (x0, y0
//! its components i, r0 = F(k_i); x1, y1 its components i+1, r1 = F(k_{i+1})). Its previous
//! party P_{i-1} (the *left verifier*, which received z) knows x0, y0, r0 and z; its next party
//! P_{i+1} (the *right verifier*) knows x1, y1 and r1. Per gate, with a = x0, c = y0,
//! e = z ^ x0&y0 ^ r0 on the left and b = y1, d = x1, f = r1 on the right, the gate is right
//! iff e ^ f ^ a&b ^ c&d = 0. Lifted to F_p (p = 2^61 - 1), with
//! g(a,c,e) = (1-2e)(-4ac, 2c, 2a, -1) and h(b,d,f) = (1-2f)(bd, d, b, 1),
//! <g, h> = -(-1)^(e^f^ab^cd): -1 for a right gate, +1 for a wrong one. So the m gates are all
//! right iff the inner product of the left verifier's vector u (the g's) with the right
//! verifier's vector v (the h's) is -m: exactly, since m < p/2, with no random coefficients
//! (the lifting of the 3PC-for-binary-circuits line of work and of the IPA protocol).
//!
//! **The proof** of <u, v> = t (u known to the prover and the left verifier, v to the prover
//! and the right verifier, t shared between the verifiers), recursively: in each round
//! - the prover splits u and v into chunks of width w, takes f_j, g_j of degree w-1 through
//!   chunk j, and p = sum_j f_j g_j (degree 2w-2); it secret-shares p(0..2w-1) between the
//!   verifiers (the left share from the key it shares with the left verifier, the right share
//!   sent);
//! - the verifiers check sum_{k<w} p(k) = t (in shares, at the end), draw r from the key they
//!   share and the prover lacks, and the right verifier sends r to the prover (only after it
//!   received the prover's share, so the prover commits first);
//! - all go on with u' = (f_j(r)), v' = (g_j(r)), t' = p(r).
//!
//! Round one takes two gates per chunk (w = 8): p then depends only on how often each pair of
//! left and right 6-bit patterns occurs, so the prover counts them (4096 counters) and never
//! materialises u and v, and the verifiers fold by a 64-entry table. Later rounds halve
//! (w = 2: three products per pair). Rounds two and three still read the gates' words: after
//! round one a pair's value is a 64-entry table's at its 6-bit pattern, after round two a
//! quad's (four gates) a 4096-entry table's at its 12-bit pattern, so values are first
//! materialised after round three, one per eight gates. The last round, on one chunk, puts
//! random masks at node 0 (from the keys the prover shares with each verifier), so f and g
//! have degree 2 and p degree 4; the verifiers exchange f(r), g(r), their shares of p(r) and
//! of every round's sum difference, and check f(r) g(r) = p(r) and every difference zero. What
//! a verifier sees is uniformly random apart from values the statement fixes (zero-knowledge);
//! a wrong p passes round one with probability at most 14/(p - 15), a later round 2/(p - 15),
//! the last 4/(p - 15), so a batch of 2^22 gates (22 rounds) has soundness error below 2^-55.
//! Each party is prover once and verifier twice, all three proofs in the same rounds.

use super::fp61::{Accumulator, Fp, P};
use super::lagrange::{self, node};
use crate::fault::Point;
use crate::verdict::Deviation;
use crate::{Party, ProtocolError};
use zeroize::{Zeroize, Zeroizing};

/// One word (64 gates) of an AND, as this party recorded it for its three roles (its own
/// shares and PRF outputs: wiped when dropped by whoever holds them, [`crate::Party`] and
/// [`verify_ands`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Zeroize)]
pub struct AndWord {
    /// My components i (x0, y0) and i+1 (x1, y1) of the operands.
    pub x0: u64,
    /// See `x0`.
    pub y0: u64,
    /// See `x0`.
    pub x1: u64,
    /// See `x0`.
    pub y1: u64,
    /// z_i ^ x0&y0 ^ F(k_i): the `e` of my own gates.
    pub e_mine: u64,
    /// F(k_{i+1}): the `f` of my own gates.
    pub r_next: u64,
    /// z_{i+1} ^ x1&y1 ^ F(k_{i+1}): the `e` of my next party's gates (I am its left verifier).
    pub e_next: u64,
    /// F(k_i): the `f` of my previous party's gates (I am its right verifier).
    pub r_prev: u64,
}

impl AndWord {
    /// The (a, c, e) words of my own gates.
    fn mine_left(&self) -> [u64; 3] {
        [self.x0, self.y0, self.e_mine]
    }
    /// The (b, d, f) words of my own gates.
    fn mine_right(&self) -> [u64; 3] {
        [self.y1, self.x1, self.r_next]
    }
    /// The (a, c, e) words of my next party's gates.
    fn next_left(&self) -> [u64; 3] {
        [self.x1, self.y1, self.e_next]
    }
    /// The (b, d, f) words of my previous party's gates.
    fn prev_right(&self) -> [u64; 3] {
        [self.y0, self.x0, self.r_prev]
    }
}

/// Gates per proof: the folded vectors after round three take one byte per gate for each
/// role, so this bounds memory (16 MiB per party).
pub(crate) const BATCH_GATES: usize = 1 << 22;

/// Words per proof.
const BATCH_WORDS: usize = BATCH_GATES / 64;

/// Entries of one gate's lifted vector.
const LIFT: usize = 4;

/// Round one folds two gates (8 entries) into one value: the prover's polynomial then depends
/// on a 6-bit pattern per side only.
const GATE_FOLD: usize = 2 * LIFT;

/// Later rounds fold two values into one: the round polynomial has degree 2 and costs three
/// products per pair.
const VALUE_FOLD: usize = 2;

/// Values of the round polynomial the prover shares in round one and in later rounds.
const GATE_POINTS: usize = 2 * GATE_FOLD - 1;
const VALUE_POINTS: usize = 2 * VALUE_FOLD - 1;

/// Nodes of the masked last round's f and g (mask at node 0), and values of its p.
const LAST_NODES: usize = VALUE_FOLD + 1;
const LAST_POINTS: usize = 2 * LAST_NODES - 1;

/// A challenge avoids every node any round interpolates through.
const NODES: u64 = GATE_POINTS as u64;

/// The step name in errors.
const STEP: &str = "AND verification";

/// The lifted left vector of a gate by its (a, c, e) bits, index a | c<<1 | e<<2.
fn left_lift(i: usize) -> [Fp; LIFT] {
    let (a, c, e) = ((i & 1) as i64, ((i >> 1) & 1) as i64, ((i >> 2) & 1) as i64);
    let s = 1 - 2 * e;
    [-4 * a * c * s, 2 * c * s, 2 * a * s, -s].map(Fp::from_i64)
}

/// The lifted right vector of a gate by its (b, d, f) bits, index b | d<<1 | f<<2.
fn right_lift(i: usize) -> [Fp; LIFT] {
    let (b, d, f) = ((i & 1) as i64, ((i >> 1) & 1) as i64, ((i >> 2) & 1) as i64);
    let s = 1 - 2 * f;
    [b * d * s, d * s, b * s, s].map(Fp::from_i64)
}

/// The lifted vectors of two gates by their 6-bit pair pattern ([`pair_pattern`]).
fn pair_lift(pattern: usize, left: bool) -> [Fp; GATE_FOLD] {
    let lift = if left { left_lift } else { right_lift };
    // gate g's bits are at g, 2 + g and 4 + g
    let gate = |g: usize| {
        (pattern >> g) & 1 | ((pattern >> (2 + g)) & 1) << 1 | ((pattern >> (4 + g)) & 1) << 2
    };
    let (lo, hi) = (lift(gate(0)), lift(gate(1)));
    std::array::from_fn(|k| if k < LIFT { lo[k] } else { hi[k - LIFT] })
}

/// Chunk c's 6-bit pattern: bits 2c and 2c + 1 (gates 2c and 2c + 1) of each of the three
/// words, the first word lowest.
fn pair_pattern(word: &[u64; 3], c: usize) -> usize {
    let two = |w: u64| ((w >> (2 * c)) & 3) as usize;
    two(word[0]) | two(word[1]) << 2 | two(word[2]) << 4
}

/// Chunk q's 12-bit pattern: bits 4q..4q + 4 (gates 4q..4q + 4, the pairs 2q and 2q + 1) of
/// each of the three words, the first word lowest.
fn quad_pattern(word: &[u64; 3], q: usize) -> usize {
    let four = |w: u64| ((w >> (4 * q)) & 15) as usize;
    four(word[0]) | four(word[1]) << 4 | four(word[2]) << 8
}

/// The 6-bit pair patterns (pair 2q, pair 2q + 1) inside a 12-bit pattern.
fn pairs_of_quad(quad: usize) -> (usize, usize) {
    let two = |shift: usize| (quad >> shift) & 3;
    (
        two(0) | two(4) << 2 | two(8) << 4,
        two(2) | two(6) << 2 | two(10) << 4,
    )
}

/// One side of a proof's inner product.
enum Side {
    /// The lifted gates, by their three words (a, c, e) or (b, d, f); `left` says which lift.
    Gates {
        words: Zeroizing<Vec<[u64; 3]>>,
        left: bool,
    },
    /// After round one: the value of pair j is `table[pair_pattern(word, j)]`, so round two
    /// reads the words through the table instead of materialising 32 values per word (the
    /// table depends on the challenge only, not on the gates).
    Pairs {
        words: Zeroizing<Vec<[u64; 3]>>,
        table: Box<[Fp; 64]>,
    },
    /// After round two: the value of quad q (gates 4q..4q + 4 of a word) is
    /// `table[quad_pattern(word, q)]`, read the same way in round three.
    Quads {
        words: Zeroizing<Vec<[u64; 3]>>,
        table: Vec<Fp>,
    },
    /// Values after a fold.
    Values(Zeroizing<Vec<Fp>>),
}

impl Side {
    /// Entries folded into one in this side's next round.
    fn fold_width(&self) -> usize {
        match self {
            Side::Gates { .. } => GATE_FOLD,
            Side::Pairs { .. } | Side::Quads { .. } | Side::Values(_) => VALUE_FOLD,
        }
    }

    /// Chunks of the next round (the last one padded with zeros).
    fn chunks(&self) -> usize {
        match self {
            Side::Gates { words, .. } => 32 * words.len(),
            Side::Pairs { words, .. } => 16 * words.len(),
            Side::Quads { words, .. } => 8 * words.len(),
            Side::Values(v) => v.len().div_ceil(VALUE_FOLD),
        }
    }

    /// u' = (f_j(r)) over the chunks (values are folded in place).
    fn fold(self, r: Fp) -> Side {
        match self {
            Side::Gates { words, left } => {
                let w = lagrange::weights(GATE_FOLD, r);
                let table = Box::new(std::array::from_fn(|i| dot(&w, &pair_lift(i, left))));
                Side::Pairs { words, table }
            }
            // f(r) = x0 + r (x1 - x0) for each two pairs, by their 12-bit pattern
            Side::Pairs { words, table } => {
                let table = (0..4096)
                    .map(|quad| {
                        let (lo, hi) = pairs_of_quad(quad);
                        table[lo] + r * (table[hi] - table[lo])
                    })
                    .collect();
                Side::Quads { words, table }
            }
            // f(r) = x0 + r (x1 - x0) for each two quads
            Side::Quads { words, table } => {
                let mut out = Vec::with_capacity(8 * words.len());
                for word in words.iter() {
                    out.extend((0..8).map(|g| {
                        let x0 = table[quad_pattern(word, 2 * g)];
                        let x1 = table[quad_pattern(word, 2 * g + 1)];
                        x0 + r * (x1 - x0)
                    }));
                }
                Side::Values(Zeroizing::new(out))
            }
            // f(r) = x0 + r (x1 - x0), the missing x1 of an odd length being 0
            Side::Values(mut v) => {
                let chunks = v.len().div_ceil(VALUE_FOLD);
                for j in 0..chunks {
                    let x0 = v[2 * j];
                    let x1 = v.get(2 * j + 1).copied().unwrap_or(Fp::ZERO);
                    v[j] = x0 + r * (x1 - x0);
                }
                // wiped now and returned, so the vector has no spare capacity left to wipe
                v[chunks..].iter_mut().zeroize();
                v.truncate(chunks);
                v.shrink_to_fit();
                Side::Values(v)
            }
        }
    }

    /// The single chunk of the last round, padded.
    fn last_chunk(&self) -> [Fp; VALUE_FOLD] {
        let mut out = [Fp::ZERO; VALUE_FOLD];
        match self {
            Side::Values(v) => out[..v.len()].copy_from_slice(v),
            // a batch has at least one word: 32 pairs, 16 quads, so three rounds always run
            _ => unreachable!("the rounds run until values remain"),
        }
        out
    }
}

/// sum_k a[k] b[k] over the shorter of the two (at most 63 terms), reduced once.
fn dot(a: &[Fp], b: &[Fp]) -> Fp {
    let mut acc = Accumulator::default();
    for (x, y) in a.iter().zip(b) {
        acc.mul_add(*x, *y);
    }
    acc.value()
}

/// A pair of gates' lifted polynomial at nodes 0..GATE_POINTS.
fn extended_pair(lifted: &[Fp; GATE_FOLD]) -> [Fp; GATE_POINTS] {
    std::array::from_fn(|k| {
        if k < GATE_FOLD {
            lifted[k]
        } else {
            lagrange::eval(lifted, node(k))
        }
    })
}

/// The prover's round polynomial p(k) = sum_j f_j(k) g_j(k), k over the round's points.
fn round_polynomial(u: &Side, v: &Side) -> Vec<Fp> {
    match (u, v) {
        (Side::Gates { words: wu, .. }, Side::Gates { words: wv, .. }) => {
            // How often each (left, right) pattern pair occurs: the products depend on no more.
            // Four tallies, one per pair position mod 4, so that a run of equal patterns does
            // not wait on one counter (a batch has at most 2^21 pairs: u32 does not overflow).
            let mut tallies = vec![[0u32; 4]; 64 * 64];
            for (a, b) in wu.iter().zip(wv.iter()) {
                for c in 0..32 {
                    tallies[pair_pattern(a, c) * 64 + pair_pattern(b, c)][c % 4] += 1;
                }
            }
            let count: Vec<u64> = tallies
                .iter()
                .map(|t| t.iter().map(|n| u64::from(*n)).sum())
                .collect();
            let eu: Vec<_> = (0..64)
                .map(|i| extended_pair(&pair_lift(i, true)))
                .collect();
            let ev: Vec<_> = (0..64)
                .map(|i| extended_pair(&pair_lift(i, false)))
                .collect();
            let mut acc = [Accumulator::default(); GATE_POINTS];
            for (pair, n) in count.iter().enumerate().filter(|(_, n)| **n > 0) {
                let (fu, fv) = (&eu[pair / 64], &ev[pair % 64]);
                for k in 0..GATE_POINTS {
                    acc[k].mul_add(Fp::new(*n), fu[k] * fv[k]);
                }
            }
            acc.map(Accumulator::value).to_vec()
        }
        (
            Side::Pairs {
                words: wu,
                table: tu,
            },
            Side::Pairs {
                words: wv,
                table: tv,
            },
        ) => {
            // f at nodes 0, 1, 2 through two pairs' values, by their 12-bit pattern
            let nodes = |t: &[Fp; 64]| -> Vec<[Fp; VALUE_POINTS]> {
                (0..4096)
                    .map(|quad| {
                        let (lo, hi) = pairs_of_quad(quad);
                        let (x0, x1) = (t[lo], t[hi]);
                        [x0, x1, x1 + x1 - x0]
                    })
                    .collect()
            };
            let (fu, fv) = (nodes(tu), nodes(tv));
            let mut acc = [Accumulator::default(); VALUE_POINTS];
            for (a, b) in wu.iter().zip(wv.iter()) {
                for q in 0..16 {
                    let (x, y) = (&fu[quad_pattern(a, q)], &fv[quad_pattern(b, q)]);
                    for k in 0..VALUE_POINTS {
                        acc[k].mul_add(x[k], y[k]);
                    }
                }
            }
            acc.map(Accumulator::value).to_vec()
        }
        (
            Side::Quads {
                words: wu,
                table: tu,
            },
            Side::Quads {
                words: wv,
                table: tv,
            },
        ) => {
            // f at nodes 0, 1, 2 through two quads' values
            let mut acc = [Accumulator::default(); VALUE_POINTS];
            for (a, b) in wu.iter().zip(wv.iter()) {
                for g in 0..8 {
                    let (x0, x1) = (tu[quad_pattern(a, 2 * g)], tu[quad_pattern(a, 2 * g + 1)]);
                    let (y0, y1) = (tv[quad_pattern(b, 2 * g)], tv[quad_pattern(b, 2 * g + 1)]);
                    acc[0].mul_add(x0, y0);
                    acc[1].mul_add(x1, y1);
                    acc[2].mul_add(x1 + x1 - x0, y1 + y1 - y0);
                }
            }
            acc.map(Accumulator::value).to_vec()
        }
        (Side::Values(a), Side::Values(b)) => {
            // f(0) = x0, f(1) = x1, f(2) = 2 x1 - x0
            let mut acc = [Accumulator::default(); VALUE_POINTS];
            for (ca, cb) in a.chunks(VALUE_FOLD).zip(b.chunks(VALUE_FOLD)) {
                let (x0, y0) = (ca[0], cb[0]);
                let x1 = ca.get(1).copied().unwrap_or(Fp::ZERO);
                let y1 = cb.get(1).copied().unwrap_or(Fp::ZERO);
                acc[0].mul_add(x0, y0);
                acc[1].mul_add(x1, y1);
                acc[2].mul_add(x1 + x1 - x0, y1 + y1 - y0);
            }
            acc.map(Accumulator::value).to_vec()
        }
        _ => unreachable!("both sides fold in step"),
    }
}

/// A field element from a PRF word (bias below 2^-60, immaterial for masks and shares).
fn field(word: u64) -> Fp {
    Fp::new(word)
}

/// A challenge from PRF words: uniform in F_p outside the nodes (rejection).
fn challenge(words: &[u64]) -> Fp {
    words
        .iter()
        .map(|w| w & P)
        .find(|w| *w < P && *w >= NODES)
        .map(Fp::new)
        .expect("a PRF word below p outside the nodes")
}

/// Words drawn per challenge (each rejected with probability below 2^-56).
const CHALLENGE_WORDS: usize = 4;

/// Where one verifier of one proof stands.
struct VerifierState {
    side: Side,
    /// Its share of the current claim.
    claim: Fp,
    /// Its shares of each round's sum difference (sum of p over the chunk nodes - claim).
    differences: Vec<Fp>,
}

impl VerifierState {
    /// Takes this round's shares of p at challenge r: records the sum difference, folds.
    fn round(&mut self, shares: &[Fp], r: Fp) {
        let sum: Fp = shares[..self.side.fold_width()].iter().copied().sum();
        self.differences.push(sum - self.claim);
        self.claim = lagrange::eval(shares, r);
        let side = std::mem::replace(&mut self.side, Side::Values(Zeroizing::new(Vec::new())));
        self.side = side.fold(r);
    }
}

/// Checks one batch of words: this party proves its own gates and verifies both peers'.
/// Returns the deviations it found (as left verifier of its next party, as right verifier
/// of its previous party); the caller makes the parties agree.
fn batch(party: &mut Party, words: &[AndWord]) -> Result<Vec<Deviation>, ProtocolError> {
    let me = party.id();
    let gates = 64 * words.len() as u64;
    let side = |f: fn(&AndWord) -> [u64; 3], left: bool| Side::Gates {
        words: Zeroizing::new(words.iter().map(f).collect()),
        left,
    };
    let (mut u, mut v) = (
        side(AndWord::mine_left, true),
        side(AndWord::mine_right, false),
    );
    // As left verifier of my next party: the public claim -m is mine to hold.
    let mut left = VerifierState {
        side: side(AndWord::next_left, true),
        claim: -Fp::new(gates),
        differences: Vec::new(),
    };
    let mut right = VerifierState {
        side: side(AndWord::prev_right, false),
        claim: Fp::ZERO,
        differences: Vec::new(),
    };
    let mut bad_challenge = false;
    while u.chunks() > 1 {
        let (op_share, op_challenge) = (party.next_op(), party.next_op());
        let p = round_polynomial(&u, &v);
        let (right_shares, left_shares) = share_round(party, op_share, &p)?;
        // Right verifier of my previous party: the challenge back to it, once it committed.
        let r_right = challenge(&party.stream_next(op_challenge, CHALLENGE_WORDS));
        party.send(me.prev(), &[r_right.value()], Point::Challenge)?;
        right.round(&right_shares, r_right);
        // Left verifier of my next party.
        let r_left = challenge(&party.stream_prev(op_challenge, CHALLENGE_WORDS));
        left.round(&left_shares, r_left);
        // Prover: the challenge from my right verifier.
        let r = read_challenge(party, &mut bad_challenge)?;
        u = u.fold(r);
        v = v.fold(r);
    }
    let mut found = last_round(party, (u, v), left, right)?;
    if bad_challenge {
        found.push(super::challenge_sender(me));
    }
    Ok(found)
}

/// A challenge from my right verifier. One an honest verifier cannot draw (not a canonical
/// field element, or a node) marks it as deviating; the proof goes on with it reduced so all
/// three stay in step.
fn read_challenge(party: &mut Party, bad: &mut bool) -> Result<Fp, ProtocolError> {
    let r = party.recv(party.id().next(), 1, STEP)?[0];
    if !(NODES..P).contains(&r) {
        *bad = true;
    }
    Ok(field(r))
}

/// The prover's step of a round: shares p between my verifiers (the left share from the key I
/// share with my previous party, the right share sent to my next party). Returns my shares as
/// a verifier: the right share of my previous party's p (sent to me), and the left share of my
/// next party's p (from the key we share).
fn share_round(party: &mut Party, op: u64, p: &[Fp]) -> Result<(Vec<Fp>, Vec<Fp>), ProtocolError> {
    let me = party.id();
    let n = p.len();
    let mine_left = party.stream_prev(op, n);
    let to_right: Vec<u64> = p
        .iter()
        .zip(&mine_left)
        .map(|(pk, l)| (*pk - field(*l)).value())
        .collect();
    party.send(me.next(), &to_right, Point::Proof)?;
    let right = party
        .recv(me.prev(), n, STEP)?
        .into_iter()
        .map(field)
        .collect();
    let left = party.stream_next(op, n).into_iter().map(field).collect();
    Ok((right, left))
}

/// The masked last round and the verifiers' exchange (see the module doc).
fn last_round(
    party: &mut Party,
    (u, v): (Side, Side),
    left: VerifierState,
    right: VerifierState,
) -> Result<Vec<Deviation>, ProtocolError> {
    let me = party.id();
    let (op_mask, op_share, op_challenge) = (party.next_op(), party.next_op(), party.next_op());
    // Node 0 masks: position 0 of a key's stream masks its later party's u, position 1 its
    // earlier party's v.
    let with_mask = |mask: u64, chunk: [Fp; VALUE_FOLD]| -> Vec<Fp> {
        std::iter::once(field(mask)).chain(chunk).collect()
    };
    let f = with_mask(party.stream_prev(op_mask, 1)[0], u.last_chunk());
    let g = with_mask(party.stream_next(op_mask, 2)[1], v.last_chunk());
    let p: Vec<Fp> = (0..LAST_POINTS)
        .map(|k| lagrange::eval(&f, node(k)) * lagrange::eval(&g, node(k)))
        .collect();
    let (right_shares, left_shares) = share_round(party, op_share, &p)?;
    // Left verifier of my next party: its masked f(r), my share of p(r), my differences; to
    // its right verifier, my previous party.
    let r_left = challenge(&party.stream_prev(op_challenge, CHALLENGE_WORDS));
    let f_next = with_mask(party.stream_next(op_mask, 1)[0], left.side.last_chunk());
    let left_report = report(&f_next, &left_shares, &left, r_left);
    party.send(me.prev(), &words(&left_report), Point::Proof)?;
    // Right verifier of my previous party: its masked g(r), my share of p(r), my differences;
    // to its left verifier, my next party.
    let r_right = challenge(&party.stream_next(op_challenge, CHALLENGE_WORDS));
    let g_prev = with_mask(party.stream_prev(op_mask, 2)[1], right.side.last_chunk());
    let right_report = report(&g_prev, &right_shares, &right, r_right);
    party.send(me.next(), &words(&right_report), Point::Proof)?;
    let mut found = Vec::new();
    // From my next party: the left verifier's report on my previous party's gates, of which
    // I am the right verifier.
    let theirs = read_report(&party.recv(me.next(), right_report.len(), STEP)?);
    if !closes(&theirs, &right_report) {
        found.push(Deviation {
            sender: me.prev(),
            witness: me.next(),
        });
    }
    // From my previous party: the right verifier's report on my next party's gates, of which
    // I am the left verifier.
    let theirs = read_report(&party.recv(me.prev(), left_report.len(), STEP)?);
    if !closes(&left_report, &theirs) {
        found.push(Deviation {
            sender: me.next(),
            witness: me.prev(),
        });
    }
    Ok(found)
}

/// A verifier's closing report: its side's polynomial at r, its share of p(r), and its shares
/// of every sum difference (the last round's over nodes 1..=VALUE_FOLD, node 0 being the mask).
fn report(side_poly: &[Fp], shares: &[Fp], state: &VerifierState, r: Fp) -> Vec<Fp> {
    let last_sum: Fp = shares[1..=VALUE_FOLD].iter().copied().sum();
    let mut out = vec![lagrange::eval(side_poly, r), lagrange::eval(shares, r)];
    out.extend(&state.differences);
    out.push(last_sum - state.claim);
    out
}

fn words(report: &[Fp]) -> Vec<u64> {
    report.iter().map(|x| x.value()).collect()
}

fn read_report(w: &[u64]) -> Vec<Fp> {
    w.iter().map(|x| field(*x)).collect()
}

/// Whether the left and right verifiers' reports close the proof: f(r) g(r) = p(r) and every
/// difference sums to zero.
fn closes(left: &[Fp], right: &[Fp]) -> bool {
    left.len() == right.len()
        && left[0] * right[0] == left[1] + right[1]
        && left[2..]
            .iter()
            .zip(&right[2..])
            .all(|(a, b)| *a + *b == Fp::ZERO)
}

/// Rounds after round one of a proof of `words` words, before the last.
fn value_rounds(words: usize) -> u64 {
    let mut len = 32 * words;
    let mut r = 0;
    while len.div_ceil(VALUE_FOLD) > 1 {
        len = len.div_ceil(VALUE_FOLD);
        r += 1;
    }
    r
}

/// Words and messages each party sends to verify `words` recorded AND words: per batch,
/// round one's share of p and challenge, each later round's, the last round's share and two
/// closing reports (the verdicts are the caller's).
pub fn proof_cost(words: usize) -> (u64, u64) {
    let (mut sent, mut messages) = (0, 0);
    let mut left = words;
    while left > 0 {
        let batch = left.min(BATCH_WORDS);
        left -= batch;
        let r = value_rounds(batch);
        let report = 2 + (1 + r) + 1;
        sent += (GATE_POINTS as u64 + 1)
            + r * (VALUE_POINTS as u64 + 1)
            + LAST_POINTS as u64
            + 2 * report;
        messages += 2 + 2 * r + 3;
    }
    (sent, messages)
}

/// Proves and checks the recorded AND words of all three parties, in batches of
/// [`BATCH_GATES`]. Returns the deviations this party found, each naming the prover and the
/// other verifier (the caller makes the parties agree).
pub(crate) fn check_ands(
    party: &mut Party,
    words: &[AndWord],
) -> Result<Vec<Deviation>, ProtocolError> {
    let mut found = Vec::new();
    for chunk in words.chunks(BATCH_WORDS) {
        found.extend(batch(party, chunk)?);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lifting, exhaustively: <g, h> is -1 for each of the 32 right gates among the 64
    /// bit patterns and +1 for each wrong one.
    #[test]
    fn the_lifted_inner_product_is_minus_one_exactly_for_a_right_gate() {
        let mut right = 0;
        for bits in 0..64usize {
            let [a, c, e, b, d, f] = std::array::from_fn(|k| (bits >> k) & 1);
            let g = left_lift(a | c << 1 | e << 2);
            let h = right_lift(b | d << 1 | f << 2);
            let wrong = e ^ f ^ (a & b) ^ (c & d);
            let expected = if wrong == 0 { -Fp::ONE } else { Fp::ONE };
            assert_eq!(
                dot(&g, &h),
                expected,
                "a c e b d f = {a} {c} {e} {b} {d} {f}"
            );
            right += usize::from(wrong == 0);
        }
        assert_eq!(right, 32);
    }

    /// The cost PROTOCOLS.md states for one batch of 2^22 gates: 149 words and 45 messages.
    #[test]
    fn a_full_batch_costs_what_the_protocol_notes_say() {
        assert_eq!(proof_cost(BATCH_WORDS), (149, 45));
        assert_eq!(proof_cost(2 * BATCH_WORDS), (2 * 149, 2 * 45));
    }

    /// A 12-bit pattern holds the 6-bit patterns of its two pairs, in every position.
    #[test]
    fn a_quad_pattern_splits_into_its_pairs_patterns() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..64 {
            x = x.rotate_left(17).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let word = [x, x.rotate_left(21) ^ 0x5555, !x.rotate_left(40)];
            for q in 0..16 {
                assert_eq!(
                    pairs_of_quad(quad_pattern(&word, q)),
                    (pair_pattern(&word, 2 * q), pair_pattern(&word, 2 * q + 1))
                );
            }
        }
    }

    /// A chunk's pattern names the two gates' bits the lifting reads.
    #[test]
    fn a_pair_pattern_lifts_to_its_two_gates() {
        let words = [
            0x0123_4567_89ab_cdef_u64,
            0xfedc_ba98_7654_3210,
            0x5555_aaaa_3333_cccc,
        ];
        let bit = |w: u64, t: usize| ((w >> t) & 1) as usize;
        for c in 0..32 {
            for left in [true, false] {
                let lift = if left { left_lift } else { right_lift };
                let gate = |t: usize| {
                    lift(bit(words[0], t) | bit(words[1], t) << 1 | bit(words[2], t) << 2)
                };
                let expected: Vec<Fp> = gate(2 * c).into_iter().chain(gate(2 * c + 1)).collect();
                assert_eq!(pair_lift(pair_pattern(&words, c), left).to_vec(), expected);
            }
        }
    }
}
