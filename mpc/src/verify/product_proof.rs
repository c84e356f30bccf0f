//! Verifying products over Z_2^64: a distributed zero-knowledge proof (Boyle, Gilboa, Ishai,
//! Nof, CCS 2019, over a Galois ring) that every product share a party reshared in `mul`,
//! `dot`, `dot_segments` or `count_ones` ([`crate::protocols::mul`]) is what the protocol says.
//!
//! **The statement.** For a gate (one element of `mul`, or one dot product), party P_i sends
//! z = <x0, y0> + <x0, y1> + <x1, y0> + F(k_i) - F(k_{i+1}) (x0, y0 its components i; x1, y1
//! its components i+1). Its previous party, the *left verifier*, received z and knows x0, y0
//! and F(k_i); its next party, the *right verifier*, knows x1, y1 and F(k_{i+1}). The gate is
//! right iff <L, R> = e_L + e_R, with L = (x0, y0) on the left, R = (y1, x1) on the right,
//! e_L = z - F(k_i) - <x0, y0> and e_R = F(k_{i+1}): an inner product of a vector the left
//! verifier knows with one the right verifier knows, against a claim they share.
//!
//! **Many gates, one claim.** Errors may cancel in a plain sum, and a random multiplier from
//! Z_2^64 misses an error of 2^63 half the time, so the gates are weighted by random *binary*
//! elements of GR(2^64, 57) ([`super::galois`]): a weighted sum of errors, not all zero, is
//! zero with probability at most 2^-57. The weights come from a seed the two verifiers draw
//! after the products were sent (the right one hands it to the prover).
//! - A dot product is one *unit* with one weight beta; its entries are cut into chunks of
//!   64 (`Class::Dots`).
//! - Element-wise gates are grouped 64 to a unit, the gate at position a weighted
//!   beta * gamma^a (`Class::Elements`): within a unit the errors form a polynomial in gamma of
//!   degree below 64, which vanishes at a random binary gamma with probability below 2^-51.
//!
//! **Round one** (coefficient form). For each chunk, F(X) = sum_a L[a] X^a and
//! G(X) = sum_b R[b] X^(w-1-b), so the coefficient of X^(w-1) in F(gamma X) G(X) is the chunk's
//! weighted inner product. The prover sends (secret-shared, as in [`super::and_proof`])
//! P(X) = sum over units of beta times sum over its chunks of F(gamma X) G(X): degree 2w - 2,
//! over the ring. It only multiplies elements of Z_2^64 (a w x w table of products per unit),
//! then adds the table into P once per set bit of beta. The verifiers check
//! P[w-1] = the weighted claim, draw a binary challenge s, and go on with the claim P(s), the
//! left vector (beta F(gamma s)) and the right vector (G(s)), one ring element per chunk: a
//! sixty-fourth (dots) or a thirty-second (elements, two components) of the entries.
//!
//! **Later rounds** halve over the ring: p(X) = sum_k (u_2k + X du_k)(v_2k + X dv_k) in
//! coefficients (c0, c1, c2), checked as p(0) + p(1) = claim, folded at a binary challenge s
//! (a multiplication by s is a sum of shifted copies). The **last round** puts a random mask
//! at X = 0 (f = mu + X (u - mu), g = nu + X (v - nu), the masks from the keys the prover
//! shares with each verifier), checks p(1) = claim, and the verifiers exchange f(s), g(s),
//! their shares of p(s) and a digest of every round's difference share, then check
//! f(s) g(s) = p(s) and that the differences cancel.
//!
//! **Soundness** per batch: the weights 2^-57, gamma 63/2^57, round one 126/2^57, each later
//! round 2/2^57: below 2^-49 for a batch of 2^15 chunks. **Zero-knowledge** as for the AND
//! proof: shares are masked by keys the receiver lacks, f(s) and g(s) by the masks (s is never
//! 1, so 1 - s is a unit), and the differences are fixed by the statement.

use std::ops::Range;

use super::galois::{D, Gr, InnerProduct};
use crate::fault::Point;
use crate::verdict::Deviation;
use crate::{Party, ProtocolError};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// How a record's elements form gates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One gate per element (`mul`).
    Elementwise,
    /// One gate per `len` consecutive elements (a dot product per segment).
    Segments {
        /// Elements per gate.
        len: usize,
    },
    /// One gate, the dot product of a vector with itself (`dot_many` given the same operand
    /// twice): <x0, x0> + 2 <x0, x1>, so its inner product is proven as <2 x0, x1>, one
    /// component of `len` entries where a dot product of two vectors has two.
    Square {
        /// Elements of the vector.
        len: usize,
    },
    /// One gate per element, one component: P0's input of t = b0 ^ b1 in bit injection
    /// ([`InputCheck`]).
    Injection,
}

impl Shape {
    /// Components of a gate's inner product: (x0 against y1, y0 against x1) for a product,
    /// one for a square or an input check.
    fn components(self) -> usize {
        match self {
            Shape::Square { .. } | Shape::Injection => 1,
            Shape::Elementwise | Shape::Segments { .. } => 2,
        }
    }

    /// The elements of gate g.
    fn entries(self, g: usize) -> Range<usize> {
        match self {
            Shape::Segments { len } | Shape::Square { len } => g * len..(g + 1) * len,
            Shape::Elementwise | Shape::Injection => g..g + 1,
        }
    }
}

/// What a party recorded for the product proof.
pub enum Record {
    /// A product operation.
    Product(ProductRecord),
    /// P0's input of t = b0 ^ b1.
    Input(InputCheck),
}

