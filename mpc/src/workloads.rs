//! The benchmark workloads W1-W5 (shared/peers/README.md), run by three parties in memory
//! ([`run_workload`]) or over any channels ([`run_workload_with`], e.g. QUIC).
//!
//! Data: n values x ~ N(100, 20) (glucose-like, mg/dL) and y = 0.5x + N(50, 15), from a fixed
//! seed, rounded to one decimal and entered as integers in tenths (x = 100.3 is 1003), so
//! every aggregate is exact in the ring. P0 owns the data and inputs it. Each run times input
//! sharing + computation + reveal (after session setup), then checks the result against a
//! plaintext computation done independently here.
//!
//! The parties stream ([`crate::stream`]): they share and compute [`PART_VALUES`] values at a
//! time, add up each part's aggregates and open the sum once, so a party's memory beyond the
//! data is bounded by a part. W3 opens each part's products as it goes; a party keeps only a
//! digest of them ([`products_digest`]), which the check compares with the plaintext's.
//!
//! `theoretical_bytes_per_party` is what the protocols' cost formulas say each party must send
//! for the workload (inputs, multiplications/comparisons, reveals); the counters of the
//! channels give `bytes_sent_per_party`. For W3 this is also the absolute minimum of
//! replicated sharing: one ring element per party per product, per input value and per
//! revealed value.

use std::ops::Range;
use std::sync::Barrier;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::kernels;
use crate::kernels::words_for;
use crate::memory::{DEFAULT_TIMEOUT, memory_channels};
use crate::protocols::a2b::{Width, msb_and_calls, msb_cost};
use crate::protocols::b2a::count_ones;
use crate::protocols::boolean::verifications;
use crate::protocols::compare::greater_than_public;
use crate::protocols::input::input;
use crate::protocols::mul::{dot_many, mul};
use crate::protocols::reveal::{check_cost, reveal};
use crate::ring::{decode, encode, encode_all};
pub use crate::stream::PART_VALUES;
use crate::stream::{parts, sum_over_parts};
use crate::verdict::VerdictKeys;
use crate::verify::product_proof::Shape;
use crate::verify::verification_cost;
use crate::words::{feed_words, from_32_bytes};
use crate::{ArithShares, Channel, Party, PartyId, PrfKind, Security, SessionId, SessionSecret};

/// Seed of the workload data (the peers' scripts use the same).
pub const SEED: u64 = 20240601;
/// W4's threshold: 126 mg/dL in tenths.
pub const W4_THRESHOLD: i64 = 1260;
/// The bound W4's comparison relies on, as a catalog range would give it: |x| <= 1000 mg/dL
/// in tenths (the data lie within 100 +- 20 mg/dL; 1000 is 45 standard deviations out).
pub const W4_MAX_ABS: u64 = 10_000;

/// The width of W4's comparison: |x - threshold| <= [`W4_MAX_ABS`] + |threshold|.
pub fn w4_width() -> Width {
    Width::for_magnitude(u128::from(W4_MAX_ABS + W4_THRESHOLD.unsigned_abs()))
}

/// One of the five benchmark workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Workload {
    /// Input x, sum and mean.
    W1,
    /// Input x, variance.
    W2,
    /// Input x and y, element-wise products x*y, all revealed.
    W3,
    /// Input x, count of x > 126 (comparison with a public constant).
    W4,
    /// Input x and y, Pearson correlation.
    W5,
}

impl Workload {
    /// All five, in order.
    pub const ALL: [Workload; 5] = [
        Workload::W1,
        Workload::W2,
        Workload::W3,
        Workload::W4,
        Workload::W5,
    ];

    /// One-line description.
    pub fn description(self) -> &'static str {
        match self {
            Workload::W1 => "sum and mean of x",
            Workload::W2 => "variance of x",
            Workload::W3 => "element-wise products x*y, all revealed",
            Workload::W4 => "count of x > 126",
            Workload::W5 => "Pearson correlation of x and y",
        }
    }
}

impl std::str::FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Workload::ALL
            .into_iter()
            .find(|w| format!("{w:?}").eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown workload {s:?} (expected W1..W5)"))
    }
}

