//! Privacy sanity: one party's view does not depend on the secret input.
//!
//! P2's view of "P0 inputs x; z = x*x; b = [x < 0]" (no reveal) is everything it receives; its
//! own keys k_2, k_0 and k_all are fixed, so the view is a deterministic function of x and of
//! the one key P2 does not hold, k_1 (shared by P0 and P1). The protocol is private for P2 when,
//! over a random k_1, the view has the same distribution for every x. We check that with the
//! session id and P2's keys fixed and k_1 re-randomised per trial, for x = 0 and for x of
//! extreme values: (1) every bit of every received word is balanced for both inputs (chi-square
//! over all positions), (2) the two inputs' bit frequencies do not differ (two-sample
//! chi-square). A negative control (the input message without the k_1 mask, i.e. a broken
//! input protocol) must fail the same test, showing it can detect a leak.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};

use crate::channel::{Channel, ChannelError, ChannelStats};
use crate::memory::memory_channels;
use crate::prf::{Prf, PrfKind};
use crate::protocols::a2b::msb;
use crate::protocols::input::input;
use crate::protocols::mul::mul;
use crate::ring::encode_all;
use crate::{Party, PartyId, PartyKeys, SessionId};

/// Wraps a channel and records every word received.
struct Recording<C> {
    inner: C,
    log: Arc<Mutex<Vec<u64>>>,
}

impl<C: Channel> Channel for Recording<C> {
    fn send(&mut self, to: PartyId, msg: &[u64]) -> Result<(), ChannelError> {
        self.inner.send(to, msg)
    }
    fn recv(&mut self, from: PartyId) -> Result<Vec<u64>, ChannelError> {
        let m = self.inner.recv(from)?;
        self.log.lock().unwrap().extend_from_slice(&m);
        Ok(m)
    }
    fn stats(&self) -> ChannelStats {
        self.inner.stats()
    }
}

const SESSION: SessionId = SessionId([9; 32]);
const K0: [u8; 32] = [1; 32];
const K2: [u8; 32] = [2; 32];
const KALL: [u8; 32] = [3; 32];

/// P2's received words for input x, with the given k_1.
fn view_of_p2(x: &[i64], k1: [u8; 32]) -> Vec<u64> {
    let keys = PartyKeys::from_material(SESSION, [K0, k1, K2], KALL);
    let log = Arc::new(Mutex::new(Vec::new()));
    let ring = encode_all(x);
    let n = x.len();
    let channels = memory_channels(std::time::Duration::from_secs(30));
    std::thread::scope(|s| {
        for (k, ch) in keys.into_iter().zip(channels) {
            let log = log.clone();
            let ring = &ring;
            s.spawn(move || {
                let me = k.me;
                let channel: Box<dyn Channel> = if me == PartyId::P2 {
                    Box::new(Recording { inner: ch, log })
                } else {
                    Box::new(ch)
                };
                let mut p = Party::from_keys(k, PrfKind::DEFAULT, channel);
                let own = (me == PartyId::P0).then_some(&ring[..]);
                let xs = input(&mut p, PartyId::P0, own, n).unwrap();
                let _z = mul(&mut p, &xs, &xs).unwrap();
                let _b = msb(&mut p, &xs).unwrap();
            });
        }
    });
    log.lock().unwrap().clone()
}

/// Per (word position, bit) counts of ones over the trials.
fn bit_counts(views: &[Vec<u64>]) -> Vec<u32> {
    let len = views[0].len();
    let mut c = vec![0u32; len * 64];
    for v in views {
        assert_eq!(v.len(), len);
        for (p, w) in v.iter().enumerate() {
            for b in 0..64 {
                c[p * 64 + b] += ((w >> b) & 1) as u32;
            }
        }
    }
    c
}

/// Chi-square of the counts against a fair coin, and its degrees of freedom.
fn uniformity(c: &[u32], trials: usize) -> (f64, f64) {
    let t = trials as f64;
    let z = c
        .iter()
        .map(|k| (*k as f64 - t / 2.0).powi(2) / (t / 4.0))
        .sum();
    (z, c.len() as f64)
}

/// Two-sample chi-square of two count vectors over the same number of trials.
fn two_sample(a: &[u32], b: &[u32], trials: usize) -> (f64, f64) {
    let t = trials as f64;
    let z = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2) / (t / 2.0))
        .sum();
    (z, a.len() as f64)
}

/// Within 6 standard deviations of a chi-square with d degrees of freedom.
fn plausible((z, d): (f64, f64)) -> bool {
    (z - d).abs() < 6.0 * (2.0 * d).sqrt()
}

#[test]
fn the_view_of_p2_is_independent_of_the_secret_input() {
    const TRIALS: usize = 120;
    let zeros = vec![0i64; 64];
    let extreme: Vec<i64> = (0..64)
        .map(|i| {
            if i % 2 == 0 {
                (1 << 61) - 1
            } else {
                -(1 << 40) - i
            }
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(7);
    let mut va = Vec::new();
    let mut vb = Vec::new();
    let mut control_a = Vec::new();
    let mut control_b = Vec::new();
    for _ in 0..TRIALS {
        let (mut k1a, mut k1b) = ([0u8; 32], [0u8; 32]);
        rng.fill_bytes(&mut k1a);
        rng.fill_bytes(&mut k1b);
        va.push(view_of_p2(&zeros, k1a));
        vb.push(view_of_p2(&extreme, k1b));
        // control: the first message with the k_1 mask taken off (x_0 + F(k_1) = x - F(k_all))
        let unmask = |view: &Vec<u64>, k1: &[u8; 32]| -> Vec<u64> {
            let f = Prf::new(PrfKind::DEFAULT, k1).stream(1, 64);
            view[..64]
                .iter()
                .zip(f)
                .map(|(m, r)| m.wrapping_add(r))
                .collect()
        };
        control_a.push(unmask(va.last().unwrap(), &k1a));
        control_b.push(unmask(vb.last().unwrap(), &k1b));
    }
    // 64 (input) + 64 (multiplication) + 241 (comparison) words
    assert_eq!(va[0].len(), 64 + 64 + 241);
    let (ca, cb) = (bit_counts(&va), bit_counts(&vb));
    assert!(
        plausible(uniformity(&ca, TRIALS)),
        "view for x = 0 not balanced: {:?}",
        uniformity(&ca, TRIALS)
    );
    assert!(
        plausible(uniformity(&cb, TRIALS)),
        "view for extreme x not balanced: {:?}",
        uniformity(&cb, TRIALS)
    );
    assert!(
        plausible(two_sample(&ca, &cb, TRIALS)),
        "views differ: {:?}",
        two_sample(&ca, &cb, TRIALS)
    );
    // the test has teeth: a view without the k_1 mask betrays the input
    let (xa, xb) = (bit_counts(&control_a), bit_counts(&control_b));
    assert!(
        !plausible(uniformity(&xa, TRIALS)),
        "control should be flagged as unbalanced"
    );
    assert!(
        !plausible(two_sample(&xa, &xb, TRIALS)),
        "control should be flagged as input-dependent"
    );
}
