//! Private releases against plaintext: the noise has the spread the plan predicts and is added
//! to every aggregate, clipping is exact, the histogram hides a bucket of one patient, the
//! median is a grid point and never a patient's value, the differencing attack that extracts
//! one patient's value from exact sums fails, and the accuracy on a cohort of 2,000 patients.

use super::estimate::Estimate;
use super::private::{Clip, PrivateInput, Release, private_release};
use super::*;
use crate::Security;
use crate::dp::accounting::{Draws, rho_from_epsilon, total_noise_sd};
use crate::protocols::testing::share;
use crate::run_three;

/// A catalog-like bound for systolic BP at precision 1 (mmHg x 10).
const B: u64 = 3000;

/// Runs `release` on `values` (one per patient) `runs` times in one session, planned for
/// `epsilon` at delta 1e-6, and returns each run's estimates (as the recipient finishes them).
/// The runs are semi-honest: these tests measure the noise over hundreds of releases, and the
/// checks of malicious mode are tested on their own (`protocols::deviation_tests`) and on the
/// private path by the gateway's tests.
fn released(
    values: &[i64],
    pairs: Option<&[i64]>,
    release: &Release,
    epsilon: f64,
    runs: usize,
) -> Vec<Vec<Estimate>> {
    released_in(Security::SemiHonest, values, pairs, release, epsilon, runs)
}

/// [`released`] with the parties defending against `security` (and drawing their noise as it
/// says).
fn released_in(
    security: Security,
    values: &[i64],
    pairs: Option<&[i64]>,
    release: &Release,
    epsilon: f64,
    runs: usize,
) -> Vec<Vec<Estimate>> {
    let rho = rho_from_epsilon(epsilon, 1e-6);
    let sigma2 = release.plan(rho, Draws::for_security(security)).unwrap();
    let out = run_three(|p| {
        p.set_security(security);
        let x = share(p, values);
        let y = pairs.map(|v| share(p, v));
        let input = PrivateInput {
            columns: std::iter::once(&x).chain(y.as_ref()).collect(),
            bounds: vec![ValueBound::new(B); 2],
            clip_needed: vec![true, true],
        };
        (0..runs)
            .map(|_| {
                let agg = private_release(p, &input, release, &sigma2, &mut rand::rng()).unwrap();
                assert_eq!(agg.n, 0, "the exact count never leaves");
                agg.reveal(p).unwrap()
            })
            .collect::<Vec<_>>()
    });
    out[0]
        .iter()
        .map(|v| match v {
            StatValue::Private { estimates } => estimates.clone(),
            other => panic!("not private: {other:?}"),
        })
        .collect()
}

fn value(e: &[Estimate], name: &str) -> f64 {
    e.iter().find(|e| e.name == name).unwrap().value
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    )
}

/// Deterministic, roughly normal cohort: mean `mu`, spread about `sd` (fixed point).
fn cohort(n: usize, mu: i64, sd: i64, seed: u64) -> Vec<i64> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            // Irwin-Hall of 12 uniforms: mean 6, variance 1.
            let z: f64 = (0..12).map(|_| next()).sum::<f64>() - 6.0;
            mu + (z * sd as f64).round() as i64
        })
        .collect()
}

#[test]
fn clipping_counts_out_of_range_values_at_the_bounds() {
    // Few values, a generous epsilon: the sum's noise is small against the clipping effect.
    let values = [100i64, 500, 900, -3000, 3000];
    let clip = Clip::new(400, 1000).unwrap();
    let runs = released(&values, None, &Release::Sum { clip }, 4.0, 60);
    let sums: Vec<f64> = runs.iter().map(|e| value(e, "sum")).collect();
    let (m, _) = mean_sd(&sums);
    // Clipped: 400 + 500 + 900 + 400 + 1000 = 3200 (unclipped: 1500).
    let sd = runs[0][0].noise_sd;
    assert!(
        (m - 3200.0).abs() < 5.0 * sd / (sums.len() as f64).sqrt() + 1.0,
        "{m} sd {sd}"
    );
}

