//! Privacy accounting: how much noise a release needs, and what privacy a given noise buys.
//!
//! Privacy is measured in rho-zero-concentrated DP (Bun and Steinke 2016), which composes by
//! addition (a researcher's budget is a sum of rhos), and shown as (epsilon, delta) through the
//! standard conversion epsilon = rho + 2 sqrt(rho ln(1/delta)).
//!
//! A release is a vector of integer aggregates. Coordinate i moves by at most `sensitivity[i]`
//! when one patient is added or removed (neighbouring datasets differ by one patient; each
//! statistic bounds a patient's contribution first). Either every coordinate may move at once
//! ([`Affects::All`]: count, sums, sums of squares) or only one ([`Affects::One`]: a histogram,
//! where a patient's one value falls in one bucket).
//!
//! Three independent discrete Gaussian draws of variance parameter `s_i` are added to
//! coordinate i, and the guarantee counts only the draws a party colluding with the researcher
//! does not know ([`Draws`]):
//! - [`Draws::Own`] (semi-honest): each party draws its own, so two draws count. By Kairouz,
//!   Liu and Steinke, "The Distributed Discrete Gaussian Mechanism for Federated Learning with
//!   Secure Aggregation" (ICML 2021, Theorem 1 with n = 2), the sum of two independent
//!   N_Z(0, s) added to a coordinate of sensitivity D satisfies (eps^2 / 2)-zCDP with
//!   eps^2 = min(D^2 / (2 s) + tau / 2, (D / sqrt(2 s) + tau)^2), tau = 10 exp(-pi^2 s), which
//!   the accounting includes (below 5.2e-4 for s >= 1, 7e-17 for s >= 4).
//! - [`Draws::Pairs`] (malicious): each share component's draw is made by the two parties that
//!   hold it, so a party knows two of the three and one counts. One N_Z(0, s) added to a
//!   coordinate of sensitivity D is exactly (D^2 / (2 s))-zCDP (Canonne, Kamath and Steinke,
//!   NeurIPS 2020, Theorem 4): twice the variance of [`Draws::Own`] for the same rho.
//!
//! Coordinates compose: rho = sum of the coordinates' rhos for [`Affects::All`], their
//! maximum for [`Affects::One`].
//!
//! Only the sizing of the noise uses floating point; the noise itself is drawn exactly
//! ([`super::sampler`]).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::sampler::MAX_SIGMA2;
use crate::Security;

/// Each party's variance parameter is at least this (the sampler's smallest; tau, the distance
/// of two parties' sum from a discrete Gaussian, is counted in [`coordinate_rho`]).
pub const MIN_PARTY_SIGMA2: u64 = 1;

/// Who draws the three noise terms of a coordinate, which decides how many of them count
/// toward the guarantee (module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Draws {
    /// Each party draws its own term from its own randomness: no party can check another's
    /// draw, so this is for semi-honest parties. A party colluding with the researcher knows
    /// its own draw; the other two count.
    Own,
    /// Each share component's term is drawn by its two holders alike, from the key they share
    /// for the session, and the two copies are compared: a party cannot shift a draw without
    /// its co-holder stopping the computation. A party knows the two components it holds; the
    /// third counts.
    Pairs,
}

impl Draws {
    /// Pairs where the parties check each other, own draws where they trust each other.
    pub fn for_security(security: Security) -> Draws {
        if security.checks() {
            Draws::Pairs
        } else {
            Draws::Own
        }
    }

    /// How many of the three draws count toward the guarantee.
    fn counted(self) -> u64 {
        match self {
            Draws::Own => 2,
            Draws::Pairs => 1,
        }
    }
}

/// How many coordinates of a release one patient can move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Affects {
    /// Every coordinate at once (count, sums, sums of squares and products).
    All,
    /// One coordinate (a histogram bucket).
    One,
}

/// Why no noise can be sized for a release.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum PlanError {
    /// rho is not a positive finite number.
    #[error("privacy parameter refused: rho must be positive and finite")]
    BadRho,
    /// A coordinate would need more noise than the sampler draws exactly.
    #[error(
        "privacy parameter refused: epsilon too small for the clipping range (the noise would exceed what the sampler draws exactly); widen epsilon or narrow the clipping bounds"
    )]
    TooMuchNoise,
    /// A release without coordinates, or with a zero sensitivity or weight.
    #[error("a release needs at least one coordinate, each with a positive sensitivity and weight")]
    Shape,
}

/// rho of rho-zCDP that implies (epsilon, delta)-DP: the largest rho with
/// rho + 2 sqrt(rho ln(1/delta)) <= epsilon.
pub fn rho_from_epsilon(epsilon: f64, delta: f64) -> f64 {
    let l = (1.0 / delta).ln();
    let root = (l + epsilon).sqrt() - l.sqrt();
    root * root
}

/// The epsilon at `delta` that rho-zCDP implies: rho + 2 sqrt(rho ln(1/delta)).
pub fn epsilon_from_rho(rho: f64, delta: f64) -> f64 {
    rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt()
}

/// tau of the module doc for two parties of variance parameter `s`.
fn tau(s: u64) -> f64 {
    10.0 * (-std::f64::consts::PI.powi(2) * s as f64).exp()
}

