//! The public last step: from opened integer aggregates to the statistic.

use serde::{Deserialize, Serialize};

use super::{Statistic, StatsError};
use crate::ring::decode;

/// A finished statistic, in the integer units of the input (see the module documentation).
/// `None` marks a quantity that is undefined for the data (a mean of nothing, a correlation
/// with a constant vector, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StatValue {
    /// Number of values.
    Count {
        /// n.
        n: u64,
    },
    /// Sum.
    Sum {
        /// n.
        n: u64,
        /// Exact sum.
        sum: i64,
    },
    /// Mean (reveals the sum, equivalently).
    Mean {
        /// n.
        n: u64,
        /// Exact sum.
        sum: i64,
        /// sum / n.
        mean: Option<f64>,
    },
    /// Variance and standard deviation (reveal the mean too).
    Variance {
        /// n.
        n: u64,
        /// Exact sum S1.
        sum: i64,
        /// Exact sum of squares S2.
        sum_squares: i64,
        /// S1 / n.
        mean: Option<f64>,
        /// (n S2 - S1^2) / n^2.
        population_variance: Option<f64>,
        /// (n S2 - S1^2) / (n (n - 1)).
        sample_variance: Option<f64>,
        /// sqrt of the population variance.
        population_std_dev: Option<f64>,
        /// sqrt of the sample variance.
        sample_std_dev: Option<f64>,
    },
    /// Covariance (reveals both means).
    Covariance {
        /// n.
        n: u64,
        /// Exact Sx.
        sum_x: i64,
        /// Exact Sy.
        sum_y: i64,
        /// Exact Sxy.
        sum_xy: i64,
        /// (n Sxy - Sx Sy) / n^2.
        population_covariance: Option<f64>,
        /// (n Sxy - Sx Sy) / (n (n - 1)).
        sample_covariance: Option<f64>,
    },
    /// Pearson correlation (reveals both means and variances).
    Pearson {
        /// n.
        n: u64,
        /// [Sx, Sy, Sxx, Syy, Sxy], exact.
        sums: [i64; 5],
        /// r = (n Sxy - Sx Sy) / sqrt((n Sxx - Sx^2)(n Syy - Sy^2)).
        r: Option<f64>,
    },
    /// Histogram counts; bucket 0 is (-inf, edges[0]), bucket j is [edges[j-1], edges[j]),
    /// the last is [edges[m-1], +inf).
    Histogram {
        /// The public edges.
        edges: Vec<i64>,
        /// Count per bucket.
        counts: Vec<u64>,
    },
    /// Count and mean of the values above the threshold.
    FilteredMean {
        /// The public threshold.
        threshold: i64,
        /// How many values exceed it.
        count: u64,
        /// Their exact sum.
        sum: i64,
        /// sum / count.
        mean: Option<f64>,
    },
    /// Nothing released: the secret cohort was below the minimum size.
    Withheld {
        /// The minimum cohort size.
        min_cohort: u64,
    },
    /// The k-th smallest value.
    OrderStatistic {
        /// 1-based rank.
        rank: u64,
        /// The value.
        value: i64,
    },
    /// Least-squares fit y = b0 + b1 x_1 + ... + bp x_p.
    LinearRegression {
        /// n.
        n: u64,
        /// [b0, b1, ..., bp]; `None` when the covariates are collinear or n <= p.
        coefficients: Option<Vec<f64>>,
        /// The coefficients' standard errors (classical OLS); `None` with the coefficients,
        /// each NaN when n <= p + 1.
        #[serde(default)]
        standard_errors: Option<Vec<f64>>,
        /// Coefficient of determination.
        r_squared: Option<f64>,
    },
    /// Element-wise sums.
    VectorSum {
        /// Exact sums.
        sums: Vec<i64>,
    },
    /// The estimates of a differentially private release, each with its noise interval.
    Private {
        /// The estimates.
        estimates: Vec<super::estimate::Estimate>,
    },
}

fn shape(statistic: &'static str, expected: usize, values: &[u64]) -> Result<Vec<i64>, StatsError> {
    if values.len() != expected {
        return Err(StatsError::Shape {
            statistic,
            expected,
            got: values.len(),
        });
    }
    Ok(values.iter().map(|v| decode(*v)).collect())
}

/// Divides when the divisor is positive.
fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