#[test]
fn noise_has_the_planned_spread_and_reaches_every_aggregate() {
    let values = cohort(50, 1250, 150, 1);
    let clip = Clip::new(800, 2000).unwrap();
    let release = Release::Variance { clip };
    let sigma2 = release
        .plan(rho_from_epsilon(1.0, 1e-6), Draws::Own)
        .unwrap();
    let runs = released(&values, None, &release, 1.0, 200);
    let counts: Vec<f64> = runs.iter().map(|e| value(e, "count")).collect();
    let (m, sd) = mean_sd(&counts);
    let predicted = total_noise_sd(sigma2[0]);
    assert!(
        (sd / predicted - 1.0).abs() < 0.2,
        "count sd {sd} vs {predicted}"
    );
    assert!((m - 50.0).abs() < 5.0 * predicted / (counts.len() as f64).sqrt());
    // The mean and variance move too, run to run.
    for name in ["mean", "variance"] {
        let v: Vec<f64> = runs.iter().map(|e| value(e, name)).collect();
        assert!(mean_sd(&v).1 > 0.0, "{name} is noised");
    }
    // The reported interval covers the truth about 95% of the time.
    let exact_mean = values.iter().sum::<i64>() as f64 / 50.0;
    let covered = runs
        .iter()
        .filter(|e| {
            let m = e.iter().find(|x| x.name == "mean").unwrap();
            m.low <= exact_mean && exact_mean <= m.high
        })
        .count();
    assert!((175..=200).contains(&covered), "covered {covered} of 200");
}

#[test]
fn a_bucket_of_one_patient_is_not_revealed_exactly() {
    // One patient alone in the middle bucket.
    let mut values = cohort(40, 1000, 50, 2);
    values.retain(|v| *v < 1200);
    values.push(1500);
    let edges = vec![1200, 1800];
    let runs = released(&values, None, &Release::Histogram { edges }, 1.0, 300);
    let lonely: Vec<f64> = runs.iter().map(|e| value(e, "bucket 1")).collect();
    let exact_ones = lonely.iter().filter(|c| **c == 1.0).count();
    // The noisy count is 1 only sometimes; a zero-patient bucket looks alike.
    assert!(
        exact_ones < 120,
        "{exact_ones} of 300 runs showed exactly 1"
    );
    let (_, sd) = mean_sd(&lonely);
    assert!(sd > 0.5, "{sd}");
    // The other buckets are noised too.
    assert!(
        runs.windows(2)
            .any(|w| value(&w[0], "bucket 0") != value(&w[1], "bucket 0"))
    );
}

#[test]
fn a_private_median_is_a_grid_point_never_a_patients_value() {
    let values: Vec<i64> = cohort(400, 1203, 97, 3);
    let clip = Clip::new(800, 1600).unwrap();
    let release = Release::Quantile {
        permille: 500,
        clip,
        buckets: 32,
    };
    let grid = release.grid();
    let midpoints: Vec<f64> = grid
        .windows(2)
        .map(|w| (w[0] as f64 + w[1] as f64) / 2.0)
        .chain([clip.lo as f64, clip.hi as f64])
        .collect();
    let runs = released(&values, None, &release, 1.0, 100);
    let mut sorted = values.clone();
    sorted.sort_unstable();
    let exact = sorted[(sorted.len() - 1) / 2] as f64;
    let medians: Vec<f64> = runs.iter().map(|e| value(e, "median")).collect();
    for m in &medians {
        assert!(midpoints.contains(m), "{m} is not a grid point");
    }
    // Here the inner midpoints fall on half units (buckets 25 wide) and every value on a whole
    // unit, so no release may equal any patient's value (the exact median always would).
    for m in &medians {
        assert!(
            !values.iter().any(|v| *v as f64 == *m),
            "{m} is a patient's value"
        );
    }
    // Within a bucket or two of the exact median (bucket width 25).
    let (m, _) = mean_sd(&medians);
    assert!((m - exact).abs() < 40.0, "{m} vs {exact}");
}

/// A private max is a grid edge where the data end for more than a noise-level number of
/// patients: one patient far above everyone (the value an exact max would give away) does not
/// move it, and it sits near the top of the cohort. The min likewise at the bottom. An empty
/// bucket's noise clears the threshold in about one release in a thousand: one of the 40 here
/// may land elsewhere, not two.
#[test]
fn a_private_max_ignores_a_lone_outlier_and_sits_at_the_top_of_the_cohort() {
    let mut values: Vec<i64> = cohort(1000, 1200, 100, 31);
    let clip = Clip::new(0, 3200).unwrap();
    let extreme = |max| Release::Extreme {
        max,
        clip,
        buckets: 32,
    };
    let grid = extreme(true).grid();
    let bucket = 100.0;
    let mut sorted = values.clone();
    sorted.sort_unstable();
    let (bottom, top) = (sorted[0] as f64, sorted[sorted.len() - 1] as f64);
    let (p1, p99) = (sorted[10] as f64, sorted[989] as f64);
    values.push(3000);
    let mut elsewhere = Vec::new();
    for (max, name) in [(true, "max"), (false, "min")] {
        let runs = released(&values, None, &extreme(max), 1.0, 20);
        for e in &runs {
            let v = value(e, name);
            assert!(grid.contains(&(v as i64)), "{name} {v} is not a grid edge");
            // At most the cohort's own top (rounded up to its bucket's edge), at least about
            // its 99th percentile: never near the outlier at 3000. The min alike.
            let within = if max {
                v <= top + bucket && v >= p99 - bucket
            } else {
                v >= bottom - bucket && v <= p1 + bucket
            };
            if !within {
                elsewhere.push(format!("{name} {v}"));
            }
        }
    }
    assert!(
        elsewhere.len() <= 1,
        "{elsewhere:?}: the cohort spans {bottom}..{top}, 1% and 99% at {p1}, {p99}"
    );
}