/// What one workload run measured.
#[derive(Clone, Debug, Serialize)]
pub struct WorkloadReport {
    /// Which workload.
    pub workload: Workload,
    /// Number of values.
    pub n: usize,
    /// The adversary the parties defended against.
    pub security: Security,
    /// Wall time of input + compute + reveal, slowest party, seconds.
    pub seconds: f64,
    /// Payload bytes each party sent (channel counters), P0 first.
    pub bytes_sent_per_party: [u64; 3],
    /// Bytes the protocols' cost formulas say each party sends.
    pub theoretical_bytes_per_party: [u64; 3],
    /// Total bytes sent over total theoretical bytes.
    pub ratio_to_theoretical: f64,
    /// Messages (rounds) each party sent.
    pub messages_per_party: [u64; 3],
    /// Whether the result equals the independent plaintext computation.
    pub correct: bool,
    /// The result, human-readable (in mg/dL units).
    pub result: String,
    /// Share-arithmetic kernels used.
    pub kernels: &'static str,
    /// PRF used for the correlated randomness.
    pub prf: PrfKind,
}

/// The workload data in tenths: (x, y), n values each, from [`SEED`].
pub fn dataset(n: usize) -> (Vec<i64>, Vec<i64>) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut normal = move || {
        // Box-Muller
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let xv = 100.0 + 20.0 * normal();
        let yv = 0.5 * xv + 50.0 + 15.0 * normal();
        x.push((xv * 10.0).round() as i64);
        y.push((yv * 10.0).round() as i64);
    }
    (x, y)
}

/// What one party's run of a workload gives: the opened values, its wall time and counters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartyRun {
    /// The revealed ring values (the same at every party); for W3 the digest of the revealed
    /// products ([`products_digest`]).
    pub opened: Vec<u64>,
    /// Wall time of input + compute + reveal at this party, seconds.
    pub seconds: f64,
    /// Payload bytes this party sent.
    pub bytes: u64,
    /// Messages this party sent.
    pub messages: u64,
    /// Wall time of adding the parties' differential-privacy noise to the opened aggregates
    /// ([`crate::dp::noise::add_noise`], one draw per aggregate), measured after the run in
    /// the same session by callers that measure it (0 otherwise). The workloads themselves
    /// run exact.
    #[serde(default)]
    pub noise_seconds: f64,
}

/// The workload data in tenths, (x, y) of one length, as [`dataset`] makes it: what P0 holds.
pub type Data<'a> = (&'a [i64], &'a [i64]);

/// Runs workload `w` on n values with three in-memory parties and checks it.
pub fn run_workload(w: Workload, n: usize, security: Security) -> WorkloadReport {
    let (x, y) = dataset(n);
    run_workload_on(w, (&x, &y), security)
}

/// Runs workload `w` on `data` with three in-memory parties and checks it.
pub fn run_workload_on(w: Workload, data: Data, security: Security) -> WorkloadReport {
    let channels = memory_channels(DEFAULT_TIMEOUT).map(|c| Box::new(c) as Box<dyn Channel>);
    run_workload_with(w, data, security, &SessionId::random(), channels)
}

/// Runs workload `w` on `data` with three parties over `channels` (indexed by party, e.g.
/// the gateway's QUIC channels for `session`), one thread per party, and checks it.
/// Panics when session setup or the protocol fails (a benchmark, not a service).
pub fn run_workload_with(
    w: Workload,
    data: Data,
    security: Security,
    session: &SessionId,
    channels: [Box<dyn Channel>; 3],
) -> WorkloadReport {
    run_in_parts(w, (data, PART_VALUES), security, session, channels)
}

