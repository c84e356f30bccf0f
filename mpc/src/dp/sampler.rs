//! Exact integer samplers for differential privacy: Bernoulli(num/den), Bernoulli(exp(-num/den)),
//! the discrete Laplace and the discrete Gaussian, after Canonne, Kamath and Steinke, "The
//! Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithms 1-3.
//!
//! Why exact: a floating-point sampler (inverse CDF, Box-Muller then rounding) has a
//! distribution that differs from the one the privacy proof is about, and the differences sit in
//! the low-order bits and the tails where an attacker looks (Mironov, CCS 2012). Here every
//! probability is a ratio of integers and every decision compares a uniform integer with a
//! numerator, in `u128` arithmetic; no floating point is used anywhere in the sampling path.
//! Uniform integers are drawn by masked rejection sampling from the generator's 64-bit words,
//! which is exactly uniform (rand's `random_range` on `u128` is documented as slightly biased
//! unless its `unbiased` feature is on, so it is not used).
//!
//! Exactness and the integer bounds relied on:
//! - [`bernoulli_ratio`] and [`bernoulli_exp`] are exact for every `u128` input in their
//!   domain. Where the von Neumann loop of [`bernoulli_exp`] would need `den * K` and that
//!   overflows, Bernoulli(num / (den K)) is drawn as Bernoulli(num/den) AND Bernoulli(1/K),
//!   two independent draws with the same product probability, so no bound on `den` is assumed.
//! - [`discrete_laplace`] returns an `i64`, so it samples the discrete Laplace conditioned on
//!   |x| <= `i64::MAX` (by restarting Algorithm 2 whenever the magnitude would exceed it), which
//!   is exact for that conditional law. For the scales used by [`discrete_gaussian`]
//!   (t <= 2^30 + 1) the removed mass is below exp(-2^32).
//! - [`discrete_gaussian`] requires 1 <= sigma2 <= [`MAX_SIGMA2`] = 2^60 (the sums of squares of
//!   a private variance need large noise in fixed-point units). Then t = isqrt(sigma2) + 1 <=
//!   2^30 + 1, the acceptance denominator 2 sigma2 t^2 < 2^122, and the acceptance base
//!   a = | |Y| t - sigma2 | < 2^63 * (2^30 + 1) < 2^94 all fit in `u128`, as does den + a. The
//!   numerator a^2 fits whenever a < 2^64, i.e. unless |Y| >= about 2^64 / t. Otherwise
//!   exp(-a^2/den) is drawn exactly as a product of factors exp(-a b / den) whose numerators
//!   fit (the private `bernoulli_exp_square`). So the output is the discrete Gaussian
//!   conditioned on |x| <= `i64::MAX` (a conditioning that removes less than exp(-2^85) of the
//!   mass), with no further approximation.
//!
//! Running time is random but has small expectation: each loop below stops with probability at
//! least a constant per iteration (see the paper's running-time analysis).

use rand::Rng;

/// Largest variance parameter [`discrete_gaussian`] accepts: 2^60 (standard deviation 2^30).
///
/// The bound keeps every intermediate of the acceptance test in `u128` (see the module doc):
/// the Laplace scale t <= 2^30 + 1 and the denominator 2 sigma2 t^2 < 2^122.
pub const MAX_SIGMA2: u64 = 1 << 60;

/// Largest magnitude an `i64` sample may have, so that its negation is also an `i64`.
const LIMIT: u128 = i64::MAX as u128;

