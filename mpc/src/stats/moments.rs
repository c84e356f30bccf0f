//! Count, sum, mean, variance, standard deviation, covariance, Pearson correlation: exact
//! integer sums revealed (or sealed), finished in public.

use super::{Aggregates, Statistic, StatsError, ValueBound};
use crate::protocols::mul::dot_many;
use crate::stream::{part_of, sum_over_parts};
use crate::{ArithShares, Party};

/// The count of a shared vector, which is public (its length). Reveals n.
pub fn count(x: &ArithShares) -> Aggregates {
    Aggregates {
        statistic: Statistic::Count,
        n: x.len() as u64,
        shares: ArithShares::zeros(0),
    }
}

/// Sum of x. Reveals S1 = sum x (and so the mean). Local (no communication).
/// Refuses unless n * max|x| < 2^63.
pub fn sum(x: &ArithShares, bound: ValueBound) -> Result<Aggregates, StatsError> {
    bound.check_sum(x.len() as u64, "sum")?;
    Ok(Aggregates {
        statistic: Statistic::Sum,
        n: x.len() as u64,
        shares: x.sum(),
    })
}

/// Mean of x. Reveals S1 (and n). Local. Refuses unless n * max|x| < 2^63.
pub fn mean(x: &ArithShares, bound: ValueBound) -> Result<Aggregates, StatsError> {
    let mut a = sum(x, bound)?;
    a.statistic = Statistic::Mean;
    Ok(a)
}

/// Variance and standard deviation of x. Reveals S1 and S2 = sum x^2, hence the mean too.
/// Cost: one dot product per part of the party's part size (one round, one element per
/// party). Refuses unless n * max|x|^2 < 2^63.
pub fn variance(
    party: &mut Party,
    x: &ArithShares,
    bound: ValueBound,
) -> Result<Aggregates, StatsError> {
    let n = x.len() as u64;
    bound.check_products(bound, n, "variance")?;
    let shares = sum_over_parts(party, x.len(), party.part_values(), |party, range| {
        let x = &*part_of(x, range);
        let s2 = dot_many(party, &[(x, x)])?;
        Ok::<_, crate::ProtocolError>(ArithShares::concat(&[&x.sum(), &s2]))
    })?;
    Ok(Aggregates {
        statistic: Statistic::Variance,
        n,
        shares,
    })
}

fn check_pairs(
    x: &ArithShares,
    y: &ArithShares,
    statistic: &'static str,
) -> Result<u64, StatsError> {
    if x.len() != y.len() {
        return Err(StatsError::InvalidParameter {
            statistic,
            reason: "x and y must be paired (equal lengths)",
        });
    }
    Ok(x.len() as u64)
}

/// Covariance of paired x and y. Reveals Sx, Sy and Sxy (hence both means).
/// Cost: one dot product per part. Refuses unless n * max|x| * max|y| < 2^63 and the sums fit.
pub fn covariance(
    party: &mut Party,
    x: &ArithShares,
    y: &ArithShares,
    bx: ValueBound,
    by: ValueBound,
) -> Result<Aggregates, StatsError> {
    let n = check_pairs(x, y, "covariance")?;
    bx.check_products(by, n, "covariance")?;
    bx.check_sum(n, "covariance")?;
    by.check_sum(n, "covariance")?;
    let shares = sum_over_parts(party, x.len(), party.part_values(), |party, range| {
        let (x, y) = (&*part_of(x, range.clone()), &*part_of(y, range));
        let sxy = dot_many(party, &[(x, y)])?;
        Ok::<_, crate::ProtocolError>(ArithShares::concat(&[&x.sum(), &y.sum(), &sxy]))
    })?;
    Ok(Aggregates {
        statistic: Statistic::Covariance,
        n,
        shares,
    })
}

/// Pearson correlation of paired x and y. Reveals Sx, Sy, Sxx, Syy, Sxy (both means and
/// variances). Cost per part: one round, three elements per party.
/// Refuses unless n * max(|x|,|y|)^2 < 2^63.
pub fn pearson(
    party: &mut Party,
    x: &ArithShares,
    y: &ArithShares,
    bx: ValueBound,
    by: ValueBound,
) -> Result<Aggregates, StatsError> {
    let n = check_pairs(x, y, "pearson")?;
    bx.check_products(bx, n, "pearson")?;
    by.check_products(by, n, "pearson")?;
    bx.check_products(by, n, "pearson")?;
    let shares = sum_over_parts(party, x.len(), party.part_values(), |party, range| {
        let (x, y) = (&*part_of(x, range.clone()), &*part_of(y, range));
        let prods = dot_many(party, &[(x, x), (y, y), (x, y)])?;
        Ok::<_, crate::ProtocolError>(ArithShares::concat(&[&x.sum(), &y.sum(), &prods]))
    })?;
    Ok(Aggregates {
        statistic: Statistic::Pearson,
        n,
        shares,
    })
}
