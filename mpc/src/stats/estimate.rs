//! The public last step of a private release: from noisy aggregates to estimates, each with the
//! spread of its noise and a 95% interval.
//!
//! The noise of each aggregate is known (the three parties' discrete Gaussians, variance at most
//! 3 s_i), so the interval of an estimate is found by simulation: the estimate is recomputed on
//! the released aggregates plus fresh Gaussian noise of that variance, [`SIMULATIONS`] times, and
//! the 2.5% and 97.5% points are taken (a parametric bootstrap; a grid quantile's interval is
//! widened by half a bucket each side, its resolution). It covers the noise only, not the
//! sampling error of the cohort itself. Everything here is post-processing of the release
//! and costs no privacy.

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::private::Release;
use crate::dp::accounting::total_noise_sd;

/// Simulations per interval.
pub const SIMULATIONS: usize = 2000;

/// How many noise standard deviations a grid bucket's noisy count must clear to count as holding
/// patients for a private min or max. An empty bucket's noise passes with probability 3e-5, so
/// one of the 34 buckets of a grid does in about one release in a thousand (at 3 sds it would be
/// one in forty, each time a max far above the data).
pub const EXTREME_SDS: f64 = 4.0;

/// One estimate of a private release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// What it estimates (`count`, `mean`, `variance`, `r`, `bucket 3`, `median`, ...).
    pub name: String,
    /// Its unit as a power of the indicator's fixed-point unit: 0 for counts and correlations,
    /// 1 for values (and a covariance), 2 for variances.
    pub unit_power: u8,
    /// Its power of the paired indicator's fixed-point unit: 1 for a covariance (x's unit times
    /// y's), else 0.
    #[serde(default)]
    pub pair_power: u8,
    /// For a regression's slope (and its standard error): the predictor (0 for the first) whose
    /// unit divides it, the outcome's unit per that predictor's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_predictor: Option<u8>,
    /// The estimate (NaN when undefined, e.g. a mean over a noisy count below one).
    pub value: f64,
    /// Standard deviation of the estimate under the noise.
    pub noise_sd: f64,
    /// Lower end of the 95% noise interval.
    pub low: f64,
    /// Upper end of the 95% noise interval.
    pub high: f64,
}

/// The estimates of `release` from its opened noisy aggregates `values` (decoded integers) and
/// the per-party noise parameters it was released with.
pub fn estimates(release: &Release, party_sigma2: &[u64], values: &[i64]) -> Vec<Estimate> {
    let released: Vec<f64> = values.iter().map(|v| *v as f64).collect();
    let sds: Vec<f64> = party_sigma2.iter().map(|s| total_noise_sd(*s)).collect();
    let (names, point) = compute(release, &released, &sds);
    let mut rng = rand::rng();
    let mut sims: Vec<Vec<f64>> = vec![Vec::with_capacity(SIMULATIONS); point.len()];
    let mut noisy = released.clone();
    for _ in 0..SIMULATIONS {
        for ((v, r), sd) in noisy.iter_mut().zip(&released).zip(&sds) {
            *v = r + sd * standard_normal(&mut rng);
        }
        let (_, est) = compute(release, &noisy, &sds);
        for (s, e) in sims.iter_mut().zip(est) {
            s.push(e);
        }
    }
    // A grid quantile is only known to its bucket: the interval spans the buckets' widths.
    let half_bucket = match release {
        Release::Quantile { clip, buckets, .. } | Release::Extreme { clip, buckets, .. } => {
            (clip.hi as f64 - clip.lo as f64) / f64::from((*buckets).max(1)) / 2.0
        }
        _ => 0.0,
    };
    names
        .into_iter()
        .zip(point)
        .zip(sims)
        .map(|(((name, unit), value), mut sim)| {
            sim.retain(|v| v.is_finite());
            sim.sort_by(f64::total_cmp);
            // Where the noise leaves the estimate undefined more often than not (a correlation
            // whose noisy variances fall below zero), the estimate itself is reported undefined.
            let (value, low, high, noise_sd) = if sim.len() < SIMULATIONS / 2 {
                (f64::NAN, f64::NAN, f64::NAN, f64::NAN)
            } else if floored_at_zero(&name) {
                // A variance is not negative: its value and interval are floored at zero, but
                // its noise sd is that of the unfloored estimate (flooring the simulations too
                // would hide the noise of a variance near zero behind a spread of nothing).
                let (low, high) = (at(&sim, 0.025), at(&sim, 0.975));
                (value.max(0.0), low.max(0.0), high.max(0.0), spread(&sim))
            } else {
                (
                    value,
                    at(&sim, 0.025) - half_bucket,
                    at(&sim, 0.975) + half_bucket,
                    spread(&sim),
                )
            };
            Estimate {
                name,
                unit_power: unit.x,
                pair_power: unit.pair,
                per_predictor: unit.per_predictor,
                value,
                noise_sd,
                low,
                high,
            }
        })
        .collect()
}