/// P0's input of t = b0 ^ b1 in bit injection, checked without a multiplication: P0 proves
/// 2 b0 b1 = (b0 - t0 - t2) + (b1 - t1) per bit (t = b0 + b1 - 2 b0 b1), L = 2 b0 on the side
/// of its left verifier P2 (which holds b0, t0 and t2), R = b1 on the side of its right
/// verifier P1 (which holds b1 and t1). P1's and P2's statements in this record are empty.
/// Each field is the part this party holds, for the role it plays; wiped when dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct InputCheck {
    /// Bits checked.
    #[zeroize(skip)]
    pub gates: usize,
    /// P0, the prover: (2 b0, b1).
    pub prover: Option<[Vec<u64>; 2]>,
    /// P2, the left verifier: (2 b0, b0 - t0 - t2).
    pub left: Option<[Vec<u64>; 2]>,
    /// P1, the right verifier: (b1, b1 - t1).
    pub right: Option<[Vec<u64>; 2]>,
}

impl Record {
    fn meta(&self) -> Meta {
        match self {
            Record::Product(r) => (r.shape, r.gates()),
            Record::Input(c) => (Shape::Injection, c.gates),
        }
    }

    /// One side's components as role `v` sees them; `None` where this party's view of the
    /// statement is empty (zeros).
    fn side(&self, v: View) -> Option<Vec<&[u64]>> {
        match self {
            // a square's ya and yb hold 2 xa and 2 xb: L = 2 x0, R = x1
            Record::Product(r) if matches!(r.shape, Shape::Square { .. }) => Some(match v {
                View::MineLeft => vec![&r.ya],
                View::MineRight => vec![&r.xb],
                View::NextLeft => vec![&r.yb],
                View::PrevRight => vec![&r.xa],
            }),
            Record::Product(r) => Some(match v {
                View::MineLeft => vec![&r.xa, &r.ya],
                View::MineRight => vec![&r.yb, &r.xb],
                View::NextLeft => vec![&r.xb, &r.yb],
                View::PrevRight => vec![&r.ya, &r.xa],
            }),
            Record::Input(c) => match v {
                View::MineLeft => c.prover.as_ref().map(|p| vec![&p[0][..]]),
                View::MineRight => c.prover.as_ref().map(|p| vec![&p[1][..]]),
                View::NextLeft => c.left.as_ref().map(|l| vec![&l[0][..]]),
                View::PrevRight => c.right.as_ref().map(|r| vec![&r[0][..]]),
            },
        }
    }

    /// A verifier's claim shares for gates `gates`: as left verifier of my next party
    /// (`left`), or as right verifier of my previous one.
    fn claims(&self, party: &Party, left: bool, gates: Range<usize>) -> Vec<u64> {
        match self {
            Record::Product(r) if left => left_claims(party, r, gates),
            Record::Product(r) => right_claims(party, r, gates),
            Record::Input(c) => {
                let mine = if left { &c.left } else { &c.right };
                match mine {
                    Some(v) => v[1][gates].to_vec(),
                    None => vec![0; gates.len()],
                }
            }
        }
    }
}

/// One product operation as this party recorded it for its three roles: its shares of the
/// operands, the product shares its next party sent it, and where the zero-sharing's PRF
/// streams start. Wiped when dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ProductRecord {
    /// How the elements form gates.
    #[zeroize(skip)]
    pub shape: Shape,
    /// My component i of x.
    pub xa: Vec<u64>,
    /// My component i+1 of x.
    pub xb: Vec<u64>,
    /// My component i of y (of a [`Shape::Square`]: 2 xa).
    pub ya: Vec<u64>,
    /// My component i+1 of y (of a [`Shape::Square`]: 2 xb).
    pub yb: Vec<u64>,
    /// z_{i+1} of each gate, from my next party.
    pub received: Vec<u64>,
    /// The operation whose PRF streams masked the products.
    pub op: u64,
    /// Index of gate 0 in those streams.
    pub first: u64,
}

impl ProductRecord {
    /// Gates in the record.
    pub fn gates(&self) -> usize {
        self.received.len()
    }
}

/// The two kinds of unit, each with its chunk width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// A dot product per unit, chunks of 64 entries.
    Dots,
    /// 64 element-wise gates per unit, weighted by position.
    Elements,
}

impl Class {
    const ALL: [Class; 2] = [Class::Dots, Class::Elements];

    /// The widest chunk: a batch whose chunks are all shorter takes the next power of two
    /// above its longest, so a small query sends a short polynomial.
    fn max_width(self) -> usize {
        match self {
            Class::Dots => 64,
            Class::Elements => 64,
        }
    }

    fn positional(self) -> bool {
        self == Class::Elements
    }
}

/// A unit: gates of one record sharing one weight.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Unit {
    record: usize,
    gates: Range<usize>,
    class: Class,
    /// Its batch's chunk width for the class.
    width: usize,
}

/// The chunk width of a class in a batch (all its units have the same).
fn class_width(units: &[Unit], class: Class) -> usize {
    units
        .iter()
        .find(|u| u.class == class)
        .map_or(class.max_width(), |u| u.width)
}

/// A chunk of a unit: component `comp` (0: L = x0 against R = y1; 1: y0 against x1), entries
/// `start..start + len`.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    comp: usize,
    start: usize,
    len: usize,
}

/// The shape of a record as the cost formulas see it: its shape and its gates.
type Meta = (Shape, usize);

