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
//! and the right verifier, t shared between the verifiers), recursively, 4 entries to 1:
//! - the prover splits u and v into chunks of 4, takes f_j, g_j of degree 3 through chunk j,
//!   and p = sum_j f_j g_j (degree 6); it secret-shares p(0..6) between the verifiers (the left
//!   share from the key it shares with the left verifier, the right share sent);
//! - the verifiers check sum_{k<4} p(k) = t (in shares, at the end), draw r from the key they
//!   share and the prover lacks, and the right verifier sends r to the prover (only after it
//!   received the prover's share, so the prover commits first);
//! - all go on with u' = (f_j(r)), v' = (g_j(r)), t' = p(r): a quarter of the length.
//!
//! The last round, on one chunk, puts random masks at node 0 (from the keys the prover shares
//! with each verifier), so f and g have degree 4 and p degree 8; the verifiers exchange f(r),
//! g(r), their shares of p(r) and of every round's sum difference, and check
//! f(r) g(r) = p(r) and every difference zero. What a verifier sees is uniformly random apart
//! from values the statement fixes (zero-knowledge); a wrong p passes a round with probability
//! at most 8/(p - 9) < 2^-58, so a batch of 2^21 gates (12 rounds) has soundness error below
//! 2^-54. Each party is prover once and verifier twice, all three proofs in the same rounds.
//!
//! Round one never materialises the lifted vectors: the prover counts how often each pair of
//! left and right 3-bit patterns occurs (64 counters) and the verifiers fold by table lookup.

use super::fp61::{Accumulator, Fp, P};
use super::lagrange::{self, node};
use crate::fault::Point;
use crate::verdict::{Deviation, VERDICT_WORDS, agree};
use crate::{Party, ProtocolError};

/// One word (64 gates) of an AND, as this party recorded it for its three roles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

/// Gates per proof: round one's folded vectors take 8 bytes per gate, so this bounds memory.
pub(crate) const BATCH_GATES: usize = 1 << 21;

/// Words per proof.
const BATCH_WORDS: usize = BATCH_GATES / 64;

/// Entries folded into one per round.
const FOLD: usize = 4;

/// Values of a round polynomial the prover shares: degree 2(FOLD-1).
const ROUND_POINTS: usize = 2 * FOLD - 1;

/// Nodes of the masked last round's f and g (mask at node 0), and values of its p.
const LAST_NODES: usize = FOLD + 1;
const LAST_POINTS: usize = 2 * LAST_NODES - 1;

/// The step name in errors.
const STEP: &str = "AND verification";

/// The lifted left vector of a gate by its (a, c, e) bits, index a | c<<1 | e<<2.
fn left_lift(i: usize) -> [Fp; FOLD] {
    let (a, c, e) = ((i & 1) as i64, ((i >> 1) & 1) as i64, ((i >> 2) & 1) as i64);
    let s = 1 - 2 * e;
    [-4 * a * c * s, 2 * c * s, 2 * a * s, -s].map(Fp::from_i64)
}

/// The lifted right vector of a gate by its (b, d, f) bits, index b | d<<1 | f<<2.
fn right_lift(i: usize) -> [Fp; FOLD] {
    let (b, d, f) = ((i & 1) as i64, ((i >> 1) & 1) as i64, ((i >> 2) & 1) as i64);
    let s = 1 - 2 * f;
    [b * d * s, d * s, b * s, s].map(Fp::from_i64)
}

/// One side of a proof's inner product.
enum Side {
    /// The lifted gates, by their three words (a, c, e) or (b, d, f); `left` says which lift.
    Gates { words: Vec<[u64; 3]>, left: bool },
    /// Values after a fold.
    Values(Vec<Fp>),
}

impl Side {
    /// Chunks of FOLD entries (the last one padded with zeros).
    fn chunks(&self) -> usize {
        match self {
            Side::Gates { words, .. } => 64 * words.len(),
            Side::Values(v) => v.len().div_ceil(FOLD),
        }
    }

    /// u' = (f_j(r)) over the chunks.
    fn fold(&self, r: Fp) -> Side {
        let w: [Fp; FOLD] = lagrange::weights(FOLD, r).try_into().expect("FOLD weights");
        Side::Values(match self {
            Side::Gates { words, left } => {
                let lift = if *left { left_lift } else { right_lift };
                let table: [Fp; 8] = std::array::from_fn(|i| dot(&w, &lift(i)));
                let mut out = Vec::with_capacity(64 * words.len());
                for word in words {
                    out.extend((0..64).map(|t| table[pattern(word, t)]));
                }
                out
            }
            Side::Values(v) => v.chunks(FOLD).map(|c| dot(&w, c)).collect(),
        })
    }