/// The q point of sorted simulations.
fn at(sorted: &[f64], q: f64) -> f64 {
    sorted[((q * (sorted.len() - 1) as f64).round()) as usize]
}

/// The sample standard deviation of simulations.
fn spread(sim: &[f64]) -> f64 {
    let mean = sim.iter().sum::<f64>() / sim.len() as f64;
    (sim.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (sim.len() - 1) as f64).sqrt()
}

/// Whether an estimate is a variance, reported at zero or above.
fn floored_at_zero(name: &str) -> bool {
    name == "variance" || name.ends_with(": variance")
}

/// A standard normal draw (Box-Muller), for the simulated intervals only.
fn standard_normal<R: RngExt + ?Sized>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An estimate's unit: its powers of x's and the paired indicator's units, and the predictor
/// whose unit divides it.
#[derive(Clone, Copy)]
struct UnitOf {
    x: u8,
    pair: u8,
    per_predictor: Option<u8>,
}

/// A power of x's unit alone.
fn unit(x: u8) -> UnitOf {
    UnitOf {
        x,
        pair: 0,
        per_predictor: None,
    }
}

/// Each estimate's name and unit.
type Named = Vec<(String, UnitOf)>;

/// The estimates' names and unit powers, and their values on aggregates `a` (whose noise has
/// standard deviations `sds`).
fn compute(release: &Release, a: &[f64], sds: &[f64]) -> (Named, Vec<f64>) {
    let name = |s: &str, p: u8| (s.to_string(), unit(p));
    let ratio = |num: f64, den: f64| if den >= 1.0 { num / den } else { f64::NAN };
    match release {
        Release::Count => (vec![name("count", 0)], vec![a[0]]),
        Release::Sum { clip } => (
            vec![name("sum", 1)],
            vec![clip.center() as f64 * a[0] + a[1]],
        ),
        Release::Mean { clip } => (
            vec![name("count", 0), name("mean", 1)],
            vec![a[0], clip.center() as f64 + ratio(a[1], a[0])],
        ),
        Release::Variance { clip } => {
            let m = ratio(a[1], a[0]);
            let second = ratio(a[2], a[0]) + clip.square_offset() as f64;
            (
                vec![name("count", 0), name("mean", 1), name("variance", 2)],
                vec![a[0], clip.center() as f64 + m, second - m * m],
            )
        }
        Release::Pearson { x, y } => {
            let n = a[0];
            let (mx, my) = (ratio(a[1], n), ratio(a[2], n));
            let vx = ratio(a[3], n) + x.square_offset() as f64 - mx * mx;
            let vy = ratio(a[4], n) + y.square_offset() as f64 - my * my;
            let cov = ratio(a[5], n) - mx * my;
            let r = if vx > 0.0 && vy > 0.0 {
                (cov / (vx * vy).sqrt()).clamp(-1.0, 1.0)
            } else {
                f64::NAN
            };
            (vec![name("count", 0), name("r", 0)], vec![n, r])
        }
        // The sample covariance (n - 1), as the exact statistic reports, in x's unit times y's.
        Release::Covariance { .. } => {
            let n = a[0];
            let (mx, my) = (ratio(a[1], n), ratio(a[2], n));
            let cov = ratio(a[3], n) - mx * my;
            let sample = if n > 1.0 {
                cov * n / (n - 1.0)
            } else {
                f64::NAN
            };
            let product = UnitOf { pair: 1, ..unit(1) };
            (
                vec![name("count", 0), ("covariance".to_string(), product)],
                vec![n, sample],
            )
        }
        Release::Regression { clips, .. } => regression(clips, a),
        Release::Extreme { max, clip, .. } => (
            vec![name(if *max { "max" } else { "min" }, 1)],
            vec![grid_extreme(&release.grid(), a, sds, *max, clip.lo)],
        ),
        // Each group's count, mean and sample variance from its count, centred sum and centred
        // squares (the group below: all minus the group above); then the difference of the
        // means and Welch's t with its Welch-Satterthwaite degrees of freedom (biased low near
        // their ceiling, two groups of equal spread, where any noise lowers them; their interval
        // covers the noise around the released value, not that bias).
        Release::TwoGroups { clip, .. } => {
            let (c, q) = (clip.center() as f64, clip.square_offset() as f64);
            let group = |k: f64, s: f64, s2: f64| {
                let m = ratio(s, k);
                let population = ratio(s2, k) + q - m * m;
                let var = if k > 1.0 {
                    population * k / (k - 1.0)
                } else {
                    f64::NAN
                };
                (k, c + m, var)
            };
            let (ka, ma, va) = group(a[1], a[3], a[5]);
            let (kb, mb, vb) = group(a[0] - a[1], a[2] - a[3], a[4] - a[5]);
            let (ea, eb) = (va / ka, vb / kb);
            let t = (ma - mb) / (ea + eb).sqrt();
            let df = (ea + eb).powi(2) / (ea * ea / (ka - 1.0) + eb * eb / (kb - 1.0));
            (
                vec![
                    name("above: count", 0),
                    name("above: mean", 1),
                    name("above: variance", 2),
                    name("below: count", 0),
                    name("below: mean", 1),
                    name("below: variance", 2),
                    name("difference of means", 1),
                    name("welch t", 0),
                    name("degrees of freedom", 0),
                ],
                vec![ka, ma, va, kb, mb, vb, ma - mb, t, df],
            )
        }
        // Noisy counts as released: one below zero is honest noise (clamping it would hide the
        // noise's spread from the interval).
        Release::Histogram { .. } => (
            (0..a.len())
                .map(|j| name(&format!("bucket {j}"), 0))
                .collect(),
            a.to_vec(),
        ),
        Release::FilteredMean { clip, .. } | Release::CohortMean { clip, .. } => (
            vec![name("count", 0), name("mean", 1)],
            vec![a[0], clip.center() as f64 + ratio(a[1], a[0])],
        ),
        Release::Quantile { permille, clip, .. } => {
            let grid = release.grid();
            let label = if *permille == 500 {
                "median".to_string()
            } else {
                format!("quantile {}", f64::from(*permille) / 1000.0)
            };
            (
                vec![(label, unit(1))],
                vec![grid_quantile(
                    &grid,
                    a,
                    f64::from(*permille) / 1000.0,
                    clip.lo,
                )],
            )
        }
    }
}