/// rho of one coordinate of sensitivity `d` under the counted draws of variance parameter `s`
/// each (module doc).
pub fn coordinate_rho(d: u64, s: u64, draws: Draws) -> f64 {
    let d = d as f64;
    match draws {
        Draws::Own => {
            let (t, two_s) = (tau(s), 2.0 * s as f64);
            let a = d * d / two_s + t / 2.0;
            let b = (d / two_s.sqrt() + t).powi(2);
            a.min(b) / 2.0
        }
        Draws::Pairs => d * d / (2.0 * s as f64),
    }
}

/// The rho a release with these `sensitivities` satisfies under per-draw variance parameters
/// `party_sigma2` (one per coordinate), counting only the draws `draws` says count.
pub fn release_rho(
    sensitivities: &[u64],
    affects: Affects,
    party_sigma2: &[u64],
    draws: Draws,
) -> f64 {
    let each = sensitivities
        .iter()
        .zip(party_sigma2)
        .map(|(d, s)| coordinate_rho(*d, *s, draws));
    match affects {
        Affects::All => each.sum(),
        Affects::One => each.fold(0.0, f64::max),
    }
}

/// Per-draw variance parameters, one per coordinate, such that the release satisfies
/// `rho`-zCDP on the draws that count ([`release_rho`] <= rho). For [`Affects::All`]
/// the budget is split over the coordinates in proportion to `weights` (a statistic gives more
/// to the aggregates its estimate depends on most); each parameter is the smallest integer that
/// meets its share, and at least [`MIN_PARTY_SIGMA2`].
pub fn plan(
    sensitivities: &[u64],
    weights: &[u32],
    affects: Affects,
    rho: f64,
    draws: Draws,
) -> Result<Vec<u64>, PlanError> {
    if !(rho.is_finite() && rho > 0.0) {
        return Err(PlanError::BadRho);
    }
    if sensitivities.is_empty()
        || sensitivities.contains(&0)
        || weights.len() != sensitivities.len()
        || weights.contains(&0)
    {
        return Err(PlanError::Shape);
    }
    let total: f64 = weights.iter().map(|w| f64::from(*w)).sum();
    sensitivities
        .iter()
        .zip(weights)
        .map(|(&d, &w)| {
            let target = match affects {
                Affects::All => rho * f64::from(w) / total,
                Affects::One => rho,
            };
            let d2 = d as f64 * d as f64;
            let first = (d2 / (2.0 * draws.counted() as f64 * target)).ceil();
            if !first.is_finite() || first > MAX_SIGMA2 as f64 {
                return Err(PlanError::TooMuchNoise);
            }
            let mut s = (first as u64).max(MIN_PARTY_SIGMA2);
            while coordinate_rho(d, s, draws) > target {
                s += 1 + s / 1_000_000;
            }
            if s > MAX_SIGMA2 {
                return Err(PlanError::TooMuchNoise);
            }
            Ok(s)
        })
        .collect()
}

/// Standard deviation of the noise the three parties add together to a coordinate whose
/// per-party variance parameter is `s` (a discrete Gaussian's variance is at most its
/// parameter, so this is an upper bound).
pub fn total_noise_sd(s: u64) -> f64 {
    (3.0 * s as f64).sqrt()
}

/// The tail every party's noise stays within: |z| <= [`NOISE_TAIL_SDS`] sqrt(s). A larger draw
/// has probability below exp(-NOISE_TAIL_SDS^2 / 2) = e^-2048 and is refused rather than
/// allowed to overflow an aggregate (see [`super::noise`]).
pub const NOISE_TAIL_SDS: u64 = 64;

