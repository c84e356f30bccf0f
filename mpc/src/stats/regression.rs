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

/// Solves the normal equations from the opened aggregates (layout of
/// [`Statistic::LinearRegression`]). Centred cross products are formed exactly in i128
/// (C_jk = n Sx_jx_k - Sx_j Sx_k), the p x p system is solved in f64 by Gaussian elimination
/// with partial pivoting. Returns (coefficients [b0, b1..bp], R^2), `None` when singular.
#[allow(clippy::needless_range_loop)] // matrix code reads best with explicit indices
pub(crate) fn solve(n: u64, p: usize, v: &[i64]) -> (Option<Vec<f64>>, Option<f64>) {
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
    if n as usize <= p {
        return (None, None);
    }
    let mut a: Vec<Vec<f64>> = (0..p)
        .map(|j| {
            (0..p)
                .map(|k| (ni * sxx[j][k] - sx[j] * sx[k]) as f64)
                .collect()
        })
        .collect();
    let c: Vec<f64> = (0..p).map(|j| (ni * sxy[j] - sx[j] * sy) as f64).collect();
    let mut rhs = c.clone();
    // Gaussian elimination with partial pivoting
    for col in 0..p {
        let pivot = (col..p)
            .max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))
            .expect("non-empty range");
        let scale = a.iter().map(|r| r[col].abs()).fold(0.0, f64::max);
        if a[pivot][col].abs() <= 1e-12 * scale || scale == 0.0 {
            return (None, None);
        }
        a.swap(col, pivot);
        rhs.swap(col, pivot);
        for r in col + 1..p {
            let f = a[r][col] / a[col][col];
            for k in col..p {
                a[r][k] -= f * a[col][k];
            }
            rhs[r] -= f * rhs[col];
        }
    }
    let mut beta = vec![0.0; p];
    for r in (0..p).rev() {
        let s: f64 = (r + 1..p).map(|k| a[r][k] * beta[k]).sum();
        beta[r] = (rhs[r] - s) / a[r][r];
    }
    let nf = n as f64;
    let b0 = (sy as f64 - (0..p).map(|j| beta[j] * sx[j] as f64).sum::<f64>()) / nf;
    let tss = (ni * syy - sy * sy) as f64;
    let explained: f64 = (0..p).map(|j| beta[j] * c[j]).sum();
    let r2 = (tss > 0.0).then(|| explained / tss);
    let mut coefficients = vec![b0];
    coefficients.extend(beta);
    (Some(coefficients), r2)
}
