//! Order statistics (minimum, maximum, quantiles, median) by an oblivious bisection over the
//! public value range [-B, B] given by the bound.
//!
//! The answer v* = min{v : #{x <= v} >= k} is built bit by bit from the top: with a secret base
//! (initially -B), step j tests c = base + 2^j - 1 by counting #{x > c} in MPC and comparing
//! n - count < k in MPC; the resulting secret bit d moves base += d * 2^j. Nothing is opened
//! along the way, so the result is only the shared value (which can be sealed to a recipient)
//! and reveals exactly the k-th smallest value. Per step: n comparisons (8 rounds, 241 words per
//! 64 values per party) and a count (2 rounds, P0 n + 1 elements, others 1), per part of the
//! party's part size ([`crate::stream`]), then one comparison of the count (8 rounds) and one
//! bit injection (2 rounds); ceil(log2(2B + 1)) steps.

use super::{Aggregates, Statistic, StatsError, ValueBound};
use crate::protocols::a2b::{Width, msb_within};
use crate::protocols::b2a::{bits_to_arith, count_ones};
use crate::protocols::compare::greater_than_shared;
use crate::ring::encode;
use crate::stream::{part_of, sum_over_parts};
use crate::{ArithShares, Party};

/// The k-th smallest value of x (1-based, nearest rank). Reveals that value only.
/// Refuses unless 1 <= k <= n and max|x| < 2^62.
pub fn order_statistic(
    party: &mut Party,
    x: &ArithShares,
    rank: u64,
    bound: ValueBound,
) -> Result<Aggregates, StatsError> {
    let n = x.len() as u64;
    bound.check_comparable(&[], "order statistic")?;
    if rank == 0 || rank > n {
        return Err(StatsError::InvalidParameter {
            statistic: "order statistic",
            reason: "rank must be between 1 and n",
        });
    }
    let me = party.id();
    let lo = -(bound.max_abs as i64);
    let width = 2 * bound.max_abs + 1;
    let steps = 64 - (width - 1).leading_zeros();
    // Every threshold c lies in [lo, lo + 2^steps) with 2^steps < 2 (2 max|x| + 1), so
    // |x - c| <= 4 max|x| + 2; the counts' test (n - k) - #above lies in [-n, n].
    let values = Width::for_magnitude(4 * bound.max_abs as u128 + 2);
    let counts = Width::for_magnitude(n as u128);
    let mut base = ArithShares::public(me, &[encode(lo)]);
    for j in (0..steps).rev() {
        let offset = (1u64 << j) - 1;
        let mut c = base.clone();
        c.add_public(me, offset);
        let count_above = sum_over_parts(party, x.len(), party.part_values(), |party, range| {
            let above = greater_than_shared(party, &part_of(x, range), &c, values)?; // [x > c]
            count_ones(party, &above, 1)
        })?;
        // go up when #{x <= c} = n - count_above < k, i.e. when (n - k) - count_above < 0
        let mut t = count_above.neg();
        t.add_public(me, n - rank);
        let up = msb_within(party, &t, counts)?;
        let up = bits_to_arith(party, &up)?;
        base.add_assign(&up.scale(1u64 << j));
    }
    Ok(Aggregates {
        statistic: Statistic::OrderStatistic { rank },
        n,
        shares: base,
    })
}

/// The nearest-rank rank of quantile q in (0, 1]: ceil(q * n), at least 1.
pub fn quantile_rank(q: f64, n: u64) -> Result<u64, StatsError> {
    if !(q > 0.0 && q <= 1.0) {
        return Err(StatsError::InvalidParameter {
            statistic: "quantile",
            reason: "q must be in (0, 1]",
        });
    }
    Ok(((q * n as f64).ceil() as u64).clamp(1, n.max(1)))
}

/// Quantile q (nearest rank: the ceil(q n)-th smallest). Reveals that value only.
pub fn quantile(
    party: &mut Party,
    x: &ArithShares,
    q: f64,
    bound: ValueBound,
) -> Result<Aggregates, StatsError> {
    let rank = quantile_rank(q, x.len() as u64)?;
    order_statistic(party, x, rank, bound)
}

/// Median: the lower median, i.e. the ceil(n/2)-th smallest value (nearest rank).
pub fn median(
    party: &mut Party,
    x: &ArithShares,
    bound: ValueBound,
) -> Result<Aggregates, StatsError> {
    quantile(party, x, 0.5, bound)
}

/// Minimum. Reveals that value only.
pub fn min(
    party: &mut Party,
    x: &ArithShares,
    bound: ValueBound,
) -> Result<Aggregates, StatsError> {
    order_statistic(party, x, 1, bound)
}

/// Maximum. Reveals that value only.
pub fn max(
    party: &mut Party,
    x: &ArithShares,
    bound: ValueBound,
) -> Result<Aggregates, StatsError> {
    order_statistic(party, x, x.len() as u64, bound)
}