/// [`run_workload_with`] streaming parts of `part` values.
fn run_in_parts(
    w: Workload,
    (data, part): (Data, usize),
    security: Security,
    session: &SessionId,
    channels: [Box<dyn Channel>; 3],
) -> WorkloadReport {
    let n = data.0.len();
    let barrier = Barrier::new(3);
    let secrets = PartyId::ALL.map(|_| SessionSecret::random());
    let publics = [0, 1, 2].map(|i| secrets[i].public());
    // Verdicts signed as a node signs them (with keys of this run here).
    let verdicts = VerdictKeys::fresh_three();
    let runs = std::thread::scope(|s| {
        let mut ids = PartyId::ALL.into_iter();
        let handles = channels.map(|ch| {
            let me = ids.next().expect("three parties");
            let (secrets, publics, barrier) = (&secrets, &publics, &barrier);
            let verdicts = verdicts[me.index()].clone();
            s.spawn(move || {
                let mut p = Party::establish(
                    me,
                    session,
                    &secrets[me.index()],
                    publics,
                    PrfKind::DEFAULT,
                    ch,
                )
                .unwrap_or_else(|e| panic!("session setup failed for {me}: {e}"));
                p.set_security(security);
                p.set_part_values(part);
                p.sign_verdicts(verdicts)
                    .unwrap_or_else(|e| panic!("verdict keys of {me}: {e}"));
                barrier.wait();
                let mine = (me == PartyId::P0).then_some(data);
                measure(&mut p, |p| compute(p, w, n, mine))
                    .unwrap_or_else(|e| panic!("workload run failed for {me}: {e}"))
            })
        });
        handles.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    });
    report_in_parts(w, (data, part), security, &runs)
}

/// One party's run of workload `w` on n values over an established session (the parties may
/// be separate processes), in parts of the party's part size ([`Party::part_values`]; the
/// three must agree). `data` is P0's ([`dataset`]), `None` at the other parties.
pub fn run_party(
    p: &mut Party,
    w: Workload,
    n: usize,
    data: Option<Data>,
) -> Result<PartyRun, crate::ProtocolError> {
    measure(p, |p| compute(p, w, n, data))
}

/// Runs `compute` at this party, timing it and counting what it sent.
fn measure(
    p: &mut Party,
    compute: impl FnOnce(&mut Party) -> Result<Vec<u64>, crate::ProtocolError>,
) -> Result<PartyRun, crate::ProtocolError> {
    let before = p.stats();
    let start = Instant::now();
    let opened = compute(p)?;
    let seconds = start.elapsed().as_secs_f64();
    let d = p.stats().since(&before);
    Ok(PartyRun {
        opened,
        seconds,
        bytes: d.bytes_sent,
        messages: d.messages_sent,
        noise_seconds: 0.0,
    })
}

/// The report of a workload on `data` from the three parties' runs (P0 first): the slowest
/// party's time, the counters, and the opened result checked against plaintext computed here.
pub fn report(w: Workload, data: Data, security: Security, runs: &[PartyRun; 3]) -> WorkloadReport {
    report_in_parts(w, (data, PART_VALUES), security, runs)
}

/// [`report`] of a run in parts of `part` values.
fn report_in_parts(
    w: Workload,
    ((x, y), part): (Data, usize),
    security: Security,
    runs: &[PartyRun; 3],
) -> WorkloadReport {
    let n = x.len();
    let agree = runs.iter().all(|r| r.opened == runs[0].opened);
    let (ok, result) = check(w, x, y, &runs[0].opened);
    let bytes = [0, 1, 2].map(|i| runs[i].bytes);
    let theory = words_in_parts(w, (n, part), security).map(|words| 8 * words);
    WorkloadReport {
        workload: w,
        n,
        security,
        seconds: runs.iter().map(|r| r.seconds).fold(0.0, f64::max),
        bytes_sent_per_party: bytes,
        theoretical_bytes_per_party: theory,
        ratio_to_theoretical: bytes.iter().sum::<u64>() as f64
            / theory.iter().sum::<u64>().max(1) as f64,
        messages_per_party: [0, 1, 2].map(|i| runs[i].messages),
        correct: agree && ok,
        result,
        kernels: kernels::best().name(),
        prf: PrfKind::DEFAULT,
    }
}