/// The largest |noise| three parties add to a coordinate of parameter `s`: three tails.
pub fn noise_tail(s: u64) -> u64 {
    3 * NOISE_TAIL_SDS * (s as f64).sqrt().ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_and_rho_convert_both_ways() {
        for (eps, delta) in [(0.1, 1e-6), (1.0, 1e-6), (3.0, 1e-9), (10.0, 1e-5)] {
            let rho = rho_from_epsilon(eps, delta);
            assert!(rho > 0.0);
            assert!(
                (epsilon_from_rho(rho, delta) - eps).abs() < 1e-9,
                "{eps} {delta}"
            );
        }
        // Known value: rho = 0.5 at delta = 1e-6 is epsilon = 0.5 + 2 sqrt(0.5 ln 1e6).
        let e = epsilon_from_rho(0.5, 1e-6);
        assert!((e - (0.5 + 2.0 * (0.5f64 * 13.815510557964274).sqrt())).abs() < 1e-12);
    }

    const BOTH: [Draws; 2] = [Draws::Own, Draws::Pairs];

    #[test]
    fn a_coordinate_is_the_gaussian_mechanism_of_the_draws_that_count() {
        // Own draws: two parties of s each, variance 2s, so rho = d^2 / (2 * 2s) when tau is
        // negligible.
        assert!((coordinate_rho(1, 50, Draws::Own) - 1.0 / 200.0).abs() < 1e-15);
        assert!((coordinate_rho(10, 1000, Draws::Own) - 100.0 / 4000.0).abs() < 1e-15);
        // Pairs: one component of s, exactly d^2 / (2s).
        assert_eq!(coordinate_rho(1, 50, Draws::Pairs), 1.0 / 100.0);
        assert_eq!(coordinate_rho(10, 1000, Draws::Pairs), 100.0 / 2000.0);
    }

    #[test]
    fn pairs_need_twice_the_variance_of_own_draws() {
        for (d, rho) in [(1u64, 0.05), (600, 0.01), (180_000, 0.2)] {
            let own = plan(&[d], &[1], Affects::All, rho, Draws::Own).unwrap()[0];
            let pairs = plan(&[d], &[1], Affects::All, rho, Draws::Pairs).unwrap()[0];
            let ratio = pairs as f64 / own as f64;
            assert!(
                (1.9..=2.1).contains(&ratio) || own <= 2,
                "{d}: {own} {pairs}"
            );
        }
    }

    #[test]
    fn the_draws_follow_the_security() {
        assert_eq!(Draws::for_security(Security::Malicious), Draws::Pairs);
        assert_eq!(Draws::for_security(Security::SemiHonest), Draws::Own);
    }

    #[test]
    fn a_plan_meets_its_target_with_the_least_noise() {
        for &(ref d, ref w, affects, rho) in &[
            (
                vec![1u64, 600, 180_000],
                vec![2u32, 1, 2],
                Affects::All,
                0.05,
            ),
            (vec![1u64; 65], vec![1u32; 65], Affects::One, 0.01),
            (vec![1u64, 25], vec![1u32, 1], Affects::All, 2.0),
        ] {
            for draws in BOTH {
                let s = plan(d, w, affects, rho, draws).unwrap();
                assert!(release_rho(d, affects, &s, draws) <= rho);
                // One less on any coordinate would miss its share of the target.
                let total: u32 = w.iter().sum();
                for (i, si) in s.iter().enumerate() {
                    let share = match affects {
                        Affects::All => rho * f64::from(w[i]) / f64::from(total),
                        Affects::One => rho,
                    };
                    if *si > MIN_PARTY_SIGMA2 {
                        assert!(
                            coordinate_rho(d[i], si - 1, draws) > share,
                            "coordinate {i}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_histogram_pays_for_one_bucket_and_sums_for_all() {
        for draws in BOTH {
            let one = plan(&[1; 10], &[1; 10], Affects::One, 0.01, draws).unwrap();
            let all = plan(&[1; 10], &[1; 10], Affects::All, 0.01, draws).unwrap();
            assert!(all[0] >= 9 * one[0], "{all:?} {one:?}");
        }
    }

    #[test]
    fn impossible_plans_are_refused_by_name() {
        assert_eq!(
            plan(&[1], &[1], Affects::All, 0.0, Draws::Pairs),
            Err(PlanError::BadRho)
        );
        assert_eq!(
            plan(&[1], &[1], Affects::All, f64::NAN, Draws::Own),
            Err(PlanError::BadRho)
        );
        assert_eq!(
            plan(&[], &[], Affects::All, 1.0, Draws::Pairs),
            Err(PlanError::Shape)
        );
        assert_eq!(
            plan(&[0], &[1], Affects::All, 1.0, Draws::Pairs),
            Err(PlanError::Shape)
        );
        assert_eq!(
            plan(&[1], &[0], Affects::All, 1.0, Draws::Pairs),
            Err(PlanError::Shape)
        );
        assert_eq!(
            plan(&[1, 2], &[1], Affects::All, 1.0, Draws::Pairs),
            Err(PlanError::Shape)
        );
        assert_eq!(
            plan(&[u64::MAX / 4], &[1], Affects::All, 1e-6, Draws::Own),
            Err(PlanError::TooMuchNoise)
        );
    }

    proptest::proptest! {
        /// Whatever the sensitivities, weights and target, a plan that succeeds meets its rho
        /// on the draws that count, and every parameter is within the sampler's range.
        #[test]
        fn every_plan_meets_its_target(
            d in proptest::collection::vec(1u64..=1 << 36, 1..8),
            w in proptest::collection::vec(1u32..=5, 8),
            one in proptest::bool::ANY,
            pairs in proptest::bool::ANY,
            rho in 1e-4f64..10.0,
        ) {
            let affects = if one { Affects::One } else { Affects::All };
            let draws = if pairs { Draws::Pairs } else { Draws::Own };
            let w = &w[..d.len()];
            match plan(&d, w, affects, rho, draws) {
                Ok(s) => {
                    proptest::prop_assert!(release_rho(&d, affects, &s, draws) <= rho);
                    proptest::prop_assert!(
                        s.iter().all(|s| (MIN_PARTY_SIGMA2..=MAX_SIGMA2).contains(s))
                    );
                }
                Err(e) => proptest::prop_assert_eq!(e, PlanError::TooMuchNoise),
            }
        }
    }

    #[test]
    fn the_tail_covers_three_parties() {
        assert_eq!(noise_tail(4), 3 * 64 * 2);
        assert!(noise_tail(1 << 40) >= 3 * 64 * (1 << 20));
    }
}
