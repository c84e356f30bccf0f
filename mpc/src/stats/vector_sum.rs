//! Secure aggregation: the element-wise sum of vectors contributed by several data owners (for
//! example model updates in federated learning). Reveals only the sum vector. Local.

use super::{Aggregates, Statistic, StatsError, ValueBound};
use crate::ArithShares;

/// Element-wise sum of the contributions (all of one length). Refuses unless
/// (number of contributions) * max|x| < 2^63.
pub fn vector_sum(
    contributions: &[ArithShares],
    bound: ValueBound,
) -> Result<Aggregates, StatsError> {
    let d = contributions.first().map_or(0, ArithShares::len);
    if contributions.iter().any(|c| c.len() != d) {
        return Err(StatsError::InvalidParameter {
            statistic: "vector sum",
            reason: "contributions differ in length",
        });
    }
    bound.check_sum(contributions.len() as u64, "vector sum")?;
    let mut total = ArithShares::zeros(d);
    for c in contributions {
        total.add_assign(c);
    }
    Ok(Aggregates {
        statistic: Statistic::VectorSum,
        n: contributions.len() as u64,
        shares: total,
    })
}