/// The MPC part of a workload, in parts of the party's part size; returns the opened
/// (revealed) ring values (for W3 the digest of the products, [`products_digest`]).
fn compute(
    p: &mut Party,
    w: Workload,
    n: usize,
    data: Option<Data>,
) -> Result<Vec<u64>, crate::ProtocolError> {
    // P0 encodes each part as it inputs it (the data stay in tenths, one copy).
    let column = |c: usize, range: Range<usize>| data.map(|d| encode_all(&[d.0, d.1][c][range]));
    if w == Workload::W3 {
        let mut products = blake3::Hasher::new();
        for range in parts(n, p.part_values()) {
            let xs = input(
                p,
                PartyId::P0,
                column(0, range.clone()).as_deref(),
                range.len(),
            )?;
            let ys = input(
                p,
                PartyId::P0,
                column(1, range.clone()).as_deref(),
                range.len(),
            )?;
            let z = mul(p, &xs, &ys)?;
            feed_words(&mut products, &reveal(p, &z)?);
        }
        return Ok(from_32_bytes(products.finalize().as_bytes()).to_vec());
    }
    let total = sum_over_parts(p, n, p.part_values(), |p, range| {
        let len = range.len();
        let xs = input(p, PartyId::P0, column(0, range.clone()).as_deref(), len)?;
        Ok::<_, crate::ProtocolError>(match w {
            Workload::W1 => xs.sum(),
            Workload::W2 => {
                let s2 = dot_many(p, &[(&xs, &xs)])?;
                ArithShares::concat(&[&xs.sum(), &s2])
            }
            Workload::W4 => {
                let above = greater_than_public(p, &xs, W4_THRESHOLD, w4_width())?;
                count_ones(p, &above, 1)?
            }
            Workload::W3 => unreachable!("W3 opens each part, above"),
            Workload::W5 => {
                let ys = input(p, PartyId::P0, column(1, range).as_deref(), len)?;
                let prods = dot_many(p, &[(&xs, &xs), (&ys, &ys), (&xs, &ys)])?;
                ArithShares::concat(&[&xs.sum(), &ys.sum(), &prods])
            }
        })
    })?;
    reveal(p, &total)
}

/// The digest W3's parties keep of the products they opened: BLAKE3 over the products as
/// little-endian ring words, in order, as four words.
pub fn products_digest(products: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut h = blake3::Hasher::new();
    let mut buf = Vec::with_capacity(4096);
    for v in products {
        buf.push(v);
        if buf.len() == buf.capacity() {
            feed_words(&mut h, &buf);
            buf.clear();
        }
    }
    feed_words(&mut h, &buf);
    from_32_bytes(h.finalize().as_bytes()).to_vec()
}

/// Words each party sends in workload `w` on n values under `security`, from the protocols'
/// cost formulas, streaming parts of [`PART_VALUES`] values.
pub fn theoretical_words(w: Workload, n: usize, security: Security) -> [u64; 3] {
    words_in_parts(w, (n, PART_VALUES), security)
}

