//! Ordinary least squares y = b0 + b1 x_1 + ... + bp x_p with a few covariates.
//!
//! The MPC phase computes the exact sufficient statistics X'X and X'y (with the intercept
//! column: n, the sums Sx_j, the cross sums Sx_jx_k, Sx_jy) plus Sy and Syy for R^2, all in one
//! dot-product round. Those aggregates are revealed (or sealed) and the normal equations are
//! solved in public. What it reveals: every covariate's mean and the covariance matrix of the
//! covariates and y (the aggregates listed), not the rows.

use super::{Aggregates, Statistic, StatsError, ValueBound};
use crate::protocols::mul::dot_many;
use crate::{ArithShares, Party};

/// Shares of the OLS sufficient statistics of y on the covariate columns `xs`.
/// Cost: one round; each party sends p(p+1)/2 + p + 1 elements.
/// Refuses unless every n * max|u| * max|v| < 2^63 over the columns and y.
pub fn linear_regression(
    party: &mut Party,
    xs: &[ArithShares],
    y: &ArithShares,
    x_bounds: &[ValueBound],
    y_bound: ValueBound,
) -> Result<Aggregates, StatsError> {
    let p = xs.len();
    let n = y.len() as u64;
    if p == 0 || x_bounds.len() != p || xs.iter().any(|x| x.len() != y.len()) {
        return Err(StatsError::InvalidParameter {
            statistic: "linear regression",
            reason: "need at least one covariate, one bound per covariate and paired columns",
        });
    }
    let mut pairs: Vec<(&ArithShares, &ArithShares)> = Vec::new();
    for j in 0..p {
        for k in j..p {
            x_bounds[j].check_products(x_bounds[k], n, "linear regression")?;
            pairs.push((&xs[j], &xs[k]));
        }
    }
    for j in 0..p {
        x_bounds[j].check_products(y_bound, n, "linear regression")?;
        pairs.push((&xs[j], y));
    }
    y_bound.check_products(y_bound, n, "linear regression")?;
    pairs.push((y, y));
    let prods = dot_many(party, &pairs)?;
    let sums: Vec<ArithShares> = xs
        .iter()
        .chain(std::iter::once(y))
        .map(|v| v.sum())
        .collect();
    let mut parts: Vec<&ArithShares> = sums.iter().collect();
    parts.push(&prods);
    Ok(Aggregates {
        statistic: Statistic::LinearRegression { covariates: p },
        n,
        shares: ArithShares::concat(&parts),
    })
}

/// A least-squares fit y = b0 + b1 x_1 + ... + bp x_p.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// [b0, b1, ..., bp].
    pub coefficients: Vec<f64>,
    /// The classical standard error of each coefficient (the residual variance over n - p - 1
    /// degrees of freedom); NaN when n <= p + 1.
    pub standard_errors: Vec<f64>,
    /// The coefficient of determination; NaN when y does not vary.
    pub r_squared: f64,
}

/// What a fit needs of the data: the number of rows, the means, and the population
/// covariances (divided by n) of the covariates and y.
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    /// Rows.
    pub n: f64,
    /// The covariates' means.
    pub x_means: Vec<f64>,
    /// y's mean.
    pub y_mean: f64,
    /// The covariates' covariance matrix (p x p).
    pub cxx: Vec<Vec<f64>>,
    /// Each covariate's covariance with y.
    pub cxy: Vec<f64>,
    /// y's variance.
    pub cyy: f64,
}

