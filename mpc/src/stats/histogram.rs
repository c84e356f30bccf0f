//! Histogram with public bucket edges.

use super::{Aggregates, Statistic, StatsError, ValueBound};
use crate::protocols::a2b::msb_within;
use crate::protocols::b2a::count_ones;
use crate::ring::encode;
use crate::stream::{part_of, part_size, sum_over_parts};
use crate::{ArithShares, Party};

/// Counts of x in the buckets (-inf, e_1), [e_1, e_2), ..., [e_m, +inf) for strictly increasing
/// public edges. Reveals every bucket count (and so every cumulative count).
///
/// Computes the m*n comparisons [x < e_j] in batches of at most the party's part size
/// ([`crate::stream`]; per batch 8 rounds, at most 241 words per 64 comparisons per party),
/// then counts per edge (per batch 2 rounds; P0 sends m*len + m elements, the others m), adds
/// up the batches' counts, and differences locally. Refuses unless max|x| + max|e_j| < 2^63.
pub fn histogram(
    party: &mut Party,
    x: &ArithShares,
    edges: &[i64],
    bound: ValueBound,
) -> Result<Aggregates, StatsError> {
    if edges.windows(2).any(|w| w[0] >= w[1]) {
        return Err(StatsError::InvalidParameter {
            statistic: "histogram",
            reason: "edges must be strictly increasing",
        });
    }
    bound.check_comparable(edges, "histogram")?;
    let n = x.len();
    let m = edges.len();
    let me = party.id();
    let width = bound.width_against(edges);
    let below = if m == 0 {
        ArithShares::zeros(0)
    } else {
        sum_over_parts(party, n, part_size(party, m), |party, range| {
            let part = part_of(x, range);
            let shifted: Vec<ArithShares> = edges
                .iter()
                .map(|e| {
                    let mut d = part.as_ref().clone();
                    d.add_public(me, encode(*e).wrapping_neg());
                    d
                })
                .collect();
            let all = ArithShares::concat(&shifted.iter().collect::<Vec<_>>());
            let bits = msb_within(party, &all, width)?;
            count_ones(party, &bits, m)
        })?
    };
    // bucket 0 = cum_1, bucket j = cum_{j+1} - cum_j, bucket m = n - cum_m
    let mut counts = ArithShares::zeros(m + 1);
    for j in 0..=m {
        let (hi, lo) = (j < m, j > 0);
        let mut a = 0u64;
        let mut b = 0u64;
        if hi {
            a = a.wrapping_add(below.a[j]);
            b = b.wrapping_add(below.b[j]);
        }
        if lo {
            a = a.wrapping_sub(below.a[j - 1]);
            b = b.wrapping_sub(below.b[j - 1]);
        }
        counts.a[j] = a;
        counts.b[j] = b;
    }
    let mut last = counts.slice(m..m + 1);
    last.add_public(me, n as u64);
    counts.a[m] = last.a[0];
    counts.b[m] = last.b[0];
    Ok(Aggregates {
        statistic: Statistic::Histogram {
            edges: edges.to_vec(),
        },
        n: n as u64,
        shares: counts,
    })
}
