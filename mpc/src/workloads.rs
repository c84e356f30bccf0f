//! The benchmark workloads W1-W5 (shared/peers/README.md), run by three parties in memory
//! ([`run_workload`]) or over any channels ([`run_workload_with`], e.g. QUIC).
//!
//! Data: n values x ~ N(100, 20) (glucose-like, mg/dL) and y = 0.5x + N(50, 15), from a fixed
//! seed, rounded to one decimal and entered as integers in tenths (x = 100.3 is 1003), so
//! every aggregate is exact in the ring. P0 owns the data and inputs it (one message per
//! vector). Each run times input sharing + computation + reveal (after session setup), then
//! checks the result against a plaintext computation done independently here.
//!
//! `theoretical_bytes_per_party` is what the protocols' cost formulas say each party must send
//! for the workload (inputs, multiplications/comparisons, reveals); the counters of the
//! channels give `bytes_sent_per_party`. For W3 this is also the absolute minimum of
//! replicated sharing: one ring element per party per product, per input value and per
//! revealed value.

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
use crate::protocols::reveal::{CHECK_WORDS, reveal};
use crate::ring::{decode, decode_all, encode_all};
use crate::verify::product_proof::Shape;
use crate::verify::verification_cost;
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
    /// The revealed ring values (the same at every party).
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

/// Runs workload `w` on n values with three in-memory parties and checks it.
pub fn run_workload(w: Workload, n: usize, security: Security) -> WorkloadReport {
    let channels = memory_channels(DEFAULT_TIMEOUT).map(|c| Box::new(c) as Box<dyn Channel>);
    run_workload_with(w, n, security, &SessionId::random(), channels)
}

/// Runs workload `w` on n values with three parties over `channels` (indexed by party, e.g.
/// the gateway's QUIC channels for `session`), one thread per party, and checks it.
/// Panics when session setup or the protocol fails (a benchmark, not a service).
pub fn run_workload_with(
    w: Workload,
    n: usize,
    security: Security,
    session: &SessionId,
    channels: [Box<dyn Channel>; 3],
) -> WorkloadReport {
    let (x, y) = dataset(n);
    let data = (encode_all(&x), encode_all(&y));
    let barrier = Barrier::new(3);
    let secrets = PartyId::ALL.map(|_| SessionSecret::random());
    let publics = [0, 1, 2].map(|i| secrets[i].public());
    let runs = std::thread::scope(|s| {
        let mut ids = PartyId::ALL.into_iter();
        let handles = channels.map(|ch| {
            let me = ids.next().expect("three parties");
            let (secrets, publics, barrier, data) = (&secrets, &publics, &barrier, &data);
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
                barrier.wait();
                let mine = (me == PartyId::P0).then_some((&data.0[..], &data.1[..]));
                run_party(&mut p, w, n, mine)
                    .unwrap_or_else(|e| panic!("workload run failed for {me}: {e}"))
            })
        });
        handles.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    });
    report(w, n, security, &runs)
}