/// The differencing attack: the sum over a cohort with and without one patient. Exact sums give
/// that patient's value; private ones give it only up to the noise of two releases, exactly as
/// the plan predicts.
#[test]
fn differencing_two_private_sums_has_the_predicted_error() {
    let others = cohort(30, 1250, 150, 4);
    let target = 1437i64;
    let mut with = others.clone();
    with.push(target);
    let clip = Clip::new(800, 2000).unwrap();
    let release = Release::Sum { clip };
    let sigma2 = release
        .plan(rho_from_epsilon(1.0, 1e-6), Draws::Own)
        .unwrap();
    let pairs = 200;
    let a = released(&with, None, &release, 1.0, pairs);
    let b = released(&others, None, &release, 1.0, pairs);
    let errors: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(a, b)| value(a, "sum") - value(b, "sum") - target as f64)
        .collect();
    // Each sum's estimate is c N + S: noise c z_N + z_S, for c the clip's centre.
    let c = clip.center() as f64;
    let per = (c * total_noise_sd(sigma2[0])).powi(2) + total_noise_sd(sigma2[1]).powi(2);
    let predicted = (2.0 * per).sqrt();
    let (m, sd) = mean_sd(&errors);
    // The sample sd of 200 normal errors has a relative standard error of 1/sqrt(398) = 5%:
    // 20% is four of them (a false failure about once in 16,000 runs; 15% failed once in CI).
    assert!((sd / predicted - 1.0).abs() < 0.2, "sd {sd} vs {predicted}");
    assert!(
        m.abs() < 4.0 * predicted / (pairs as f64).sqrt(),
        "bias {m}"
    );
    // The attacker's typical error is many times the value's own precision.
    assert!(predicted > 100.0, "{predicted}");
}

/// Accuracy on 2,000 patients (systolic BP, mean 125 mmHg, sd 15, clip 65..185 mmHg): the mean
/// relative error of mean and variance over repeated releases, at epsilon 1 (the default of
/// `hdg query`) and above, in both security modes. The mean is within 1% at epsilon 1; a
/// variance's sum of squares has sensitivity r^2 / 2 (r the clip's radius, here 4 sd), so its
/// error is r^2 / (n sqrt(rho)) times a constant: within 1% only from epsilon about 7 on (or
/// with a tighter clip) in semi-honest mode, and sqrt(2) more under malicious security, whose
/// noise counts one pair-drawn component instead of two own draws.
#[test]
fn accuracy_of_mean_and_variance_on_two_thousand_patients() {
    for security in Security::ALL {
        accuracy_on_two_thousand(security);
    }
}

fn accuracy_on_two_thousand(security: Security) {
    let values = cohort(2000, 1250, 150, 5);
    let n = values.len() as f64;
    let exact_mean = values.iter().sum::<i64>() as f64 / n;
    let exact_var = values
        .iter()
        .map(|v| (*v as f64 - exact_mean).powi(2))
        .sum::<f64>()
        / n;
    let clip = Clip::new(650, 1850).unwrap();
    let mut at = Vec::new();
    for epsilon in [1.0, 2.0, 4.0, 10.0] {
        let release = Release::Variance { clip };
        let runs = released_in(security, &values, None, &release, epsilon, 40);
        let rel = |name: &str, exact: f64| {
            let errs: Vec<f64> = runs
                .iter()
                .map(|e| (value(e, name) - exact).abs() / exact)
                .collect();
            errs.iter().sum::<f64>() / errs.len() as f64
        };
        let (mean_err, var_err) = (rel("mean", exact_mean), rel("variance", exact_var));
        println!(
            "{security}, n=2000 epsilon={epsilon}: mean relative error {mean_err:.5}, variance {var_err:.5}"
        );
        at.push((mean_err, var_err));
    }
    let at_10 = match security {
        Security::SemiHonest => 0.01,
        Security::Malicious => 0.015,
    };
    assert!(at[0].0 < 0.01, "{security}: mean at epsilon 1: {}", at[0].0);
    assert!(
        at[3].1 < at_10,
        "{security}: variance at epsilon 10: {}",
        at[3].1
    );
    // More epsilon, less error (each step at least doubles rho).
    assert!(at.windows(2).all(|w| w[1].1 < w[0].1), "{at:?}");
}