/// [`theoretical_words`] in parts of `part` values: each part's inputs, products and
/// comparisons (and under malicious security its verification), then the one opening of the
/// sum (W3 opens every part).
fn words_in_parts(w: Workload, (n, part): (usize, usize), security: Security) -> [u64; 3] {
    let add = |a: [u64; 3], b: [u64; 3]| [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
    let opened = match w {
        Workload::W1 | Workload::W4 => 1,
        Workload::W2 => 2,
        Workload::W3 => 0,
        Workload::W5 => 5,
    };
    let check = |words: u64| match security.checks() {
        true => words + check_cost(true).0 as u64,
        false => words,
    };
    let last = [opened, opened, opened].map(|k| if opened == 0 { 0 } else { check(k) });
    parts(n, part)
        .map(|r| part_words(w, r.len(), security))
        .fold(last, add)
}

/// Words each party sends for one part of `len` values: its inputs and compute (W3: and its
/// opening), and under malicious security the verification of what it recorded.
fn part_words(w: Workload, len: usize, security: Security) -> [u64; 3] {
    let semi = semi_honest_part_words(w, len);
    if !security.checks() {
        return semi;
    }
    // The products are verified at the part's end (a dot product per dot, one gate per element
    // of W3's product, W4's count); W4's comparison also proves its AND gates, in a
    // verification each time 2^20 words are pending, the last one with the products.
    let dot = (Shape::Segments { len }, 1);
    let square = (Shape::Square { len }, 1);
    let elements = if len == 0 {
        vec![]
    } else {
        vec![(Shape::Elementwise, len)]
    };
    let products = match w {
        Workload::W1 => vec![],
        Workload::W2 => vec![square],
        Workload::W3 => elements,
        // P0's input of the count's t = b0 ^ b1 is checked, then the dot product
        Workload::W4 if len == 0 => vec![dot],
        Workload::W4 => vec![(Shape::Injection, len), dot],
        Workload::W5 => vec![square, square, dot],
    };
    let mut ands = match w {
        Workload::W4 => verifications(
            &msb_and_calls(w4_width())
                .iter()
                .map(|c| *c as usize * words_for(len))
                .collect::<Vec<_>>(),
        ),
        _ => vec![],
    };
    let proofs = if ands.is_empty() && products.is_empty() {
        0
    } else {
        let last = ands.pop().unwrap_or(0);
        ands.iter()
            .map(|a| verification_cost(*a, &[]).0)
            .sum::<u64>()
            + verification_cost(last, &products).0
    };
    let opening_check = if w == Workload::W3 {
        check_cost(true).0 as u64
    } else {
        0
    };
    semi.map(|words| words + opening_check + proofs)
}

/// [`part_words`] without the checks: a part's inputs and compute; W3's opening too.
fn semi_honest_part_words(w: Workload, len: usize) -> [u64; 3] {
    let n64 = len as u64;
    let add = |a: [u64; 3], b: [u64; 3]| [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
    let each = |k: u64| [k, k, k];
    let inputs = |vectors: u64| [vectors * n64, 0, 0];
    match w {
        Workload::W1 => inputs(1),
        Workload::W2 => add(inputs(1), each(1)),
        Workload::W3 => add(inputs(2), each(n64 + n64)),
        Workload::W4 => add(
            add(inputs(1), each(msb_cost(len, w4_width()))),
            [n64 + 1, 1, 1],
        ),
        Workload::W5 => add(inputs(2), each(3)),
    }
}

/// Checks the opened values against plaintext computed here; returns (ok, result text).
fn check(w: Workload, x: &[i64], y: &[i64], opened: &[u64]) -> (bool, String) {
    let n = x.len();
    let nf = n as f64;
    // In mg/dL, as f64, computed without the exact integers the parties opened.
    let f = |v: &i64| *v as f64 / 10.0;
    let mean = |v: &[i64]| v.iter().map(f).sum::<f64>() / nf;
    let close =
        |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-300) || (a.is_nan() && b.is_nan());
    match w {
        Workload::W1 => {
            let sum = decode(opened[0]);
            let want: i64 = x.iter().sum();
            let m = sum as f64 / 10.0 / nf;
            (
                sum == want,
                format!("sum = {:.1} mg/dL, mean = {m:.4} mg/dL", sum as f64 / 10.0),
            )
        }
        Workload::W2 => {
            let (s1, s2) = (decode(opened[0]) as i128, decode(opened[1]) as i128);
            let exact_ok = s1 == x.iter().map(|v| *v as i128).sum::<i128>()
                && s2 == x.iter().map(|v| (*v as i128) * (*v as i128)).sum::<i128>();
            let var = (n as i128 * s2 - s1 * s1) as f64 / (nf * nf) / 100.0;
            let mx = mean(x);
            let want = x.iter().map(|v| (f(v) - mx).powi(2)).sum::<f64>() / nf;
            (
                exact_ok && close(var, want),
                format!("population variance = {var:.4} (mg/dL)^2"),
            )
        }
        Workload::W3 => {
            let want = products_digest(x.iter().zip(y).map(|(a, b)| encode(a * b)));
            (
                opened == want,
                format!("{n} products, digest {:016x}", opened.first().unwrap_or(&0)),
            )
        }
        Workload::W4 => {
            let count = decode(opened[0]);
            let want = x.iter().filter(|v| **v > W4_THRESHOLD).count() as i64;
            (count == want, format!("{count} values > 126 mg/dL"))
        }
        Workload::W5 => {
            let v: Vec<i128> = opened.iter().map(|u| decode(*u) as i128).collect();
            let (sx, sy, sxx, syy, sxy) = (v[0], v[1], v[2], v[3], v[4]);
            let ni = n as i128;
            let cov = (ni * sxy - sx * sy) as f64;
            let r = cov / (((ni * sxx - sx * sx) as f64) * ((ni * syy - sy * sy) as f64)).sqrt();
            let (mx, my) = (mean(x), mean(y));
            let c: f64 = x
                .iter()
                .zip(y)
                .map(|(a, b)| (f(a) - mx) * (f(b) - my))
                .sum();
            let vx: f64 = x.iter().map(|a| (f(a) - mx).powi(2)).sum();
            let vy: f64 = y.iter().map(|b| (f(b) - my).powi(2)).sum();
            let want = c / (vx * vy).sqrt();
            (close(r, want), format!("pearson r = {r:.6}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_is_correct_and_sends_exactly_the_formula() {
        for n in [0usize, 1, 2, 130, 1000] {
            for (w, security) in Workload::ALL
                .into_iter()
                .flat_map(|w| Security::ALL.map(|s| (w, s)))
            {
                let r = run_workload(w, n, security);
                if n >= 2 {
                    assert!(r.correct, "{w:?} n={n} {security}: {}", r.result);
                }
                assert_eq!(
                    r.bytes_sent_per_party, r.theoretical_bytes_per_party,
                    "{w:?} n={n} {security}"
                );
            }
        }
    }

    fn in_parts(w: Workload, n: usize, part: usize, security: Security) -> WorkloadReport {
        let channels = memory_channels(DEFAULT_TIMEOUT).map(|c| Box::new(c) as Box<dyn Channel>);
        let (x, y) = dataset(n);
        run_in_parts(
            w,
            ((&x, &y), part),
            security,
            &SessionId::random(),
            channels,
        )
    }

    #[test]
    fn streamed_in_parts_every_workload_is_correct_and_sends_exactly_the_formula() {
        // Parts of 256 values: several parts, a short last one, and one part exactly full.
        for (n, part) in [(1000, 256), (512, 256), (3, 2)] {
            for (w, security) in Workload::ALL
                .into_iter()
                .flat_map(|w| Security::ALL.map(|s| (w, s)))
            {
                let r = in_parts(w, n, part, security);
                assert!(
                    r.correct,
                    "{w:?} n={n} part={part} {security}: {}",
                    r.result
                );
                assert_eq!(
                    r.bytes_sent_per_party,
                    words_in_parts(w, (n, part), security).map(|words| 8 * words),
                    "{w:?} n={n} part={part} {security}"
                );
            }
        }
    }

    #[test]
    fn streaming_opens_what_one_part_opens() {
        for w in Workload::ALL {
            let whole = in_parts(w, 600, 600, Security::SemiHonest);
            let parts = in_parts(w, 600, 128, Security::SemiHonest);
            assert!(whole.correct && parts.correct, "{w:?}");
            assert_eq!(whole.result, parts.result, "{w:?}");
        }
    }

    #[test]
    fn a_wrong_product_changes_w3s_digest() {
        let (x, y) = dataset(50);
        let mut products: Vec<u64> = x.iter().zip(&y).map(|(a, b)| encode(a * b)).collect();
        let digest = products_digest(products.iter().copied());
        assert!(check(Workload::W3, &x, &y, &digest).0);
        products[49] += 1;
        assert!(!check(Workload::W3, &x, &y, &products_digest(products)).0);
    }

    #[test]
    fn dataset_is_reproducible_and_glucose_like() {
        let (x, y) = dataset(20_000);
        assert_eq!(dataset(20_000).0, x);
        let mean = x.iter().sum::<i64>() as f64 / 20_000.0;
        assert!((990.0..1010.0).contains(&mean), "mean {mean}");
        let my = y.iter().sum::<i64>() as f64 / 20_000.0;
        assert!((990.0..1010.0).contains(&my), "y mean {my}");
        // W4 relies on its bound.
        assert!(x.iter().all(|v| v.unsigned_abs() <= W4_MAX_ABS));
    }

    #[test]
    fn workload_names_parse() {
        assert_eq!("w4".parse::<Workload>(), Ok(Workload::W4));
        assert!("W9".parse::<Workload>().is_err());
    }
}