/// One party's run of workload `w` on n values over an established session (the parties may
/// be separate processes). `data` is P0's encoded (x, y) ([`encoded_dataset`]), `None` at the
/// other parties.
pub fn run_party(
    p: &mut Party,
    w: Workload,
    n: usize,
    data: Option<(&[u64], &[u64])>,
) -> Result<PartyRun, crate::ProtocolError> {
    let before = p.stats();
    let start = Instant::now();
    let opened = compute(p, w, n, data)?;
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

/// The report of a workload from the three parties' runs (P0 first): the slowest party's
/// time, the counters, and the opened result checked against plaintext computed here.
pub fn report(w: Workload, n: usize, security: Security, runs: &[PartyRun; 3]) -> WorkloadReport {
    let (x, y) = dataset(n);
    let agree = runs.iter().all(|r| r.opened == runs[0].opened);
    let (ok, result) = check(w, &x, &y, &runs[0].opened);
    let bytes = [0, 1, 2].map(|i| runs[i].bytes);
    let theory = theoretical_words(w, n, security).map(|words| 8 * words);
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

/// The workload data encoded in the ring, as P0 inputs it.
pub fn encoded_dataset(n: usize) -> (Vec<u64>, Vec<u64>) {
    let (x, y) = dataset(n);
    (encode_all(&x), encode_all(&y))
}

/// The MPC part of a workload; returns the opened (revealed) ring values.
fn compute(
    p: &mut Party,
    w: Workload,
    n: usize,
    data: Option<(&[u64], &[u64])>,
) -> Result<Vec<u64>, crate::ProtocolError> {
    let (x, y) = (data.map(|d| d.0), data.map(|d| d.1));
    let xs = input(p, PartyId::P0, x, n)?;
    match w {
        Workload::W1 => reveal(p, &xs.sum()),
        Workload::W2 => {
            let s2 = dot_many(p, &[(&xs, &xs)])?;
            reveal(p, &ArithShares::concat(&[&xs.sum(), &s2]))
        }
        Workload::W3 => {
            let ys = input(p, PartyId::P0, y, n)?;
            let z = mul(p, &xs, &ys)?;
            reveal(p, &z)
        }
        Workload::W4 => {
            let above = greater_than_public(p, &xs, W4_THRESHOLD, w4_width())?;
            let count = count_ones(p, &above, 1)?;
            reveal(p, &count)
        }
        Workload::W5 => {
            let ys = input(p, PartyId::P0, y, n)?;
            let prods = dot_many(p, &[(&xs, &xs), (&ys, &ys), (&xs, &ys)])?;
            reveal(p, &ArithShares::concat(&[&xs.sum(), &ys.sum(), &prods]))
        }
    }
}

/// Words each party sends in workload `w` on n values under `security`, from the protocols'
/// cost formulas (under malicious security: the opening's check and the proofs of the AND gates).
pub fn theoretical_words(w: Workload, n: usize, security: Security) -> [u64; 3] {
    if !security.checks() {
        return semi_honest_words(w, n);
    }
    // Every workload opens once. The products are verified before it (a dot product per
    // dot, one gate per element of W3's product, W4's count); W4's comparison also proves its
    // AND gates, in a verification each time 2^20 words are pending, the last one with the
    // count.
    let dot = (Shape::Segments { len: n }, 1);
    let square = (Shape::Square { len: n }, 1);
    let elements = if n == 0 {
        vec![]
    } else {
        vec![(Shape::Elementwise, n)]
    };
    let products = match w {
        Workload::W1 => vec![],
        Workload::W2 => vec![square],
        Workload::W3 => elements,
        // P0's input of the count's t = b0 ^ b1 is checked, then the dot product
        Workload::W4 if n == 0 => vec![dot],
        Workload::W4 => vec![(Shape::Injection, n), dot],
        Workload::W5 => vec![square, square, dot],
    };
    let mut ands = match w {
        Workload::W4 => verifications(
            &msb_and_calls(w4_width())
                .iter()
                .map(|c| *c as usize * words_for(n))
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
    semi_honest_words(w, n).map(|words| words + CHECK_WORDS as u64 + proofs)
}

/// [`theoretical_words`] without the opening's check.
fn semi_honest_words(w: Workload, n: usize) -> [u64; 3] {
    let n64 = n as u64;
    let add = |a: [u64; 3], b: [u64; 3]| [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
    let each = |k: u64| [k, k, k];
    let inputs = |vectors: u64| [vectors * n64, 0, 0];
    match w {
        Workload::W1 => add(inputs(1), each(1)),
        Workload::W2 => add(inputs(1), each(1 + 2)),
        Workload::W3 => add(inputs(2), each(n64 + n64)),
        Workload::W4 => add(
            add(inputs(1), each(msb_cost(n, w4_width()))),
            add([n64 + 1, 1, 1], each(1)),
        ),
        Workload::W5 => add(inputs(2), each(3 + 5)),
    }
}

/// Checks the opened values against plaintext computed here; returns (ok, result text).
fn check(w: Workload, x: &[i64], y: &[i64], opened: &[u64]) -> (bool, String) {
    let n = x.len();
    let nf = n as f64;
    let xf: Vec<f64> = x.iter().map(|v| *v as f64 / 10.0).collect();
    let yf: Vec<f64> = y.iter().map(|v| *v as f64 / 10.0).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
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
            let mx = mean(&xf);
            let want = xf.iter().map(|v| (v - mx) * (v - mx)).sum::<f64>() / nf;
            (
                exact_ok && close(var, want),
                format!("population variance = {var:.4} (mg/dL)^2"),
            )
        }
        Workload::W3 => {
            let got = decode_all(opened);
            let ok = got.len() == n
                && got
                    .iter()
                    .zip(x.iter().zip(y))
                    .all(|(g, (a, b))| *g == a * b);
            (ok, format!("{} products", got.len()))
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
            let (mx, my) = (mean(&xf), mean(&yf));
            let c: f64 = xf.iter().zip(&yf).map(|(a, b)| (a - mx) * (b - my)).sum();
            let vx: f64 = xf.iter().map(|a| (a - mx) * (a - mx)).sum();
            let vy: f64 = yf.iter().map(|b| (b - my) * (b - my)).sum();
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