#[test]
fn a_private_pearson_recovers_a_strong_correlation() {
    let x = cohort(2000, 1250, 150, 6);
    let noise = cohort(2000, 0, 60, 7);
    let y: Vec<i64> = x.iter().zip(&noise).map(|(a, e)| a / 2 + e).collect();
    let release = Release::Pearson {
        x: Clip::new(800, 2000).unwrap(),
        y: Clip::new(300, 1100).unwrap(),
    };
    let runs = released(&x, Some(&y), &release, 4.0, 10);
    let exact = correlation(&x, &y);
    // Six noised sums at epsilon 4: r within a few hundredths per release.
    let rs: Vec<f64> = runs.iter().map(|e| value(e, "r")).collect();
    for r in &rs {
        assert!((r - exact).abs() < 0.15, "{r} vs {exact}");
    }
    let (m, _) = mean_sd(&rs);
    assert!((m - exact).abs() < 0.05, "{m} vs {exact}");
}

#[test]
fn a_private_covariance_recovers_the_sample_covariance() {
    let x = cohort(2000, 1250, 150, 13);
    let noise = cohort(2000, 0, 60, 14);
    let y: Vec<i64> = x.iter().zip(&noise).map(|(a, e)| a / 2 + e).collect();
    let (cx, cy) = (Clip::new(600, 1900).unwrap(), Clip::new(200, 1200).unwrap());
    assert!(x.iter().all(|v| (cx.lo..=cx.hi).contains(v)));
    assert!(y.iter().all(|v| (cy.lo..=cy.hi).contains(v)));
    let release = Release::Covariance { x: cx, y: cy };
    let runs = released(&x, Some(&y), &release, 4.0, 20);
    // The sample covariance in plaintext: about 150^2 / 2 = 11,250.
    let n = x.len() as f64;
    let (mx, my) = (
        x.iter().sum::<i64>() as f64 / n,
        y.iter().sum::<i64>() as f64 / n,
    );
    let exact: f64 = x
        .iter()
        .zip(&y)
        .map(|(a, b)| (*a as f64 - mx) * (*b as f64 - my))
        .sum::<f64>()
        / (n - 1.0);
    let covs: Vec<f64> = runs.iter().map(|e| value(e, "covariance")).collect();
    let estimate = runs[0].iter().find(|e| e.name == "covariance").unwrap();
    // In x's unit times y's.
    assert_eq!((estimate.unit_power, estimate.pair_power), (1, 1));
    let sd = estimate.noise_sd;
    // Each release within five noise sds, their mean within five sds of the mean.
    for c in &covs {
        assert!((c - exact).abs() < 5.0 * sd, "{c} vs {exact} (sd {sd})");
    }
    let (m, _) = mean_sd(&covs);
    assert!(
        (m - exact).abs() < 5.0 * sd / (covs.len() as f64).sqrt(),
        "{m} vs {exact}"
    );
    // At epsilon 4 over 2,000 patients the noise is a few percent of the covariance.
    assert!(sd < 0.05 * exact, "sd {sd} vs {exact}");
}