/// A regression's estimates from its noisy aggregates: the count; the intercept and each slope;
/// their standard errors; R^2. The centred moments are those of the clipped values (a
/// covariance does not move with the centre; a mean is the centre plus the centred mean).
fn regression(clips: &[super::private::Clip], a: &[f64]) -> (Named, Vec<f64>) {
    use super::private::product_pairs;
    use super::regression::{Moments, fit};
    let columns = clips.len();
    let p = columns.saturating_sub(1);
    let n = a[0];
    let centred_mean = |j: usize| if n >= 1.0 { a[1 + j] / n } else { f64::NAN };
    let mut cov = vec![vec![f64::NAN; columns]; columns];
    for (at, (j, k)) in product_pairs(columns).enumerate() {
        let offset = if j == k {
            clips[j].square_offset() as f64
        } else {
            0.0
        };
        let c = a[1 + columns + at] / n + offset - centred_mean(j) * centred_mean(k);
        cov[j][k] = c;
        cov[k][j] = c;
    }
    let mean = |j: usize| clips[j].center() as f64 + centred_mean(j);
    let fitted = fit(&Moments {
        n,
        x_means: (1..columns).map(mean).collect(),
        y_mean: mean(0),
        cxx: (1..columns)
            .map(|j| (1..columns).map(|k| cov[j][k]).collect())
            .collect(),
        cxy: (1..columns).map(|j| cov[j][0]).collect(),
        cyy: cov[0][0],
    });
    let coefficient = |i: usize| fitted.as_ref().map_or(f64::NAN, |f| f.coefficients[i]);
    let error = |i: usize| fitted.as_ref().map_or(f64::NAN, |f| f.standard_errors[i]);
    let slope = |j: usize| UnitOf {
        per_predictor: Some(j as u8),
        ..unit(1)
    };
    let mut names = vec![
        ("count".to_string(), unit(0)),
        ("intercept".into(), unit(1)),
    ];
    let mut values = vec![n, coefficient(0)];
    for j in 0..p {
        names.push((format!("slope {}", j + 1), slope(j)));
        values.push(coefficient(j + 1));
    }
    names.push(("standard error: intercept".into(), unit(1)));
    values.push(error(0));
    for j in 0..p {
        names.push((format!("standard error: slope {}", j + 1), slope(j)));
        values.push(error(j + 1));
    }
    names.push(("r squared".into(), unit(0)));
    values.push(fitted.as_ref().map_or(f64::NAN, |f| f.r_squared));
    (names, values)
}