/// The least-squares fit from `m`: the slopes solve Cxx b = Cxy, the intercept puts the fit
/// through the means; with residual variance s^2 = n (Cyy - b'Cxy) / (n - p - 1), Var(b) =
/// s^2 Cxx^-1 / n and Var(b0) = s^2 (1 + xbar' Cxx^-1 xbar) / n. `None` when the covariates
/// are collinear (or constant) or any moment is not finite. The same function finishes the
/// exact aggregates and the noisy ones of a private release.
#[allow(clippy::needless_range_loop)] // matrix code reads best with explicit indices
pub fn fit(m: &Moments) -> Option<Fit> {
    let p = m.x_means.len();
    if p == 0 || m.cxx.len() != p || m.cxy.len() != p || m.cxx.iter().any(|r| r.len() != p) {
        return None;
    }
    let finite = m.cxx.iter().flatten().chain(&m.cxy).chain(&m.x_means);
    if !(m.n.is_finite() && m.y_mean.is_finite() && m.cyy.is_finite())
        || finite.clone().any(|v| !v.is_finite())
    {
        return None;
    }
    let inv = invert(&m.cxx)?;
    let slopes: Vec<f64> = (0..p)
        .map(|j| (0..p).map(|k| inv[j][k] * m.cxy[k]).sum())
        .collect();
    let explained: f64 = (0..p).map(|j| slopes[j] * m.cxy[j]).sum();
    let b0 = m.y_mean - (0..p).map(|j| slopes[j] * m.x_means[j]).sum::<f64>();
    // In [0, 1] for exact moments; noisy ones (a private release) may leave it.
    let r_squared = if m.cyy > 0.0 {
        (explained / m.cyy).clamp(0.0, 1.0)
    } else {
        f64::NAN
    };
    let df = m.n - p as f64 - 1.0;
    let s2 = if df > 0.0 {
        m.n * (m.cyy - explained).max(0.0) / df
    } else {
        f64::NAN
    };
    let quad: f64 = (0..p)
        .flat_map(|j| (0..p).map(move |k| (j, k)))
        .map(|(j, k)| m.x_means[j] * inv[j][k] * m.x_means[k])
        .sum();
    let mut standard_errors = vec![(s2 * (1.0 + quad) / m.n).sqrt()];
    standard_errors.extend((0..p).map(|j| (s2 * inv[j][j] / m.n).sqrt()));
    let mut coefficients = vec![b0];
    coefficients.extend(slopes);
    Some(Fit {
        coefficients,
        standard_errors,
        r_squared,
    })
}

/// The inverse of a square matrix by Gauss-Jordan elimination with partial pivoting; `None`
/// when a pivot is negligible against its column (singular to working precision).
#[allow(clippy::needless_range_loop)]
fn invert(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let p = a.len();
    let mut a = a.to_vec();
    let mut inv: Vec<Vec<f64>> = (0..p)
        .map(|j| (0..p).map(|k| f64::from(u8::from(j == k))).collect())
        .collect();
    for col in 0..p {
        let pivot = (col..p).max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))?;
        let scale = a.iter().map(|r| r[col].abs()).fold(0.0, f64::max);
        if scale == 0.0 || a[pivot][col].abs() <= 1e-12 * scale {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let d = a[col][col];
        for k in 0..p {
            a[col][k] /= d;
            inv[col][k] /= d;
        }
        for r in 0..p {
            if r != col {
                let f = a[r][col];
                for k in 0..p {
                    a[r][k] -= f * a[col][k];
                    inv[r][k] -= f * inv[col][k];
                }
            }
        }
    }
    Some(inv)
}

/// The fit from the opened exact aggregates (layout of [`Statistic::LinearRegression`]). The
/// centred cross products are formed exactly in i128 (n Sx_jx_k - Sx_j Sx_k) before they
/// become floating point. `None` when n <= p or the covariates are collinear.
#[allow(clippy::needless_range_loop)]
pub(crate) fn solve(n: u64, p: usize, v: &[i64]) -> Option<Fit> {
    if n as usize <= p {
        return None;
    }
    let ni = n as i128;
    let sx: Vec<i128> = v[..p].iter().map(|s| *s as i128).collect();
    let sy = v[p] as i128;
    let mut at = p + 1;
    let mut sxx = vec![vec![0i128; p]; p];
    for j in 0..p {
        for k in j..p {
            sxx[j][k] = v[at] as i128;
            sxx[k][j] = v[at] as i128;
            at += 1;
        }
    }
    let sxy: Vec<i128> = v[at..at + p].iter().map(|s| *s as i128).collect();
    let syy = v[at + p] as i128;
    let nf = n as f64;
    let centred = |num: i128| num as f64 / (nf * nf);
    fit(&Moments {
        n: nf,
        x_means: sx.iter().map(|s| *s as f64 / nf).collect(),
        y_mean: sy as f64 / nf,
        cxx: (0..p)
            .map(|j| {
                (0..p)
                    .map(|k| centred(ni * sxx[j][k] - sx[j] * sx[k]))
                    .collect()
            })
            .collect(),
        cxy: (0..p).map(|j| centred(ni * sxy[j] - sx[j] * sy)).collect(),
        cyy: centred(ni * syy - sy * sy),
    })
}