/// Two groups of x split by a paired y: each group's count, mean and variance, the difference of
/// the means and Welch's t, against plaintext. Patients with y > 1000 have x about 100 higher.
#[test]
fn a_private_two_group_comparison_recovers_each_groups_figures() {
    let y = cohort(2000, 1000, 200, 15);
    let base = cohort(2000, 1200, 120, 16);
    let x: Vec<i64> = base
        .iter()
        .zip(&y)
        .map(|(b, y)| if *y > 1000 { b + 100 } else { *b })
        .collect();
    let clip = Clip::new(700, 1900).unwrap();
    assert!(x.iter().all(|v| (clip.lo..=clip.hi).contains(v)));
    let release = Release::TwoGroups {
        threshold: 1000,
        clip,
    };
    let runs = released(&x, Some(&y), &release, 8.0, 10);
    // Plaintext: (count, mean, sample variance) per group.
    let figures = |above: bool| {
        let g: Vec<f64> = x
            .iter()
            .zip(&y)
            .filter(|(_, y)| (**y > 1000) == above)
            .map(|(x, _)| *x as f64)
            .collect();
        let k = g.len() as f64;
        let m = g.iter().sum::<f64>() / k;
        let v = g.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1.0);
        (k, m, v)
    };
    let (ka, ma, va) = figures(true);
    let (kb, mb, vb) = figures(false);
    let (ea, eb) = (va / ka, vb / kb);
    let t = (ma - mb) / (ea + eb).sqrt();
    let df = (ea + eb).powi(2) / (ea * ea / (ka - 1.0) + eb * eb / (kb - 1.0));
    let exact = [
        ("above: count", ka),
        ("above: mean", ma),
        ("above: variance", va),
        ("below: count", kb),
        ("below: mean", mb),
        ("below: variance", vb),
        ("difference of means", ma - mb),
        ("welch t", t),
        ("degrees of freedom", df),
    ];
    for (name, truth) in exact {
        let got: Vec<f64> = runs.iter().map(|e| value(e, name)).collect();
        let sd = runs[0].iter().find(|e| e.name == name).unwrap().noise_sd;
        for g in &got {
            // Welch's degrees of freedom sit at their ceiling (ka + kb - 2) when the groups'
            // spreads match, as here: any noise lowers them, so the estimate is biased low by
            // more than the spread its simulations show (seen: 1957 for 1998, sd 7.6). They
            // only shape the t distribution, where 5% at two thousand changes nothing.
            let close = if name == "degrees of freedom" {
                (g - truth).abs() < 0.05 * truth
            } else {
                (g - truth).abs() < 5.0 * sd + 1e-9
            };
            assert!(close, "{name}: {g} vs {truth} (sd {sd})");
        }
    }
    // The groups differ by about 100 and t is large: the split is seen through the noise.
    assert!((ma - mb - 100.0).abs() < 20.0, "{}", ma - mb);
    assert!(runs.iter().all(|e| value(e, "welch t") > 10.0));
}