    /// The single chunk of the last round, padded to FOLD.
    fn last_chunk(&self) -> [Fp; FOLD] {
        let mut out = [Fp::ZERO; FOLD];
        if let Side::Values(v) = self {
            out[..v.len()].copy_from_slice(v);
        }
        out
    }
}

/// Gate t's 3-bit pattern in a word triple: bit t of each word, first word lowest.
fn pattern(word: &[u64; 3], t: usize) -> usize {
    ((word[0] >> t) & 1 | ((word[1] >> t) & 1) << 1 | ((word[2] >> t) & 1) << 2) as usize
}

/// sum_k a[k] b[k] over the shorter of the two (at most 63 terms), reduced once.
fn dot(a: &[Fp], b: &[Fp]) -> Fp {
    let mut acc = Accumulator::default();
    for (x, y) in a.iter().zip(b) {
        acc.mul_add(*x, *y);
    }
    acc.value()
}

/// Weights extrapolating a chunk's polynomial from nodes 0..FOLD to nodes FOLD..ROUND_POINTS.
fn extrapolation() -> [[Fp; FOLD]; ROUND_POINTS - FOLD] {
    std::array::from_fn(|k| {
        lagrange::weights(FOLD, node(FOLD + k))
            .try_into()
            .expect("FOLD weights")
    })
}

/// A chunk (padded to FOLD) and its polynomial at the extra nodes.
fn extended(chunk: &[Fp], ext: &[[Fp; FOLD]; ROUND_POINTS - FOLD]) -> [Fp; ROUND_POINTS] {
    let mut out = [Fp::ZERO; ROUND_POINTS];
    out[..chunk.len()].copy_from_slice(chunk);
    for (k, w) in ext.iter().enumerate() {
        out[FOLD + k] = dot(w, chunk);
    }
    out
}

/// The prover's round polynomial p(k) = sum_j f_j(k) g_j(k), k in 0..ROUND_POINTS.
fn round_polynomial(u: &Side, v: &Side) -> [Fp; ROUND_POINTS] {
    let ext = extrapolation();
    let mut acc = [Accumulator::default(); ROUND_POINTS];
    match (u, v) {
        (Side::Gates { words: wu, .. }, Side::Gates { words: wv, .. }) => {
            // How often each (left, right) pattern pair occurs: the products depend on no more.
            let mut count = [0u64; 64];
            for (a, b) in wu.iter().zip(wv) {
                for t in 0..64 {
                    count[pattern(a, t) * 8 + pattern(b, t)] += 1;
                }
            }
            let eu: [_; 8] = std::array::from_fn(|i| extended(&left_lift(i), &ext));
            let ev: [_; 8] = std::array::from_fn(|i| extended(&right_lift(i), &ext));
            for (pair, n) in count.iter().enumerate().filter(|(_, n)| **n > 0) {
                let (fu, fv) = (&eu[pair / 8], &ev[pair % 8]);
                for k in 0..ROUND_POINTS {
                    acc[k].mul_add(Fp::new(*n), fu[k] * fv[k]);
                }
            }
        }
        (Side::Values(a), Side::Values(b)) => {
            for (ca, cb) in a.chunks(FOLD).zip(b.chunks(FOLD)) {
                let (fa, fb) = (extended(ca, &ext), extended(cb, &ext));
                for k in 0..ROUND_POINTS {
                    acc[k].mul_add(fa[k], fb[k]);
                }
            }
        }
        _ => unreachable!("both sides fold in step"),
    }
    acc.map(Accumulator::value)
}

/// A field element from a PRF word (bias below 2^-60, immaterial for masks and shares).
fn field(word: u64) -> Fp {
    Fp::new(word)
}

/// A challenge from PRF words: uniform in F_p outside the nodes 0..LAST_POINTS (rejection).
fn challenge(words: &[u64]) -> Fp {
    words
        .iter()
        .map(|w| w & P)
        .find(|w| *w < P && *w >= LAST_POINTS as u64)
        .map(Fp::new)
        .expect("a PRF word below p outside the nodes")
}

/// Words drawn per challenge (each rejected with probability below 2^-57).
const CHALLENGE_WORDS: usize = 4;

/// Where one verifier of one proof stands.
struct VerifierState {
    side: Side,
    /// Its share of the current claim.
    claim: Fp,
    /// Its shares of each round's sum difference (sum_{k<FOLD} p(k) - claim).
    differences: Vec<Fp>,
}

impl VerifierState {
    /// Takes this round's shares of p at challenge r: records the sum difference, folds.
    fn round(&mut self, shares: &[Fp], r: Fp) {
        let sum: Fp = shares[..FOLD].iter().copied().sum();
        self.differences.push(sum - self.claim);
        self.claim = lagrange::eval(shares, r);
        self.side = self.side.fold(r);
    }
}