/// The smallest (or with `max` the largest) value from noisy counts over the buckets (-inf, g0),
/// [g0, g1), ..., [g_m, +inf) with noise sds `sds`: the outer edge of the outermost bucket whose
/// count exceeds [`EXTREME_SDS`] times its noise sd (`lo` for the bucket below the grid, the
/// grid's end for the one above). NaN when no bucket does. Never a patient's value, only a grid
/// point.
pub fn grid_extreme(grid: &[i64], counts: &[f64], sds: &[f64], max: bool, lo: i64) -> f64 {
    let holds = |j: usize| counts[j] > EXTREME_SDS * sds.get(j).copied().unwrap_or(0.0);
    let buckets = counts.len().min(grid.len() + 1);
    let edge = |j: usize| -> f64 {
        match (j, max) {
            (0, _) => lo as f64,
            (j, _) if j >= grid.len() => grid[grid.len() - 1] as f64,
            (j, true) => grid[j] as f64,
            (j, false) => grid[j - 1] as f64,
        }
    };
    if grid.is_empty() {
        return f64::NAN;
    }
    let found = if max {
        (0..buckets).rev().find(|j| holds(*j))
    } else {
        (0..buckets).find(|j| holds(*j))
    };
    found.map_or(f64::NAN, edge)
}