/// A uniform integer in [0, n), n > 0, exactly: draws `bits(n - 1)` random bits (one or two
/// 64-bit words) and rejects values >= n, so each attempt succeeds with probability > 1/2.
fn uniform_below<R: Rng + ?Sized>(n: u128, rng: &mut R) -> u128 {
    debug_assert!(n > 0);
    if n == 1 {
        return 0;
    }
    let bits = 128 - (n - 1).leading_zeros();
    let mask = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    loop {
        let word = if bits <= 64 {
            u128::from(rng.next_u64())
        } else {
            (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
        };
        let x = word & mask;
        if x < n {
            return x;
        }
    }
}

/// Returns true with probability exactly `num / den`.
///
/// Draws a uniform integer U in [0, den) by rejection sampling on random bits and returns
/// U < num. The degenerate cases num = 0 (always false) and num = den (always true) use no
/// randomness. This is the only source of randomness of the other samplers here, which is why
/// it must be exact rather than approximately uniform.
///
/// # Panics
/// If `den == 0` or `num > den`.
pub fn bernoulli_ratio<R: Rng + ?Sized>(num: u128, den: u128, rng: &mut R) -> bool {
    assert!(den > 0, "bernoulli_ratio: den must be positive");
    assert!(num <= den, "bernoulli_ratio: num must be at most den");
    if num == 0 {
        return false;
    }
    if num == den {
        return true;
    }
    uniform_below(den, rng) < num
}

/// Returns true with probability exactly exp(-num/den), for any `num` >= 0 and `den` > 0.
///
/// Write gamma = num/den = q + r/den with q = floor(gamma). The result is the AND of q
/// independent Bernoulli(exp(-1)) draws (stopping at the first false) and one
/// Bernoulli(exp(-r/den)) draw, since exp(-gamma) = exp(-1)^q exp(-r/den). Each draw with
/// exponent in [0, 1] uses von Neumann's method (Algorithm 1 of Canonne, Kamath and Steinke):
/// draw Bernoulli(gamma/K) for K = 1, 2, ... until one is false, and return true iff that K is
/// odd (P(loop passes K) = gamma^K / K!, so P(K odd) = sum (-gamma)^j / j! = exp(-gamma)).
/// No exponential is ever evaluated, so the probability is exact.
///
/// Overflow: Bernoulli(gamma/K) is Bernoulli(r / (den K)); if `den * K` overflows `u128` it is
/// drawn instead as Bernoulli(r/den) AND Bernoulli(1/K), independent, whose product is the same
/// probability. So no bound on `den` is needed. (K itself exceeds k with probability
/// gamma^k / k!, so it never comes near `u128::MAX`.) The expected number of uniform draws is
/// below e / (1 - exp(-1)) + e < 8 whatever q is: the exp(-1) factors stop at the first false
/// (fewer than 1.6 of them on average) and each takes at most e draws on average.
///
/// # Panics
/// If `den == 0`.
pub fn bernoulli_exp<R: Rng + ?Sized>(num: u128, den: u128, rng: &mut R) -> bool {
    assert!(den > 0, "bernoulli_exp: den must be positive");
    let q = num / den;
    let r = num % den;
    for _ in 0..q {
        if !bernoulli_exp_unit(1, 1, rng) {
            return false;
        }
    }
    bernoulli_exp_unit(r, den, rng)
}

/// Bernoulli(exp(-num/den)) for num <= den by von Neumann's method (see [`bernoulli_exp`]).
fn bernoulli_exp_unit<R: Rng + ?Sized>(num: u128, den: u128, rng: &mut R) -> bool {
    debug_assert!(num <= den && den > 0);
    let mut k: u128 = 1;
    loop {
        let a = match den.checked_mul(k) {
            Some(dk) => bernoulli_ratio(num, dk, rng),
            // P = (num/den) * (1/k), as two independent exact draws.
            None => bernoulli_ratio(num, den, rng) && bernoulli_ratio(1, k, rng),
        };
        if !a {
            return k % 2 == 1;
        }
        k += 1;
    }
}

/// Bernoulli(exp(-a^2/den)) exactly, for den > 0 and `den + a` <= `u128::MAX`.
///
/// When a^2 fits in `u128` this is [`bernoulli_exp`]`(a^2, den)`. Otherwise (a >= 2^64) it
/// factors a = b c + e with b = ceil(den / a), so a^2 = c (a b) + a e and
/// exp(-a^2/den) = exp(-a b/den)^c exp(-a e/den), with a b < den + a and a e < a b fitting in
/// `u128`. Since a b >= den, each of the c factors is true with probability at most exp(-1),
/// so the loop stops after fewer than 1.6 factors on average.
fn bernoulli_exp_square<R: Rng + ?Sized>(a: u128, den: u128, rng: &mut R) -> bool {
    match a.checked_mul(a) {
        Some(sq) => bernoulli_exp(sq, den, rng),
        None => bernoulli_exp_square_split(a, den.div_ceil(a).max(1), den, rng),
    }
}

/// exp(-a^2/den) as exp(-a b/den)^(a / b) exp(-a (a % b)/den), for 1 <= b with a b in `u128`.
fn bernoulli_exp_square_split<R: Rng + ?Sized>(a: u128, b: u128, den: u128, rng: &mut R) -> bool {
    debug_assert!(b >= 1);
    let ab = a
        .checked_mul(b)
        .expect("bernoulli_exp_square: a * ceil(den / a) must fit in u128");
    let c = a / b;
    let e = a % b;
    for _ in 0..c {
        if !bernoulli_exp(ab, den, rng) {
            return false;
        }
    }
    // a e < a b, so it fits.
    bernoulli_exp(a * e, den, rng)
}

/// A sample of the discrete Laplace distribution of scale `t`: P(x) proportional to
/// exp(-|x|/t) over the integers, conditioned on |x| <= `i64::MAX` (so that it fits an `i64`).
///
/// Algorithm 2 of Canonne, Kamath and Steinke with s = 1: draw U uniform in [0, t) and keep it
/// with probability exp(-U/t); count V, the number of Bernoulli(exp(-1)) successes before the
/// first failure; X = U + t V is then geometric, P(X = x) proportional to exp(-x/t). A fair
/// sign bit B gives (-1)^B X, rejecting the negative zero so that 0 is not counted twice. Any
/// rejection restarts from scratch. A magnitude X above `i64::MAX` also restarts, which
/// conditions the output on |x| <= `i64::MAX` exactly; the removed mass is about
/// exp(-2^63 / t), below exp(-2^32) for t <= 2^31.
///
/// # Panics
/// If `t == 0`.
pub fn discrete_laplace<R: Rng + ?Sized>(t: u64, rng: &mut R) -> i64 {
    assert!(t >= 1, "discrete_laplace: scale t must be at least 1");
    let t = u128::from(t);
    'restart: loop {
        let u = uniform_below(t, rng);
        if !bernoulli_exp(u, t, rng) {
            continue;
        }
        // X = U + t V, accumulated as V grows; past LIMIT the final X would be too, so the
        // restart can happen as soon as it is crossed.
        let mut x = u;
        if x > LIMIT {
            continue;
        }
        while bernoulli_exp(1, 1, rng) {
            x += t;
            if x > LIMIT {
                continue 'restart;
            }
        }
        let magnitude = i64::try_from(x).expect("x <= i64::MAX");
        let negative = rng.next_u64() & 1 == 1;
        if negative && magnitude == 0 {
            continue;
        }
        return if negative { -magnitude } else { magnitude };
    }
}

