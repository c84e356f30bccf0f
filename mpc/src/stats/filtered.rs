//! Aggregates under a filter on a secret value, with the minimum-cohort rule enforced inside the
//! computation: the size of the filtered cohort is secret, so it is compared with k in MPC and
//! only that one bit is revealed to the parties; the aggregates follow only when the cohort is
//! large enough.

use super::{Aggregates, Statistic, StatsError, ValueBound};
use crate::protocols::a2b::Width;
use crate::protocols::b2a::bits_to_arith;
use crate::protocols::compare::{greater_than_public, less_than_public};
use crate::protocols::mul::dot_many;
use crate::protocols::reveal::reveal_bits;
use crate::stream::{part_of, sum_over_parts};
use crate::{ArithShares, Party};

/// Count and mean of the values x > `threshold`, released only if at least `min_cohort` values
/// pass the filter.
///
/// Reveals to the parties one bit, [count >= min_cohort]; then, if set, the aggregates
/// [count, sum of the selected values] (to whoever opens them); otherwise the result is
/// [`Statistic::Withheld`] with no aggregates. Cost, per part of the party's part size
/// ([`crate::stream`]): its comparisons (8 rounds), bit injection (2 rounds; P0 2 len
/// elements, others len) and one dot product; then one comparison of the count with k and one
/// bit opened. Refuses unless n * max|x| < 2^63 and max|x| + |threshold| < 2^63.
pub fn filtered_mean(
    party: &mut Party,
    x: &ArithShares,
    threshold: i64,
    min_cohort: u64,
    bound: ValueBound,
) -> Result<Aggregates, StatsError> {
    let n = x.len() as u64;
    bound.check_comparable(&[threshold], "filtered mean")?;
    bound.check_sum(n, "filtered mean")?;
    if min_cohort > i64::MAX as u64 {
        return Err(StatsError::InvalidParameter {
            statistic: "filtered mean",
            reason: "minimum cohort size out of range",
        });
    }
    let width = bound.width_against(&[threshold]);
    let sums = sum_over_parts(party, x.len(), party.part_values(), |party, range| {
        let part = part_of(x, range);
        let keep = greater_than_public(party, &part, threshold, width)?;
        let b = bits_to_arith(party, &keep)?;
        let total = dot_many(party, &[(&b, &part)])?;
        Ok::<_, crate::ProtocolError>(ArithShares::concat(&[&b.sum(), &total]))
    })?;
    let (count, total) = (sums.slice(0..1), sums.slice(1..2));
    // 0 <= count <= n and 0 <= min_cohort: |count - min_cohort| <= max(n, min_cohort).
    let counts = Width::for_magnitude(u128::from(n.max(min_cohort)));
    let too_small = less_than_public(party, &count, min_cohort as i64, counts)?;
    let withheld = reveal_bits(party, &too_small)?[0];
    if withheld {
        return Ok(Aggregates {
            statistic: Statistic::Withheld { min_cohort },
            n,
            shares: ArithShares::zeros(0),
        });
    }
    Ok(Aggregates {
        statistic: Statistic::FilteredMean { threshold },
        n,
        shares: ArithShares::concat(&[&count, &total]),
    })
}