/// A unit's chunks, in the order every role folds them.
fn chunks(unit: &Unit, meta: &Meta) -> Vec<Chunk> {
    match meta.0 {
        Shape::Elementwise | Shape::Injection => (0..meta.0.components())
            .map(|comp| Chunk {
                comp,
                start: unit.gates.start,
                len: unit.gates.len(),
            })
            .collect(),
        Shape::Segments { .. } | Shape::Square { .. } => {
            let w = unit.width;
            let entries = meta.0.entries(unit.gates.start);
            (0..meta.0.components())
                .flat_map(|comp| {
                    entries.clone().step_by(w).map(move |start| Chunk {
                        comp,
                        start,
                        len: w.min(entries.end - start),
                    })
                })
                .collect()
        }
    }
}

/// Chunks of a batch at most (the folded vectors take D words per chunk for each role: 4 x 15
/// MiB per party).
const BATCH_CHUNKS: usize = 1 << 15;

/// The records' units, cut into batches of at most [`BATCH_CHUNKS`] chunks (a unit is never
/// split; one larger than a batch is a batch of its own).
fn batches(metas: &[Meta]) -> Vec<Vec<Unit>> {
    let mut out = Vec::new();
    let (mut batch, mut size) = (Vec::new(), 0);
    for (record, meta) in metas.iter().enumerate() {
        let units: Vec<Unit> = match meta.0 {
            Shape::Elementwise | Shape::Injection => {
                let w = Class::Elements.max_width();
                (0..meta.1)
                    .step_by(w)
                    .map(|g| Unit {
                        record,
                        gates: g..(g + w).min(meta.1),
                        class: Class::Elements,
                        width: w,
                    })
                    .collect()
            }
            Shape::Segments { .. } | Shape::Square { .. } => (0..meta.1)
                .map(|g| Unit {
                    record,
                    gates: g..g + 1,
                    class: Class::Dots,
                    width: Class::Dots.max_width(),
                })
                .collect(),
        };
        for unit in units {
            let c = chunks(&unit, meta).len();
            if size + c > BATCH_CHUNKS && !batch.is_empty() {
                out.push(std::mem::take(&mut batch));
                size = 0;
            }
            batch.push(unit);
            size += c;
        }
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    for batch in &mut out {
        narrow(batch, metas);
    }
    out
}

/// Sets each class's width in a batch to the next power of two above its longest chunk (the
/// chunks stay the same: none is longer).
fn narrow(batch: &mut [Unit], metas: &[Meta]) {
    for class in Class::ALL {
        let longest = batch
            .iter()
            .filter(|u| u.class == class)
            .flat_map(|u| chunks(u, &metas[u.record]))
            .map(|c| c.len)
            .max()
            .unwrap_or(1);
        let w = longest.max(1).next_power_of_two().min(class.max_width());
        for u in batch.iter_mut().filter(|u| u.class == class) {
            u.width = w;
        }
    }
}

/// The classes present in a batch, in the order their polynomials are sent.
fn classes(units: &[Unit]) -> Vec<Class> {
    Class::ALL
        .into_iter()
        .filter(|c| units.iter().any(|u| u.class == *c))
        .collect()
}

/// The weight of each position of a class's unit: gamma^a for element-wise units, 1 for a dot
/// product (one gate).
fn position_weights(class: Class, gamma: u64, w: usize) -> Vec<Gr> {
    if class.positional() {
        Gr::binary(gamma).powers(w)
    } else {
        vec![Gr::ONE; w]
    }
}

/// The random weights of one proof: gamma and one beta per unit (binary elements as bit
/// masks), expanded from a 32-byte seed.
struct Weights {
    gamma: u64,
    betas: Vec<u64>,
}

/// Bits of a binary element.
const BINARY: u64 = (1 << D) - 1;

impl Weights {
    fn new(seed: &[u64], units: usize) -> Weights {
        let key = crate::words::to_32_bytes(seed).expect("four seed words");
        let mut xof = blake3::Hasher::new_keyed(&key).finalize_xof();
        let mut word = || {
            let mut b = [0u8; 8];
            xof.fill(&mut b);
            u64::from_le_bytes(b) & BINARY
        };
        let gamma = word();
        Weights {
            gamma,
            betas: (0..units).map(|_| word()).collect(),
        }
    }
}

/// Words of a fingerprint seed.
const SEED_WORDS: usize = 4;

/// A binary challenge other than 0 and 1, from PRF words (rejection).
fn challenge(words: &[u64]) -> u64 {
    words
        .iter()
        .map(|w| w & BINARY)
        .find(|s| *s > 1)
        .expect("a PRF word with two bits set")
}

const CHALLENGE_WORDS: usize = 4;

/// The step name in errors.
const STEP: &str = "product verification";

/// Which of a record's vectors a role reads for one side: components (0, 1).
#[derive(Clone, Copy)]
enum View {
    /// My own gates, left side: (x0, y0) = (xa, ya).
    MineLeft,
    /// My own gates, right side: (y1, x1) = (yb, xb).
    MineRight,
    /// My next party's gates, left side: its (x0, y0) = my (xb, yb).
    NextLeft,
    /// My previous party's gates, right side: its (y1, x1) = my (ya, xa).
    PrevRight,
}

/// The prover's round-one polynomials, one per class present (concatenated, 2w - 1 ring
/// elements each).
fn class_polynomials(records: &[Record], units: &[Unit], weights: &Weights) -> Vec<Gr> {
    let mut out = Vec::new();
    for class in classes(units) {
        let w = class_width(units, class);
        // s[c][a][b]: coefficient c of sum over units of beta times the unit's products
        let mut s = Zeroizing::new(vec![0u64; D * w * w]);
        let mut layers = Layers::new(w * w);
        for (unit, beta) in units.iter().zip(&weights.betas) {
            if unit.class != class {
                continue;
            }
            let r = &records[unit.record];
            // an empty statement adds nothing
            let (Some(l), Some(rr)) = (r.side(View::MineLeft), r.side(View::MineRight)) else {
                continue;
            };
            let t = layers.next_table();
            for (comp, range) in component_ranges(&chunks(unit, &r.meta())) {
                add_products(t, w, &l[comp][range.clone()], &rr[comp][range]);
            }
            layers.push(*beta, &mut s);
        }
        layers.flush(&mut s);
        // P[a + w-1-b] += gamma^a S[a][b] (no multiplication for dot products' weights of 1)
        let gamma = position_weights(class, weights.gamma, w);
        let mut p = vec![Gr::ZERO; 2 * w - 1];
        for (a, ga) in gamma.iter().enumerate() {
            for b in 0..w {
                let sab = Gr(std::array::from_fn(|c| s[c * w * w + a * w + b]));
                let term = if class.positional() { *ga * sab } else { sab };
                p[a + w - 1 - b] += term;
            }
        }
        out.extend(p);
    }
    out
}

/// Tables weighted by binary elements, added into layers: layer c (a table) receives every
/// table whose weight has bit c. Sixteen tables at a time, in four groups of four (Four
/// Russians): each group's 16 subset sums are formed once (15 additions), then each layer
/// receives the one subset per group its bits select. The layers (D tables, 1.8 MiB at width
/// 64) are far larger than the caches, so the work goes a tile of table words at a time: the
/// tile's subset sums stay in the cache while every layer's tile receives them, and the
/// layers stream through memory once per sixteen tables instead of once per four.
struct Layers {
    /// Words of a table.
    size: usize,
    /// The pending tables (up to [`LAYER_GROUP`]).
    tables: Zeroizing<Vec<u64>>,
    /// Each group's 16 subset sums over one tile, formed at each flush.
    sums: Zeroizing<Vec<u64>>,
    /// The pending tables' weights.
    betas: Vec<u64>,
}

/// Tables [`Layers`] combines at once.
const LAYER_GROUP: usize = 16;

/// Tables whose subset sums are formed together.
const SUBSET: usize = 4;

/// Table words [`Layers::flush`] handles at once (2 KiB: a group's 16 sums are 32 KiB).
const LAYER_TILE: usize = 256;

impl Layers {
    fn new(size: usize) -> Layers {
        Layers {
            size,
            tables: Zeroizing::new(vec![0; LAYER_GROUP * size]),
            sums: Zeroizing::new(vec![0; (LAYER_GROUP / SUBSET) * (1 << SUBSET) * LAYER_TILE]),
            betas: Vec::with_capacity(LAYER_GROUP),
        }
    }

    /// The next table to fill (zeroed); [`Layers::push`] then takes it with its weight.
    fn next_table(&mut self) -> &mut [u64] {
        let at = self.betas.len() * self.size;
        let t = &mut self.tables[at..at + self.size];
        t.fill(0);
        t
    }

    /// Takes the table [`Layers::next_table`] gave, weighted by `beta`; every
    /// [`LAYER_GROUP`]th one flushes the pending tables into `layers`.
    fn push(&mut self, beta: u64, layers: &mut [u64]) {
        self.betas.push(beta);
        if self.betas.len() == LAYER_GROUP {
            self.flush(layers);
        }
    }

    /// Adds the pending tables into the layers.
    fn flush(&mut self, layers: &mut [u64]) {
        let k = crate::kernels::best();
        let (n, size) = (self.betas.len(), self.size);
        if n == 0 {
            return;
        }
        let groups = n.div_ceil(SUBSET);
        // selects[c][g]: the subset of group g's tables whose weights have bit c
        let selects: Vec<Vec<usize>> = (0..layers.len() / size)
            .map(|c| {
                (0..groups)
                    .map(|g| {
                        self.betas[g * SUBSET..n.min((g + 1) * SUBSET)]
                            .iter()
                            .enumerate()
                            .fold(0, |m, (i, b)| m | (((b >> c) & 1) as usize) << i)
                    })
                    .collect()
            })
            .collect();
        let sum_words = (1 << SUBSET) * LAYER_TILE;
        for t0 in (0..size).step_by(LAYER_TILE) {
            let tile = LAYER_TILE.min(size - t0);
            for g in 0..groups {
                let members = SUBSET.min(n - g * SUBSET);
                let sums = &mut self.sums[g * sum_words..(g + 1) * sum_words];
                // sums[m] = sum of the group's tables i with bit i of m set
                sums[..tile].fill(0);
                for m in 1..1usize << members {
                    let low = m.trailing_zeros() as usize;
                    let (done, rest) = sums.split_at_mut(m * LAYER_TILE);
                    let from = &done[(m & (m - 1)) * LAYER_TILE..][..tile];
                    rest[..tile].copy_from_slice(from);
                    let table = (g * SUBSET + low) * size + t0;
                    k.add_assign(&mut rest[..tile], &self.tables[table..table + tile]);
                }
            }
            for (c, select) in selects.iter().enumerate() {
                let layer = &mut layers[c * size + t0..c * size + t0 + tile];
                for (g, m) in select.iter().enumerate() {
                    if *m != 0 {
                        let at = g * sum_words + m * LAYER_TILE;
                        k.add_assign(layer, &self.sums[at..at + tile]);
                    }
                }
            }
        }
        self.betas.clear();
    }
}

/// The entries of each component a unit's chunks cover (its chunks of one component are
/// consecutive, each starting where the previous ends).
fn component_ranges(chunks: &[Chunk]) -> Vec<(usize, Range<usize>)> {
    let mut out: Vec<(usize, Range<usize>)> = Vec::new();
    for ch in chunks {
        match out.last_mut() {
            Some((comp, range)) if *comp == ch.comp => range.end = ch.start + ch.len,
            _ => out.push((ch.comp, ch.start..ch.start + ch.len)),
        }
    }
    out
}

/// Chunks whose table products [`add_products`] multiplies at once: 64 rows of up to 64
/// words (32 KiB), which stay in the L1 cache while each row of the table is summed.
const TABLE_TILE: usize = 64;

/// t[a][b] += l[a] r[b] over the chunks of width `w` that `l` and `r` hold (the last one may
/// be shorter). Whole chunks go a tile at a time through the kernels' vector-matrix product:
/// row a of the table is the sum over chunks c of l_c[a] times chunk c of r.
fn add_products(t: &mut [u64], w: usize, l: &[u64], r: &[u64]) {
    let k = crate::kernels::best();
    let whole = l.len() / w;
    let mut coeffs = Zeroizing::new(vec![0u64; TABLE_TILE]);
    for first in (0..whole).step_by(TABLE_TILE) {
        let n = TABLE_TILE.min(whole - first);
        let rows = &r[first * w..(first + n) * w];
        for a in 0..w {
            for (c, x) in coeffs[..n].iter_mut().enumerate() {
                *x = l[(first + c) * w + a];
            }
            k.combine(&mut t[a * w..(a + 1) * w], rows, &coeffs[..n]);
        }
    }
    let (lt, rt) = (&l[whole * w..], &r[whole * w..]);
    for (a, la) in lt.iter().enumerate() {
        k.axpy(&mut t[a * w..a * w + rt.len()], rt, *la);
    }
}

/// A verifier's share of each class's weighted claim: sum over units of beta times
/// sum_a gamma^a e(gate a) (gamma^a = 1 for dots). `e` gives the claim shares of a record's
/// gates in a range.
fn class_claims(
    records: &[Record],
    units: &[Unit],
    weights: &Weights,
    e: &dyn Fn(&Record, Range<usize>) -> Vec<u64>,
) -> Vec<Gr> {
    let k = crate::kernels::best();
    classes(units)
        .into_iter()
        .map(|class| {
            let gamma = position_weights(class, weights.gamma, class_width(units, class));
            let rows: Vec<u64> = gamma.iter().flat_map(|g| g.0).collect();
            units
                .iter()
                .zip(&weights.betas)
                .filter(|(u, _)| u.class == class)
                .map(|(u, beta)| {
                    let es = e(&records[u.record], u.gates.clone());
                    let mut acc = Gr::ZERO;
                    k.combine(&mut acc.0, &rows[..es.len() * D], &es);
                    acc.times_binary(*beta)
                })
                .sum()
        })
        .collect()
}

/// The folded vector of one side after round one at challenge s: per chunk, the left side's
/// beta F(gamma s), the right side's G(s).
fn fold_first(records: &[Record], units: &[Unit], weights: &Weights, v: View, s: u64) -> Vec<Gr> {
    let left = matches!(v, View::MineLeft | View::NextLeft);
    let k = crate::kernels::best();
    let s = Gr::binary(s);
    // sized once: a vector grown by pushes would leave copies of folded shares behind, unwiped
    let chunk_count = units
        .iter()
        .map(|u| chunks(u, &records[u.record].meta()).len())
        .sum();
    let mut out = Vec::with_capacity(chunk_count);
    for class in classes(units) {
        let w = class_width(units, class);
        let powers: Vec<Gr> = if left {
            let base = if class.positional() {
                Gr::binary(weights.gamma) * s
            } else {
                s
            };
            base.powers(w)
        } else {
            let mut p = s.powers(w);
            p.reverse(); // s^(w-1-b)
            p
        };
        // one row of D words per power, for the kernels' vector-matrix product
        let rows: Vec<u64> = powers.iter().flat_map(|p| p.0).collect();
        for (unit, beta) in units.iter().zip(&weights.betas) {
            if unit.class != class {
                continue;
            }
            let r = &records[unit.record];
            let side = r.side(v);
            for ch in chunks(unit, &r.meta()) {
                let Some(side) = &side else {
                    out.push(Gr::ZERO);
                    continue;
                };
                let mut acc = Gr::ZERO;
                k.combine(
                    &mut acc.0,
                    &rows[..ch.len * D],
                    &side[ch.comp][ch.start..ch.start + ch.len],
                );
                out.push(if left { acc.times_binary(*beta) } else { acc });
            }
        }
    }
    out
}

/// p at x from its coefficients (lowest first).
fn eval(p: &[Gr], x: &Gr) -> Gr {
    p.iter().rev().fold(Gr::ZERO, |acc, c| acc * *x + *c)
}

/// The halving round's polynomial: (c0, c1, c2) of sum_k (u_2k + X du)(v_2k + X dv).
fn halving_polynomial(u: &[Gr], v: &[Gr]) -> [Gr; 3] {
    let (mut c0, mut c2, mut both) = (
        InnerProduct::default(),
        InnerProduct::default(),
        InnerProduct::default(),
    );
    for (cu, cv) in u.chunks(2).zip(v.chunks(2)) {
        let (u0, v0) = (cu[0], cv[0]);
        let (u1, v1) = (
            cu.get(1).copied().unwrap_or_default(),
            cv.get(1).copied().unwrap_or_default(),
        );
        c0.add(&u0, &v0);
        both.add(&u1, &v1);
        c2.add(&(u1 - u0), &(v1 - v0));
    }
    let (c0, c2) = (c0.value(), c2.value());
    // p(1) = sum u1 v1 = c0 + c1 + c2
    [c0, both.value() - c0 - c2, c2]
}

/// u' = u_2k + s (u_2k+1 - u_2k), in place.
fn fold_halving(v: &mut Vec<Gr>, s: u64) {
    let half = v.len().div_ceil(2);
    for k in 0..half {
        let x0 = v[2 * k];
        let x1 = v.get(2 * k + 1).copied().unwrap_or_default();
        v[k] = x0 + (x1 - x0).times_binary(s);
    }
    // wiped now, so the vector has no spare capacity left to wipe when dropped
    v[half..].iter_mut().zeroize();
    v.truncate(half);
    v.shrink_to_fit();
}

/// Where one verifier of one proof stands.
struct VerifierState {
    side: Zeroizing<Vec<Gr>>,
    /// Its share of the current claim.
    claim: Gr,
    /// Its shares of each check's difference (zero in sum when the prover is honest).
    differences: Vec<Gr>,
}

impl VerifierState {
    /// After round one: per class, the difference P[w-1] - claim; the claim P(s); the side
    /// folded at s.
    fn after_first_round(
        shares: &[Gr],
        claims: &[Gr],
        units: &[Unit],
        s: u64,
        side: Vec<Gr>,
    ) -> VerifierState {
        let sg = Gr::binary(s);
        let mut at = 0;
        let (mut claim, mut differences) = (Gr::ZERO, Vec::new());
        for (class, c) in classes(units).into_iter().zip(claims) {
            let w = class_width(units, class);
            let p = &shares[at..at + 2 * w - 1];
            differences.push(p[w - 1] - *c);
            claim += eval(p, &sg);
            at += 2 * w - 1;
        }
        VerifierState {
            side: Zeroizing::new(side),
            claim,
            differences,
        }
    }

    /// A halving round: p(0) + p(1) - claim, then p(s) and the fold.
    fn halving_round(&mut self, shares: &[Gr], s: u64) {
        let [c0, c1, c2] = [shares[0], shares[1], shares[2]];
        self.differences.push(c0 + c0 + c1 + c2 - self.claim);
        self.claim = eval(shares, &Gr::binary(s));
        fold_halving(&mut self.side, s);
    }
}

/// Shares of a ring vector between my verifiers: the left share from the key I share with my
/// previous party, the right share sent to my next party. Returns my shares as a verifier:
/// the right share of my previous party's vector (sent to me), and the left share of my next
/// party's (from the key we share).
fn share_round(party: &mut Party, op: u64, p: &[Gr]) -> Result<(Vec<Gr>, Vec<Gr>), ProtocolError> {
    let me = party.id();
    let n = p.len() * D;
    let mine_left = Zeroizing::new(party.stream_prev(op, n));
    let to_right: Vec<u64> = p
        .iter()
        .flat_map(|x| x.0)
        .zip(mine_left.iter())
        .map(|(a, b)| a.wrapping_sub(*b))
        .collect();
    party.send(me.next(), &to_right, Point::Proof)?;
    let right = ring(&party.recv(me.prev(), n, STEP)?);
    let left = ring(&party.stream_next(op, n));
    Ok((right, left))
}

fn ring(words: &[u64]) -> Vec<Gr> {
    words.chunks(D).map(Gr::from_words).collect()
}

/// The claim shares of a record's gates in a range, as the left verifier of my next party
/// sees them: e_L = z_{i+1} - F(k_{i+1}) - <x1, y1> per gate.
fn left_claims(party: &Party, r: &ProductRecord, gates: Range<usize>) -> Vec<u64> {
    let mut mask = vec![0u64; gates.len()];
    party.fill_next_at(r.op, r.first as usize + gates.start, &mut mask);
    // <x0, y0> of my next party's gate: <xb, yb>, or <xb, xb> for a square (yb = 2 xb)
    let y = match r.shape {
        Shape::Square { .. } => &r.xb,
        _ => &r.yb,
    };
    gates
        .zip(mask)
        .map(|(g, m)| {
            let local = r
                .shape
                .entries(g)
                .map(|j| r.xb[j].wrapping_mul(y[j]))
                .fold(0u64, u64::wrapping_add);
            r.received[g].wrapping_sub(m).wrapping_sub(local)
        })
        .collect()
}

/// ... and as the right verifier of my previous party: e_R = F(k_i) per gate.
fn right_claims(party: &Party, r: &ProductRecord, gates: Range<usize>) -> Vec<u64> {
    let mut mask = vec![0u64; gates.len()];
    party.fill_prev_at(r.op, r.first as usize + gates.start, &mut mask);
    mask
}

/// Checks one batch: this party proves its own gates and verifies both peers'. Returns the
/// deviations it found; the caller makes the parties agree.
fn batch(
    party: &mut Party,
    records: &[Record],
    units: &[Unit],
) -> Result<Vec<Deviation>, ProtocolError> {
    let me = party.id();
    // The weights: drawn by each pair of verifiers, the right one handing the seed to the
    // prover now that the products are fixed.
    let op_seed = party.next_op();
    let seed_right = party.stream_next(op_seed, SEED_WORDS);
    party.send(me.prev(), &seed_right, Point::Challenge)?;
    let seed_left = party.stream_prev(op_seed, SEED_WORDS);
    let seed_mine = party.recv(me.next(), SEED_WORDS, STEP)?;
    let n = units.len();
    let (w_mine, w_left, w_right) = (
        Weights::new(&seed_mine, n),
        Weights::new(&seed_left, n),
        Weights::new(&seed_right, n),
    );
    let mut bad_challenge = false;
    let claims_left = class_claims(records, units, &w_left, &|r, g| r.claims(party, true, g));
    let claims_right = class_claims(records, units, &w_right, &|r, g| r.claims(party, false, g));

    // Round one.
    let (op_share, op_challenge) = (party.next_op(), party.next_op());
    let p = Zeroizing::new(class_polynomials(records, units, &w_mine));
    let (right_shares, left_shares) = share_round(party, op_share, &p)?;
    let s_right = challenge(&party.stream_next(op_challenge, CHALLENGE_WORDS));
    party.send(me.prev(), &[s_right], Point::Challenge)?;
    let side = fold_first(records, units, &w_right, View::PrevRight, s_right);
    let mut right =
        VerifierState::after_first_round(&right_shares, &claims_right, units, s_right, side);
    let s_left = challenge(&party.stream_prev(op_challenge, CHALLENGE_WORDS));
    let side = fold_first(records, units, &w_left, View::NextLeft, s_left);
    let mut left =
        VerifierState::after_first_round(&left_shares, &claims_left, units, s_left, side);
    let s = read_challenge(party, &mut bad_challenge)?;
    // the folded vectors are linear in this party's shares: wiped when dropped
    let mut u = Zeroizing::new(fold_first(records, units, &w_mine, View::MineLeft, s));
    let mut v = Zeroizing::new(fold_first(records, units, &w_mine, View::MineRight, s));

    // Halving rounds.
    while u.len() > 1 {
        let (op_share, op_challenge) = (party.next_op(), party.next_op());
        let p = halving_polynomial(&u, &v);
        let (right_shares, left_shares) = share_round(party, op_share, &p)?;
        let s_right = challenge(&party.stream_next(op_challenge, CHALLENGE_WORDS));
        party.send(me.prev(), &[s_right], Point::Challenge)?;
        right.halving_round(&right_shares, s_right);
        let s_left = challenge(&party.stream_prev(op_challenge, CHALLENGE_WORDS));
        left.halving_round(&left_shares, s_left);
        let s = read_challenge(party, &mut bad_challenge)?;
        fold_halving(&mut u, s);
        fold_halving(&mut v, s);
    }
    let mut found = last_round(party, (u, v), left, right)?;
    if bad_challenge {
        found.push(super::challenge_sender(me));
    }
    Ok(found)
}

/// A challenge from my right verifier. One that is not a binary element other than 0 and 1
/// (the only ones an honest verifier draws) marks it as deviating; the proof goes on with
/// its low bits so all three stay in step.
fn read_challenge(party: &mut Party, bad: &mut bool) -> Result<u64, ProtocolError> {
    let s = party.recv(party.id().next(), 1, STEP)?[0];
    if s & !BINARY != 0 || s <= 1 {
        *bad = true;
    }
    Ok(s & BINARY)
}

/// The last entry of a folded side (0 for an empty batch).
fn last(side: &[Gr]) -> Gr {
    side.first().copied().unwrap_or_default()
}

/// f = mask + X (value - mask): coefficients.
fn masked(mask: Gr, value: Gr) -> [Gr; 2] {
    [mask, value - mask]
}

/// The masked last round and the verifiers' exchange (see the module doc).
fn last_round(
    party: &mut Party,
    (u, v): (Zeroizing<Vec<Gr>>, Zeroizing<Vec<Gr>>),
    left: VerifierState,
    right: VerifierState,
) -> Result<Vec<Deviation>, ProtocolError> {
    let me = party.id();
    let (op_mask, op_share, op_challenge) = (party.next_op(), party.next_op(), party.next_op());
    // A key's stream: words 0..D mask its later party's u, words D..2D its earlier party's v.
    let first_half = |w: Vec<u64>| Gr::from_words(&w[..D]);
    let second_half = |w: Vec<u64>| Gr::from_words(&w[D..]);
    let f = masked(first_half(party.stream_prev(op_mask, 2 * D)), last(&u));
    let g = masked(second_half(party.stream_next(op_mask, 2 * D)), last(&v));
    let p = [f[0] * g[0], f[0] * g[1] + f[1] * g[0], f[1] * g[1]];
    let (right_shares, left_shares) = share_round(party, op_share, &p)?;
    // Left verifier of my next party: to its right verifier, my previous party.
    let s_left = challenge(&party.stream_prev(op_challenge, CHALLENGE_WORDS));
    let f_next = masked(
        first_half(party.stream_next(op_mask, 2 * D)),
        last(&left.side),
    );
    let left_report = report(&f_next, &left_shares, left, s_left, false);
    party.send(me.prev(), &left_report, Point::Proof)?;
    // Right verifier of my previous party: to its left verifier, my next party.
    let s_right = challenge(&party.stream_next(op_challenge, CHALLENGE_WORDS));
    let g_prev = masked(
        second_half(party.stream_prev(op_mask, 2 * D)),
        last(&right.side),
    );
    let right_report = report(&g_prev, &right_shares, right, s_right, true);
    party.send(me.next(), &right_report, Point::Proof)?;
    let mut found = Vec::new();
    let theirs = party.recv(me.next(), REPORT_WORDS, STEP)?;
    if !closes(&theirs, &right_report) {
        found.push(Deviation {
            sender: me.prev(),
            witness: me.next(),
        });
    }
    let theirs = party.recv(me.prev(), REPORT_WORDS, STEP)?;
    if !closes(&left_report, &theirs) {
        found.push(Deviation {
            sender: me.next(),
            witness: me.prev(),
        });
    }
    Ok(found)
}

/// Words of a closing report: the side's polynomial at s, the share of p(s), a 4-word digest.
const REPORT_WORDS: usize = 2 * D + 4;

/// A verifier's closing report. The right verifier digests its differences negated, so the
/// two digests match when the differences cancel.
fn report(
    side: &[Gr; 2],
    shares: &[Gr],
    mut state: VerifierState,
    s: u64,
    negate: bool,
) -> Vec<u64> {
    let sg = Gr::binary(s);
    // p(1) = c0 + c1 + c2 is the last claim
    state
        .differences
        .push(shares[0] + shares[1] + shares[2] - state.claim);
    let diffs: Vec<u64> = state
        .differences
        .iter()
        .map(|d| if negate { -*d } else { *d })
        .flat_map(|d| d.0)
        .collect();
    let mut out: Vec<u64> = eval(side, &sg).0.to_vec();
    out.extend(eval(shares, &sg).0);
    let mut hasher = blake3::Hasher::new();
    crate::words::hash_words(&mut hasher, &diffs);
    out.extend(crate::words::from_32_bytes(hasher.finalize().as_bytes()));
    state.differences.zeroize();
    out
}

/// Whether a left and a right report close the proof: f(s) g(s) = p(s) and the digests match.
fn closes(left: &[u64], right: &[u64]) -> bool {
    let (f, pl, dl) = (
        Gr::from_words(&left[..D]),
        Gr::from_words(&left[D..2 * D]),
        &left[2 * D..],
    );
    let (g, pr, dr) = (
        Gr::from_words(&right[..D]),
        Gr::from_words(&right[D..2 * D]),
        &right[2 * D..],
    );
    f * g == pl + pr && dl == dr
}

/// Halving rounds of a batch of `chunks` chunks.
fn halving_rounds(chunks: usize) -> u64 {
    let (mut len, mut r) = (chunks, 0);
    while len > 1 {
        len = len.div_ceil(2);
        r += 1;
    }
    r
}

/// Words and messages each party sends to verify records of these shapes and gate counts:
/// per batch, the seed, round one's shares and challenge, each halving round's, the last
/// round's shares and two reports (the verdicts are the caller's).
pub fn proof_cost(metas: &[(Shape, usize)]) -> (u64, u64) {
    let (mut sent, mut messages) = (0u64, 0u64);
    let d = D as u64;
    for units in batches(metas) {
        let chunks: usize = units
            .iter()
            .map(|u| chunks(u, &metas[u.record]).len())
            .sum();
        let r = halving_rounds(chunks);
        let first: u64 = classes(&units)
            .iter()
            .map(|c| (2 * class_width(&units, *c) as u64 - 1) * d)
            .sum();
        sent += SEED_WORDS as u64 + first + 1 + r * (3 * d + 1) + 3 * d + 2 * REPORT_WORDS as u64;
        messages += 1 + 2 + 2 * r + 3;
    }
    (sent, messages)
}

/// Proves and checks the recorded products of all three parties, in batches. Returns the
/// deviations this party found (the caller makes the parties agree).
pub(crate) fn check_products(
    party: &mut Party,
    records: &[Record],
) -> Result<Vec<Deviation>, ProtocolError> {
    let metas: Vec<Meta> = records.iter().map(Record::meta).collect();
    let mut found = Vec::new();
    for units in batches(&metas) {
        found.extend(batch(party, records, &units)?);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Tables land in the layers exactly as one table per set bit would: any number of
        /// them (whole groups of sixteen, partial groups of four), tables of any size (one
        /// tile, several, a partial last one).
        #[test]
        fn layers_add_each_table_into_the_layers_of_its_weight_bits(
            size in prop_oneof![1usize..8, 250usize..530],
            weights in proptest::collection::vec(any::<u64>(), 0..40),
            seed in any::<u64>(),
        ) {
            let tables: Vec<(Vec<u64>, u64)> = weights
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let t = (0..size as u64)
                        .map(|j| (j ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15 ^ i as u64))
                        .collect();
                    (t, *b)
                })
                .collect();
            let (mut got, mut want) = (vec![0u64; D * size], vec![0u64; D * size]);
            let mut layers = Layers::new(size);
            for (t, beta) in &tables {
                let beta = beta & BINARY;
                layers.next_table().copy_from_slice(t);
                layers.push(beta, &mut got);
                for c in (0..D).filter(|c| beta >> c & 1 == 1) {
                    for (x, y) in want[c * size..(c + 1) * size].iter_mut().zip(t) {
                        *x = x.wrapping_add(*y);
                    }
                }
            }
            layers.flush(&mut got);
            prop_assert_eq!(got, want);
        }

        /// The tiled table equals the plain double loop over every chunk, whole or not.
        #[test]
        fn the_table_is_the_sum_of_the_chunks_outer_products(
            w in 1usize..9,
            entries in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..700),
        ) {
            let (l, r): (Vec<u64>, Vec<u64>) = entries.into_iter().unzip();
            let mut got = vec![0u64; w * w];
            add_products(&mut got, w, &l, &r);
            let mut want = vec![0u64; w * w];
            for (lc, rc) in l.chunks(w).zip(r.chunks(w)) {
                for (a, x) in lc.iter().enumerate() {
                    for (b, y) in rc.iter().enumerate() {
                        want[a * w + b] = want[a * w + b].wrapping_add(x.wrapping_mul(*y));
                    }
                }
            }
            prop_assert_eq!(got, want);
        }
    }
}