/// A sample of the discrete Gaussian N_Z(0, sigma2): P(x) proportional to
/// exp(-x^2 / (2 sigma2)) over the integers (conditioned on |x| <= `i64::MAX`, which removes
/// less than exp(-2^85) of the mass), for an integer variance parameter sigma2.
///
/// Algorithm 3 of Canonne, Kamath and Steinke: with t = floor(sqrt(sigma2)) + 1 (an exact
/// integer square root), draw Y from the discrete Laplace of scale t and accept it with
/// probability exp(-(|Y| - sigma2/t)^2 / (2 sigma2)), otherwise draw again. As a ratio of
/// integers that exponent is (|Y| t - sigma2)^2 / (2 sigma2 t^2), computed exactly in `u128`
/// (bounds in the module doc). The expected number of Laplace draws is a small constant.
///
/// # Panics
/// If `sigma2 == 0` or `sigma2 > MAX_SIGMA2`.
pub fn discrete_gaussian<R: Rng + ?Sized>(sigma2: u64, rng: &mut R) -> i64 {
    assert!(
        (1..=MAX_SIGMA2).contains(&sigma2),
        "discrete_gaussian: sigma2 must be in [1, MAX_SIGMA2 = 2^60]"
    );
    let t = sigma2.isqrt() + 1;
    let s2 = u128::from(sigma2);
    let t128 = u128::from(t);
    // 2 * 2^60 * (2^30 + 1)^2 < 2^122.
    let den = 2 * s2 * t128 * t128;
    loop {
        let y = discrete_laplace(t, rng);
        // |Y| <= 2^63 - 1 and t <= 2^30 + 1, so |Y| t < 2^94.
        let a = (u128::from(y.unsigned_abs()) * t128).abs_diff(s2);
        if bernoulli_exp_square(a, den, rng) {
            return y;
        }
    }
}

/// `n` independent samples of [`discrete_gaussian`]`(sigma2)`, e.g. the noise for each
/// coordinate of a released vector.
///
/// # Panics
/// If `sigma2 == 0` or `sigma2 > MAX_SIGMA2` (checked even when `n == 0`).
pub fn discrete_gaussian_vec<R: Rng + ?Sized>(sigma2: u64, n: usize, rng: &mut R) -> Vec<i64> {
    assert!(
        (1..=MAX_SIGMA2).contains(&sigma2),
        "discrete_gaussian_vec: sigma2 must be in [1, MAX_SIGMA2 = 2^60]"
    );
    (0..n).map(|_| discrete_gaussian(sigma2, rng)).collect()
}