/// Checks one batch of words: this party proves its own gates and verifies both peers'.
/// Returns the deviations it found (as left verifier of its next party, as right verifier
/// of its previous party); the caller makes the parties agree.
fn batch(party: &mut Party, words: &[AndWord]) -> Result<Vec<Deviation>, ProtocolError> {
    let me = party.id();
    let gates = 64 * words.len() as u64;
    let side = |f: fn(&AndWord) -> [u64; 3], left: bool| Side::Gates {
        words: words.iter().map(f).collect(),
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
    while u.chunks() > 1 {
        let (op_share, op_challenge) = (party.next_op(), party.next_op());
        // Prover: share p, the left share from the key with my previous party.
        let p = round_polynomial(&u, &v);
        let mine_left = party.stream_prev(op_share, ROUND_POINTS);
        let to_right: Vec<u64> = p
            .iter()
            .zip(&mine_left)
            .map(|(pk, l)| (*pk - field(*l)).value())
            .collect();
        party.send(me.next(), &to_right, Point::Proof)?;
        // Right verifier of my previous party: its share, then the challenge back to it.
        let got = party.recv(me.prev(), ROUND_POINTS, STEP)?;
        let right_shares: Vec<Fp> = got.into_iter().map(field).collect();
        let r_right = challenge(&party.stream_next(op_challenge, CHALLENGE_WORDS));
        party.send(me.prev(), &[r_right.value()], Point::Challenge)?;
        right.round(&right_shares, r_right);
        // Left verifier of my next party: its left share is from the key we share.
        let left_shares: Vec<Fp> = party
            .stream_next(op_share, ROUND_POINTS)
            .into_iter()
            .map(field)
            .collect();
        let r_left = challenge(&party.stream_prev(op_challenge, CHALLENGE_WORDS));
        left.round(&left_shares, r_left);
        // Prover: the challenge from my right verifier.
        let r = field(party.recv(me.next(), 1, STEP)?[0]);
        u = u.fold(r);
        v = v.fold(r);
    }
    last_round(party, (u, v), left, right)
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
    let with_mask = |mask: u64, chunk: [Fp; FOLD]| -> Vec<Fp> {
        std::iter::once(field(mask)).chain(chunk).collect()
    };
    let f = with_mask(party.stream_prev(op_mask, 1)[0], u.last_chunk());
    let g = with_mask(party.stream_next(op_mask, 2)[1], v.last_chunk());
    let p: Vec<Fp> = (0..LAST_POINTS)
        .map(|k| lagrange::eval(&f, node(k)) * lagrange::eval(&g, node(k)))
        .collect();
    let mine_left = party.stream_prev(op_share, LAST_POINTS);
    let to_right: Vec<u64> = p
        .iter()
        .zip(&mine_left)
        .map(|(pk, l)| (*pk - field(*l)).value())
        .collect();
    party.send(me.next(), &to_right, Point::Proof)?;
    let right_shares: Vec<Fp> = party
        .recv(me.prev(), LAST_POINTS, STEP)?
        .into_iter()
        .map(field)
        .collect();
    let left_shares: Vec<Fp> = party
        .stream_next(op_share, LAST_POINTS)
        .into_iter()
        .map(field)
        .collect();
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
/// of every sum difference (the last round's over nodes 1..=FOLD).
fn report(side_poly: &[Fp], shares: &[Fp], state: &VerifierState, r: Fp) -> Vec<Fp> {
    let last_sum: Fp = shares[1..=FOLD].iter().copied().sum();
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

/// Rounds of a proof on `chunks` chunks before the last one.
fn rounds(mut chunks: usize) -> u64 {
    let mut r = 0;
    while chunks > 1 {
        chunks = chunks.div_ceil(FOLD);
        r += 1;
    }
    r
}

/// Words and messages each party sends to verify `words` recorded AND words: per batch, each
/// round's share of p and challenge, the last round's share and two closing reports; then
/// the verdicts.
pub fn proof_cost(words: usize) -> (u64, u64) {
    let (mut sent, mut messages) = (2 * VERDICT_WORDS as u64, 2);
    let mut left = words;
    while left > 0 {
        let batch = left.min(BATCH_WORDS);
        left -= batch;
        let r = rounds(64 * batch);
        sent += r * (ROUND_POINTS as u64 + 1) + LAST_POINTS as u64 + 2 * (3 + r);
        messages += 2 * r + 3;
    }
    (sent, messages)
}

/// Verifies the recorded AND words of all three parties, in batches of [`BATCH_GATES`], and
/// makes the parties agree: every party stops if any found a deviation, naming the prover and
/// the other verifier.
pub(crate) fn verify_ands(party: &mut Party, words: &[AndWord]) -> Result<(), ProtocolError> {
    let mut found = Vec::new();
    for chunk in words.chunks(BATCH_WORDS) {
        found.extend(batch(party, chunk)?);
    }
    agree(party, found.first().copied(), STEP)
}