/// The quantile q from noisy counts over the buckets (-inf, g0), [g0, g1), ..., [g_m, +inf):
/// counts clamped at zero, the first bucket whose cumulative count reaches q of the total, its
/// midpoint (the grid's end for the outer buckets). Never a patient's value, only a grid point.
pub fn grid_quantile(grid: &[i64], counts: &[f64], q: f64, lo: i64) -> f64 {
    let clamped: Vec<f64> = counts.iter().map(|c| c.max(0.0)).collect();
    let total: f64 = clamped.iter().sum();
    if grid.is_empty() || total <= 0.0 {
        return f64::NAN;
    }
    let target = q * total;
    let mut cum = 0.0;
    for (j, c) in clamped.iter().enumerate() {
        cum += c;
        if cum >= target && *c > 0.0 {
            return match j {
                0 => lo as f64,
                j if j == grid.len() => grid[grid.len() - 1] as f64,
                j => (grid[j - 1] as f64 + grid[j] as f64) / 2.0,
            };
        }
    }
    grid[grid.len() - 1] as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::private::Clip;

    #[test]
    fn a_mean_is_the_centre_plus_the_centred_sum_over_the_count() {
        let clip = Clip::new(0, 200).unwrap();
        let est = estimates(&Release::Mean { clip }, &[4, 1000], &[50, -250]);
        assert_eq!(est[0].name, "count");
        assert_eq!(est[0].value, 50.0);
        assert_eq!(est[1].value, 100.0 - 5.0);
        assert!(est[1].low < est[1].value && est[1].value < est[1].high);
        // The noise of the sum (sd sqrt(3000) ~ 55) over 50 patients: about 1.1.
        assert!(
            (est[1].noise_sd - 55.0 / 50.0).abs() < 0.3,
            "{}",
            est[1].noise_sd
        );
    }

    #[test]
    fn a_variance_undoes_the_centring() {
        // Values 90 and 110 around centre 100: d = -10, 10; q = floor(100^2/2) = 5000.
        let clip = Clip::new(0, 200).unwrap();
        let (s1, s2) = (0i64, 200 - 2 * 5000);
        let est = estimates(&Release::Variance { clip }, &[4, 4, 4], &[2, s1, s2]);
        assert_eq!(est[1].value, 100.0);
        assert!((est[2].value - 100.0).abs() < 1e-9);
    }

    #[test]
    fn a_grid_extreme_is_the_outer_edge_of_the_outermost_bucket_clear_of_the_noise() {
        let grid = [0, 10, 20, 30];
        let sds = [2.0; 5];
        // Buckets: <0, [0,10), [10,20), [20,30), >=30; 4 sds = 8.
        let counts = [1.0, 9.0, 40.0, 9.0, 7.9];
        assert_eq!(grid_extreme(&grid, &counts, &sds, true, 0), 30.0);
        assert_eq!(grid_extreme(&grid, &counts, &sds, false, 0), 0.0);
        let counts = [0.0, 2.0, 40.0, 1.0, -3.0];
        assert_eq!(grid_extreme(&grid, &counts, &sds, true, 0), 20.0);
        assert_eq!(grid_extreme(&grid, &counts, &sds, false, 0), 10.0);
        // The outer buckets: the grid's ends.
        let counts = [8.5, 0.0, 0.0, 0.0, 8.5];
        assert_eq!(grid_extreme(&grid, &counts, &sds, true, 0), 30.0);
        assert_eq!(grid_extreme(&grid, &counts, &sds, false, 0), 0.0);
        // Nothing clear of the noise: undefined.
        assert!(grid_extreme(&grid, &[1.0; 5], &sds, true, 0).is_nan());
    }

    #[test]
    fn a_grid_quantile_is_a_grid_point() {
        let grid = [0, 10, 20, 30];
        // Buckets: <0, [0,10), [10,20), [20,30), >=30.
        assert_eq!(
            grid_quantile(&grid, &[0.0, 6.0, 4.0, 1.0, 0.0], 0.5, 0),
            5.0
        );
        assert_eq!(
            grid_quantile(&grid, &[0.0, 1.0, 8.0, 1.0, 0.0], 0.5, 0),
            15.0
        );
        assert_eq!(
            grid_quantile(&grid, &[9.0, -3.0, 0.0, 0.0, 1.0], 0.5, 0),
            0.0
        );
        assert_eq!(
            grid_quantile(&grid, &[0.0, 0.0, 0.0, 0.0, 4.0], 0.5, 0),
            30.0
        );
        assert!(grid_quantile(&grid, &[-1.0, 0.0, 0.0, 0.0, 0.0], 0.5, 0).is_nan());
    }
}