#[cfg(test)]
mod tests {
    //! Statistical tests with a fixed seed (deterministic): chi-square goodness of fit against
    //! the exact probability mass functions (evaluated in f64, test side only), moments, and
    //! frequency tests at about 5 standard errors.

    use super::*;

    /// The mean and the sample variance of `samples`.
    fn mean_and_sample_variance(samples: &[i64]) -> (f64, f64) {
        let n = samples.len() as f64;
        let mean = samples.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = samples
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        (mean, var)
    }
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const N: usize = 1_000_000;

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    /// Upper 0.999 quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty).
    fn chi2_quantile_999(df: usize) -> f64 {
        let k = df as f64;
        let z = 3.090_232_306_167_813; // standard normal 0.999 quantile
        let h = 2.0 / (9.0 * k);
        k * (1.0 - h + z * h.sqrt()).powi(3)
    }

    /// Pearson chi-square of observed counts against probabilities (summing to ~1), pooling
    /// adjacent bins until each expected count is at least 5. Returns (statistic, df).
    fn chi_square(observed: &[u64], probs: &[f64]) -> (f64, usize) {
        assert_eq!(observed.len(), probs.len());
        let n: u64 = observed.iter().sum();
        let n = n as f64;
        let mut pooled: Vec<(f64, f64)> = Vec::new();
        let (mut o, mut e) = (0.0, 0.0);
        for (&ob, &p) in observed.iter().zip(probs) {
            o += ob as f64;
            e += p * n;
            if e >= 5.0 {
                pooled.push((o, e));
                o = 0.0;
                e = 0.0;
            }
        }
        if o > 0.0 || e > 0.0 {
            let last = pooled
                .last_mut()
                .expect("at least one bin with expectation >= 5");
            last.0 += o;
            last.1 += e;
        }
        let stat = pooled.iter().map(|(o, e)| (o - e) * (o - e) / e).sum();
        (stat, pooled.len() - 1)
    }

    /// Bins of width `w` covering [-l, l] (l a multiple of w, roughly), the two end bins
    /// absorbing the tails.
    fn bin_of(x: i64, l: i64, w: i64) -> usize {
        let c = x.clamp(-l, l);
        usize::try_from((c + l) / w).expect("non-negative")
    }

    /// Chi-square test of `samples` against the pmf proportional to `weight` over [-m, m].
    fn check_fit(
        name: &str,
        samples: &[i64],
        weight: impl Fn(i64) -> f64,
        m: i64,
        l: i64,
        w: i64,
    ) -> (f64, f64) {
        let nbins = bin_of(l, l, w) + 1;
        let mut probs = vec![0.0f64; nbins];
        let mut total = 0.0;
        for x in -m..=m {
            let p = weight(x);
            probs[bin_of(x, l, w)] += p;
            total += p;
        }
        for p in &mut probs {
            *p /= total;
        }
        let mut observed = vec![0u64; nbins];
        for &x in samples {
            observed[bin_of(x, l, w)] += 1;
        }
        let (stat, df) = chi_square(&observed, &probs);
        let thr = chi2_quantile_999(df);
        println!("{name}: chi-square {stat:.2} on {df} df, 0.999 threshold {thr:.2}");
        assert!(stat < thr, "{name}: chi-square {stat} >= {thr} (df {df})");
        (stat, thr)
    }

    /// Mean and variance of `samples` against the pmf's, within 5 standard errors.
    fn check_moments(name: &str, samples: &[i64], weight: impl Fn(i64) -> f64, m: i64) {
        let (mut z, mut m2, mut m4) = (0.0, 0.0, 0.0);
        for x in -m..=m {
            let p = weight(x);
            let xf = x as f64;
            z += p;
            m2 += p * xf * xf;
            m4 += p * xf * xf * xf * xf;
        }
        let var = m2 / z;
        let mu4 = m4 / z;
        let n = samples.len() as f64;
        let (mean, svar) = mean_and_sample_variance(samples);
        let mean_tol = 5.0 * (var / n).sqrt();
        let var_tol = 5.0 * ((mu4 - var * var) / n).sqrt();
        println!("{name}: mean {mean:.4} (tol {mean_tol:.4})");
        println!("{name}: variance {svar:.4} vs {var:.4} (tol {var_tol:.4})");
        assert!(mean.abs() < mean_tol, "{name}: mean {mean}");
        assert!(
            (svar - var).abs() < var_tol,
            "{name}: variance {svar} vs {var}"
        );
    }