/// Computes the statistic from its opened aggregates (ring values, in the order the
/// [`Statistic`] documents).
pub fn finish(statistic: &Statistic, n: u64, values: &[u64]) -> Result<StatValue, StatsError> {
    let nf = n as f64;
    let ni = n as i128;
    Ok(match statistic {
        Statistic::Count => {
            shape("count", 0, values)?;
            StatValue::Count { n }
        }
        Statistic::Sum => {
            let v = shape("sum", 1, values)?;
            StatValue::Sum { n, sum: v[0] }
        }
        Statistic::Mean => {
            let v = shape("mean", 1, values)?;
            StatValue::Mean {
                n,
                sum: v[0],
                mean: ratio(v[0] as f64, nf),
            }
        }
        Statistic::Variance => {
            let v = shape("variance", 2, values)?;
            let (s1, s2) = (v[0] as i128, v[1] as i128);
            let num = (ni * s2 - s1 * s1) as f64;
            let pop = ratio(num, nf * nf);
            let sample = if n >= 2 {
                ratio(num, nf * (nf - 1.0))
            } else {
                None
            };
            StatValue::Variance {
                n,
                sum: v[0],
                sum_squares: v[1],
                mean: ratio(v[0] as f64, nf),
                population_variance: pop,
                sample_variance: sample,
                population_std_dev: pop.map(f64::sqrt),
                sample_std_dev: sample.map(f64::sqrt),
            }
        }
        Statistic::Covariance => {
            let v = shape("covariance", 3, values)?;
            let num = (ni * v[2] as i128 - v[0] as i128 * v[1] as i128) as f64;
            StatValue::Covariance {
                n,
                sum_x: v[0],
                sum_y: v[1],
                sum_xy: v[2],
                population_covariance: ratio(num, nf * nf),
                sample_covariance: if n >= 2 {
                    ratio(num, nf * (nf - 1.0))
                } else {
                    None
                },
            }
        }
        Statistic::Pearson => {
            let v = shape("pearson", 5, values)?;
            let (sx, sy, sxx, syy, sxy) = (
                v[0] as i128,
                v[1] as i128,
                v[2] as i128,
                v[3] as i128,
                v[4] as i128,
            );
            let cov = (ni * sxy - sx * sy) as f64;
            let vx = (ni * sxx - sx * sx) as f64;
            let vy = (ni * syy - sy * sy) as f64;
            StatValue::Pearson {
                n,
                sums: [v[0], v[1], v[2], v[3], v[4]],
                r: ratio(cov, vx.sqrt() * vy.sqrt()),
            }
        }
        Statistic::Histogram { edges } => {
            let v = shape("histogram", edges.len() + 1, values)?;
            StatValue::Histogram {
                edges: edges.clone(),
                counts: v.iter().map(|c| *c as u64).collect(),
            }
        }
        Statistic::FilteredMean { threshold } => {
            let v = shape("filtered mean", 2, values)?;
            StatValue::FilteredMean {
                threshold: *threshold,
                count: v[0] as u64,
                sum: v[1],
                mean: ratio(v[1] as f64, v[0] as f64),
            }
        }
        Statistic::Withheld { min_cohort } => {
            shape("withheld", 0, values)?;
            StatValue::Withheld {
                min_cohort: *min_cohort,
            }
        }
        Statistic::OrderStatistic { rank } => {
            let v = shape("order statistic", 1, values)?;
            StatValue::OrderStatistic {
                rank: *rank,
                value: v[0],
            }
        }
        Statistic::LinearRegression { covariates } => {
            let p = *covariates;
            let v = shape("linear regression", p + 1 + p * (p + 1) / 2 + p + 1, values)?;
            let fit = super::regression::solve(n, p, &v);
            StatValue::LinearRegression {
                n,
                r_squared: fit
                    .as_ref()
                    .and_then(|f| f.r_squared.is_finite().then_some(f.r_squared)),
                standard_errors: fit.as_ref().map(|f| f.standard_errors.clone()),
                coefficients: fit.map(|f| f.coefficients),
            }
        }
        Statistic::VectorSum => StatValue::VectorSum {
            sums: values.iter().map(|v| decode(*v)).collect(),
        },
        Statistic::Private {
            release,
            party_sigma2,
        } => {
            let v = shape("private release", party_sigma2.len(), values)?;
            StatValue::Private {
                estimates: super::estimate::estimates(release, party_sigma2, &v),
            }
        }
    })
}