/// The exact correlation of paired values, and the population variance of `x` (the plaintext
/// references).
fn correlation(x: &[i64], y: &[i64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (
        x.iter().sum::<i64>() as f64 / n,
        y.iter().sum::<i64>() as f64 / n,
    );
    let cov: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (*a as f64 - mx) * (*b as f64 - my))
        .sum();
    let vx: f64 = x.iter().map(|a| (*a as f64 - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (*b as f64 - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

fn population_variance(x: &[i64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<i64>() as f64 / n;
    x.iter().map(|v| (*v as f64 - m).powi(2)).sum::<f64>() / n
}

/// The 95% intervals of the ratios are calibrated too. A variance and a correlation are
/// nonlinear in noisy sums (and a correlation is bounded by 1), so their noise is not normal
/// around the estimate; the interval simulates the known noise through the same formula. Over
/// 200 releases at epsilon 1 (1,000 patients, clipped at about 4 and 3 sd, where a release's r
/// is only known to about +-0.35), each interval covers the exact value in about 95% of them.
/// 175 of 200 is five binomial standard deviations below 190.
#[test]
fn intervals_of_a_variance_and_a_correlation_cover_the_truth_95_percent_of_the_time() {
    let x = cohort(1000, 1250, 150, 8);
    let noise = cohort(1000, 0, 100, 9);
    let y: Vec<i64> = x.iter().zip(&noise).map(|(a, e)| a / 2 + e).collect();
    let (cx, cy) = (Clip::new(800, 2000).unwrap(), Clip::new(300, 1100).unwrap());
    // The exact statistics are of the clipped values.
    let clipped = |v: &[i64], c: Clip| v.iter().map(|v| (*v).clamp(c.lo, c.hi)).collect::<Vec<_>>();
    let (xc, yc) = (clipped(&x, cx), clipped(&y, cy));
    let runs = 200;
    let cases = [
        (
            "variance",
            released(&x, None, &Release::Variance { clip: cx }, 1.0, runs),
            population_variance(&xc),
        ),
        (
            "r",
            released(&x, Some(&y), &Release::Pearson { x: cx, y: cy }, 1.0, runs),
            correlation(&xc, &yc),
        ),
    ];
    for (name, releases, exact) in cases {
        let covered = releases
            .iter()
            .filter(|e| {
                let est = e.iter().find(|x| x.name == name).unwrap();
                est.low <= exact && exact <= est.high
            })
            .count();
        println!("{name}: the interval covered the exact value in {covered} of {runs}");
        assert!(
            (175..=200).contains(&covered),
            "{name}: covered {covered} of {runs}"
        );
    }
}

/// The standard normal density.
fn normal_density(z: f64) -> f64 {
    (-z * z / 2.0).exp() / std::f64::consts::TAU.sqrt()
}

/// The standard normal's mass above `k` (Simpson's rule out to k + 12).
fn normal_tail(k: f64) -> f64 {
    let steps = 12_000;
    let h = 12.0 / f64::from(steps);
    let inner: f64 = (1..steps)
        .map(|i| normal_density(k + f64::from(i) * h) * if i % 2 == 1 { 4.0 } else { 2.0 })
        .sum();
    (normal_density(k) + normal_density(k + 12.0) + inner) * h / 3.0
}

/// The smallest root-mean-square relative error of a variance released by a trusted curator
/// with an oracle: normal data clipped at k sd around the true mean (the best k from 1.5 to 6),
/// the whole budget `epsilon` (at delta 1e-6) on the sum of squares, one Gaussian draw nobody
/// knows, the count known exactly. Its parts: the bias of clipping (the winsorised second
/// moment E min(z^2, k^2) = 1 - 2 (k phi(k) + Q(k)) + 2 k^2 Q(k) against 1) and the noise of a
/// sum of centred squares, whose sensitivity is (k sd)^2 / 2.
fn ideal_variance_error(epsilon: f64, n: f64) -> f64 {
    let rho = rho_from_epsilon(epsilon, 1e-6);
    (30..=120)
        .map(|i| {
            let k = f64::from(i) / 20.0;
            let tail = normal_tail(k);
            let second = 1.0 - 2.0 * (k * normal_density(k) + tail) + 2.0 * k * k * tail;
            let bias = 1.0 - second;
            let noise = k * k / 2.0 / (n * (2.0 * rho).sqrt());
            bias.hypot(noise)
        })
        .fold(f64::INFINITY, f64::min)
}

/// Issue 13 asked for a variance within 1% at epsilon 1 for 2,000 patients. Even a trusted
/// curator with an oracle misses that (ARCHITECTURE.md, "How exact a variance can be"), so the
/// figures of `accuracy_of_mean_and_variance_on_two_thousand_patients` are measured against
/// this floor, not against 1%.
#[test]
fn an_ideal_curator_misses_one_percent_at_epsilon_one() {
    // The integrator: Q(1.96) = 0.0249979.
    assert!((normal_tail(1.96) - 0.0249979).abs() < 1e-6);
    let at = |epsilon| ideal_variance_error(epsilon, 2000.0);
    assert!((0.012..0.014).contains(&at(1.0)), "{}", at(1.0));
    assert!(at(2.0) < 0.01, "{}", at(2.0));
    // Four times the patients, a quarter of the noise: 1% at epsilon 1 from about 8,000 on.
    assert!(ideal_variance_error(1.0, 8000.0) < 0.01);
}

/// Ordinary least squares of y on two predictors with an intercept, computed here from the
/// data (Cramer's rule on the centred cross products; standard errors from the residuals):
/// ([b0, b1, b2], [se0, se1, se2], R^2).
fn plaintext_ols(y: &[i64], x1: &[i64], x2: &[i64]) -> ([f64; 3], [f64; 3], f64) {
    let n = y.len() as f64;
    let mean = |v: &[i64]| v.iter().map(|a| *a as f64).sum::<f64>() / n;
    let (my, m1, m2) = (mean(y), mean(x1), mean(x2));
    let c = |u: &[i64], mu: f64, v: &[i64], mv: f64| {
        u.iter()
            .zip(v)
            .map(|(a, b)| (*a as f64 - mu) * (*b as f64 - mv))
            .sum::<f64>()
    };
    let (s11, s12, s22) = (c(x1, m1, x1, m1), c(x1, m1, x2, m2), c(x2, m2, x2, m2));
    let (s1y, s2y, syy) = (c(x1, m1, y, my), c(x2, m2, y, my), c(y, my, y, my));
    let det = s11 * s22 - s12 * s12;
    let b1 = (s1y * s22 - s2y * s12) / det;
    let b2 = (s2y * s11 - s1y * s12) / det;
    let b0 = my - b1 * m1 - b2 * m2;
    let sse: f64 = (0..y.len())
        .map(|i| (y[i] as f64 - b0 - b1 * x1[i] as f64 - b2 * x2[i] as f64).powi(2))
        .sum();
    let s2 = sse / (n - 3.0);
    let (i11, i12, i22) = (s22 / det, -s12 / det, s11 / det);
    let se0 = (s2 * (1.0 / n + m1 * m1 * i11 + 2.0 * m1 * m2 * i12 + m2 * m2 * i22)).sqrt();
    (
        [b0, b1, b2],
        [se0, (s2 * i11).sqrt(), (s2 * i22).sqrt()],
        1.0 - sse / syy,
    )
}

/// A private regression of y on two predictors over 2,000 patients at epsilon 4 recovers the
/// least-squares fit of the data: every coefficient and R^2 near the plaintext's (within a few
/// of its noise sds, and its 95% noise interval covering the plaintext in most runs), the
/// standard errors near the plaintext's.
#[test]
fn a_private_regression_recovers_the_least_squares_fit() {
    let n = 2000;
    // Fixed point at precision 1: x1 around 130.0 (sd 15), x2 around 80.0 (sd 10), y a linear
    // function of both plus noise of sd 12.0.
    let x1 = cohort(n, 1300, 150, 21);
    let x2 = cohort(n, 800, 100, 22);
    let e = cohort(n, 0, 120, 23);
    let y: Vec<i64> = (0..n)
        .map(|i| 500 + x1[i] / 2 - (3 * x2[i]) / 10 + e[i])
        .collect();
    let clips = vec![
        Clip::new(0, 1600).unwrap(),
        Clip::new(700, 1900).unwrap(),
        Clip::new(400, 1200).unwrap(),
    ];
    assert!(y.iter().all(|v| (0..=1600).contains(v)), "inside the clip");
    let release = Release::Regression {
        clips: clips.clone(),
        cohort: None,
    };
    let sigma2 = release
        .plan(
            rho_from_epsilon(4.0, 1e-6),
            Draws::for_security(Security::SemiHonest),
        )
        .unwrap();
    let runs = 12;
    let out = run_three(|p| {
        let columns = [share(p, &y), share(p, &x1), share(p, &x2)];
        let input = PrivateInput {
            columns: columns.iter().collect(),
            bounds: vec![ValueBound::new(B); 3],
            clip_needed: vec![true; 3],
        };
        (0..runs)
            .map(|_| {
                private_release(p, &input, &release, &sigma2, &mut rand::rng())
                    .unwrap()
                    .reveal(p)
                    .unwrap()
            })
            .collect::<Vec<_>>()
    });
    let (b, se, r2) = plaintext_ols(&y, &x1, &x2);
    let mut covered = [0; 3];
    for got in &out[0] {
        let StatValue::Private { estimates } = got else {
            panic!("{got:?}")
        };
        let names: Vec<&str> = estimates.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "count",
                "intercept",
                "slope 1",
                "slope 2",
                "standard error: intercept",
                "standard error: slope 1",
                "standard error: slope 2",
                "r squared"
            ]
        );
        for (j, name) in ["intercept", "slope 1", "slope 2"].iter().enumerate() {
            let est = estimates.iter().find(|e| e.name == *name).unwrap();
            assert!(
                (est.value - b[j]).abs() < 5.0 * est.noise_sd,
                "{name}: {} vs {} (noise sd {})",
                est.value,
                b[j],
                est.noise_sd
            );
            covered[j] += usize::from(est.low <= b[j] && b[j] <= est.high);
            let err = value(estimates, &format!("standard error: {name}"));
            assert!(
                (err / se[j] - 1.0).abs() < 0.25,
                "{name}: se {err} vs {}",
                se[j]
            );
        }
        assert_eq!(estimates[2].per_predictor, Some(0));
        assert_eq!(estimates[3].per_predictor, Some(1));
        let fit = estimates.iter().find(|e| e.name == "r squared").unwrap();
        assert!(
            (fit.value - r2).abs() < 5.0 * fit.noise_sd,
            "R^2 {} vs {r2} (noise sd {})",
            fit.value,
            fit.noise_sd
        );
    }
    for (j, c) in covered.iter().enumerate() {
        assert!(*c >= runs * 2 / 3, "coefficient {j}: covered {c} of {runs}");
    }
}

/// Sums of squares of a clip near the largest width, or the noise's tails, could leave the
/// ring: refused before anything is computed, by name.
#[test]
fn a_release_that_could_overflow_is_refused_before_computing() {
    let wide = Clip::new(0, (1 << 39) - 1).unwrap();
    let release = Release::Variance { clip: wide };
    let sigma2 = vec![1, 1, 1];
    let out = run_three(|p| {
        let x = share(p, &[1, 2, 3]);
        let input = PrivateInput {
            columns: vec![&x],
            bounds: vec![ValueBound::new(1 << 40)],
            clip_needed: vec![false],
        };
        private_release(p, &input, &release, &sigma2, &mut rand::rng()).map(|a| a.n)
    });
    for o in out {
        assert!(matches!(o, Err(StatsError::Overflow { .. })), "{o:?}");
    }
}

#[test]
fn every_release_adds_up_the_same_aggregates_in_parts() {
    // Parts of 3 values (and of 1 for the grid's 10 comparisons per value): many parts, a
    // short last one, each verified under malicious security before the next.
    let x = cohort(40, 1200, 400, 11);
    let y = cohort(40, 800, 300, 12);
    let clip = Clip::new(600, 1800).unwrap();
    let releases = [
        Release::Count,
        Release::Sum { clip },
        Release::Mean { clip },
        Release::Variance { clip },
        Release::Pearson { x: clip, y: clip },
        Release::Covariance { x: clip, y: clip },
        Release::TwoGroups {
            threshold: 800,
            clip,
        },
        Release::Histogram {
            edges: vec![-100, 900, 1200, 1500],
        },
        Release::FilteredMean {
            threshold: 1100,
            clip,
        },
        Release::Quantile {
            permille: 500,
            clip,
            buckets: 8,
        },
        Release::Regression {
            clips: vec![clip, clip],
            cohort: None,
        },
        Release::CohortMean {
            threshold: 800,
            clip,
        },
        Release::Regression {
            clips: vec![clip, clip],
            cohort: Some(800),
        },
    ];
    for release in &releases {
        let opened = |part: usize| {
            run_three(|p| {
                p.set_security(Security::Malicious);
                p.set_part_values(part);
                let (xs, ys) = (share(p, &x), share(p, &y));
                // A regression in a cohort reads its cohort's column after its two.
                let input = PrivateInput {
                    columns: vec![&xs, &ys, &ys],
                    bounds: vec![ValueBound::new(B); 3],
                    clip_needed: vec![true, true, false],
                };
                let shares = super::private::contributions(p, &input, release).unwrap();
                crate::protocols::reveal::reveal(p, &shares).unwrap()
            })[0]
                .clone()
        };
        assert_eq!(opened(3), opened(1 << 20), "{release:?}");
    }
}

/// A release in a cohort chosen by another column equals the same release without one over the
/// cohort's rows alone: the bits zero every other patient's contribution, the count is theirs,
/// and a centred square's offset is taken once per patient in. Compared before noise, word for
/// word.
#[test]
fn a_release_in_a_cohort_equals_the_release_over_the_cohorts_rows() {
    let x = cohort(60, 1200, 400, 21);
    let z = cohort(60, 900, 300, 22);
    let by = cohort(60, 800, 300, 23);
    let threshold = 800;
    let inside: Vec<usize> = (0..60).filter(|&i| by[i] > threshold).collect();
    assert!(
        inside.len() > 10 && inside.len() < 50,
        "both sides hold patients"
    );
    let pick = |v: &[i64]| inside.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let (xi, zi) = (pick(&x), pick(&z));
    let clip = Clip::new(600, 1800).unwrap();
    let contributions = |columns: [&Vec<i64>; 3], release: Release| {
        run_three(|p| {
            let shared: Vec<_> = columns.iter().map(|c| share(p, c)).collect();
            let input = PrivateInput {
                columns: shared.iter().collect(),
                bounds: vec![ValueBound::new(B); 3],
                clip_needed: vec![true, true, false],
            };
            let shares = super::private::contributions(p, &input, &release).unwrap();
            crate::protocols::reveal::reveal(p, &shares).unwrap()
        })[0]
            .clone()
    };
    let in_cohort = contributions([&x, &by, &by], Release::CohortMean { threshold, clip });
    let over_rows = contributions([&xi, &xi, &xi], Release::Mean { clip });
    assert_eq!(in_cohort, over_rows);
    let clips = vec![clip, Clip::new(300, 1500).unwrap()];
    let in_cohort = contributions(
        [&x, &z, &by],
        Release::Regression {
            clips: clips.clone(),
            cohort: Some(threshold),
        },
    );
    let over_rows = contributions(
        [&xi, &zi, &zi],
        Release::Regression {
            clips,
            cohort: None,
        },
    );
    assert_eq!(in_cohort, over_rows);
}