    fn assert_frequency(name: &str, count: usize, n: usize, p: f64) {
        let nf = n as f64;
        let expected = nf * p;
        let se = (nf * p * (1.0 - p)).sqrt();
        println!("{name}: {count} of {n}, expected {expected:.1} +- {se:.1}");
        assert!(
            (count as f64 - expected).abs() <= 5.0 * se + 1e-9,
            "{name}: {count} vs expected {expected} (se {se})"
        );
    }

    fn gaussian_case(seed: u64, sigma2: u64, l: i64, w: i64) {
        let mut r = rng(seed);
        let samples = discrete_gaussian_vec(sigma2, N, &mut r);
        let s2 = sigma2 as f64;
        let weight = |x: i64| (-((x as f64).powi(2)) / (2.0 * s2)).exp();
        let m = 40 * (s2.sqrt() as i64) + 50;
        check_fit(
            &format!("gaussian sigma2={sigma2}"),
            &samples,
            weight,
            m,
            l,
            w,
        );
        check_moments(&format!("gaussian sigma2={sigma2}"), &samples, weight, m);
    }

    #[test]
    fn discrete_gaussian_sigma2_1() {
        gaussian_case(1, 1, 12, 1);
    }

    #[test]
    fn discrete_gaussian_sigma2_50() {
        gaussian_case(2, 50, 60, 1);
    }

    #[test]
    fn discrete_gaussian_sigma2_1e6_binned() {
        gaussian_case(3, 1_000_000, 6_000, 50);
    }

    #[test]
    fn discrete_gaussian_max_sigma2_moments() {
        // The largest variance: 10^5 samples, moments only (bins would be 2^30 wide anyway).
        let mut r = rng(4);
        let samples = discrete_gaussian_vec(MAX_SIGMA2, 100_000, &mut r);
        let var = MAX_SIGMA2 as f64; // the discrete and continuous variances agree here
        let n = samples.len() as f64;
        let (mean, svar) = mean_and_sample_variance(&samples);
        let mean_tol = 5.0 * (var / n).sqrt();
        let var_tol = 5.0 * var * (2.0 / n).sqrt();
        println!("gaussian sigma2=2^60: mean {mean:.1} (tol {mean_tol:.1}), var {svar:.4e}");
        assert!(mean.abs() < mean_tol);
        assert!((svar - var).abs() < var_tol);
    }

    #[test]
    fn discrete_laplace_t1_and_t7() {
        for (seed, t, l) in [(5u64, 1u64, 30i64), (6, 7, 150)] {
            let mut r = rng(seed);
            let samples: Vec<i64> = (0..N).map(|_| discrete_laplace(t, &mut r)).collect();
            let tf = t as f64;
            let weight = |x: i64| (-(x.unsigned_abs() as f64) / tf).exp();
            let m = 80 * t as i64 + 50;
            check_fit(&format!("laplace t={t}"), &samples, weight, m, l, 1);
            check_moments(&format!("laplace t={t}"), &samples, weight, m);
        }
    }

    #[test]
    fn discrete_laplace_huge_scale_stays_in_range() {
        // t = u64::MAX: most magnitudes exceed i64::MAX and restart; the rest must be valid.
        let mut r = rng(7);
        let samples: Vec<i64> = (0..2_000)
            .map(|_| discrete_laplace(u64::MAX, &mut r))
            .collect();
        assert!(samples.iter().all(|&x| x != i64::MIN));
        let negatives = samples.iter().filter(|&&x| x < 0).count();
        assert_frequency("laplace t=u64::MAX negative", negatives, samples.len(), 0.5);
    }

    #[test]
    fn bernoulli_exp_frequencies() {
        let mut r = rng(8);
        let cases: [(u128, u128, f64); 5] = [
            (1, 3, (-1.0f64 / 3.0).exp()),
            (5, 2, (-2.5f64).exp()),
            (10, 1, (-10.0f64).exp()),
            // den * K overflows from K = 2 on: exercises the split Bernoulli(num/den)(1/K).
            (u128::MAX / 3, u128::MAX, (-1.0f64 / 3.0).exp()),
            // gamma > 1 with a huge denominator.
            // (den + den/2) / den with den = 2^127 - 1: den * 2 fits, den * 3 overflows.
            (
                u128::MAX / 2 + u128::MAX / 4,
                u128::MAX / 2,
                (-1.5f64).exp(),
            ),
        ];
        for (num, den, p) in cases {
            let count = (0..N).filter(|_| bernoulli_exp(num, den, &mut r)).count();
            assert_frequency(&format!("bernoulli_exp({num}/{den})"), count, N, p);
        }
        let count = (0..N).filter(|_| bernoulli_exp(1000, 1, &mut r)).count();
        assert_eq!(count, 0, "exp(-1000)");
    }

    #[test]
    fn bernoulli_exp_square_split_matches() {
        let mut r = rng(9);
        // a = 5, b = 2: exp(-10/40)^2 exp(-5/40) = exp(-25/40).
        let count = (0..N)
            .filter(|_| bernoulli_exp_square_split(5, 2, 40, &mut r))
            .count();
        assert_frequency("exp(-5^2/40) split b=2", count, N, (-25.0f64 / 40.0).exp());
        // a = 7, b = 3: c = 2, e = 1.
        let count = (0..N)
            .filter(|_| bernoulli_exp_square_split(7, 3, 30, &mut r))
            .count();
        assert_frequency("exp(-7^2/30) split b=3", count, N, (-49.0f64 / 30.0).exp());
        // The overflow path itself (a >= 2^64) terminates and is (essentially) always false.
        let a = (1u128 << 64) + 12_345;
        assert!((0..1_000).all(|_| !bernoulli_exp_square(a, 1 << 82, &mut r)));
    }

    #[test]
    fn bernoulli_ratio_frequencies() {
        let mut r = rng(10);
        let cases: [(u128, u128, f64); 4] = [
            (1, 3, 1.0 / 3.0),
            (7, 10, 0.7),
            ((1 << 100) + 12_345, 1 << 101, 0.5),
            (u128::MAX / 3, u128::MAX, 1.0 / 3.0),
        ];
        for (num, den, p) in cases {
            let count = (0..N).filter(|_| bernoulli_ratio(num, den, &mut r)).count();
            assert_frequency(&format!("bernoulli_ratio({num}/{den})"), count, N, p);
        }
    }

    #[test]
    fn uniform_below_is_uniform_and_in_range() {
        let mut r = rng(11);
        let mut observed = [0u64; 6];
        for _ in 0..N {
            observed[uniform_below(6, &mut r) as usize] += 1;
        }
        let (stat, df) = chi_square(&observed, &[1.0 / 6.0; 6]);
        let thr = chi2_quantile_999(df);
        println!("uniform_below(6): chi-square {stat:.2} on {df} df, threshold {thr:.2}");
        assert!(stat < thr);
        for n in [1u128 << 64, (1 << 64) + 1, u128::MAX, 3] {
            assert!((0..1_000).all(|_| uniform_below(n, &mut r) < n));
        }
    }

    #[test]
    fn exact_edge_cases() {
        let mut r = rng(12);
        for d in [1u128, 2, 3, 1 << 64, u128::MAX] {
            for _ in 0..1_000 {
                assert!(bernoulli_exp(0, d, &mut r));
                assert!(!bernoulli_ratio(0, d, &mut r));
                assert!(bernoulli_ratio(d, d, &mut r));
            }
        }
        assert_eq!(discrete_gaussian_vec(4, 0, &mut r), Vec::<i64>::new());
        assert_eq!(discrete_gaussian_vec(4, 17, &mut r).len(), 17);
    }

    #[test]
    #[should_panic(expected = "sigma2")]
    fn gaussian_rejects_zero_variance() {
        discrete_gaussian(0, &mut rng(13));
    }

    #[test]
    #[should_panic(expected = "sigma2")]
    fn gaussian_rejects_too_large_variance() {
        discrete_gaussian(MAX_SIGMA2 + 1, &mut rng(14));
    }

    #[test]
    #[should_panic(expected = "num must be at most den")]
    fn ratio_rejects_probability_above_one() {
        bernoulli_ratio(2, 1, &mut rng(15));
    }

    #[test]
    #[should_panic(expected = "den must be positive")]
    fn exp_rejects_zero_denominator() {
        bernoulli_exp(1, 0, &mut rng(16));
    }
}
