//! What one query may cost a party. A statistic's memory grows with the values it takes through
//! the MPC's multiplications and comparisons at once: a histogram compares every row with every
//! edge, so 10^6 edges over 5,000 rows would ask each party for about 160 GB. Count, sum and mean
//! are local sums of the shares already selected and take nothing through the protocol. The caps are the same at every party (constants, not
//! configuration), so the three refuse the same queries at the same step, and the refusal names
//! the limit (422).
//!
//! The shape of a query (its edges) is checked before anything is read; its work, which needs
//! the number of rows selected, before the MPC starts.

use super::{Query, QueryError, Statistic};

/// Most edges a histogram may have.
pub const MAX_HISTOGRAM_EDGES: usize = 64;

/// Most predictors a regression may have (each one more column selected, clipped and
/// multiplied with every other).
pub const MAX_PREDICTORS: usize = 8;

/// Most values one query may take through the protocol at once (rows × edges for a histogram):
/// about 1 GiB of shares and comparison state at each party.
pub const MAX_QUERY_WORK: u64 = 1 << 25;

/// Refuses a query whose parameters alone exceed a cap.
pub fn check_shape(q: &Query) -> Result<(), QueryError> {
    if let Statistic::Quantile { permille } = q.statistic
        && !(1..=999).contains(&permille)
    {
        return Err(QueryError::Quantile { permille });
    }
    if let Statistic::Histogram { edges } = &q.statistic
        && edges.len() > MAX_HISTOGRAM_EDGES
    {
        return Err(QueryError::TooManyEdges {
            edges: edges.len(),
            max: MAX_HISTOGRAM_EDGES,
        });
    }
    if let Statistic::Regression { predictors, .. } = &q.statistic {
        check_predictors(&q.indicator, predictors)?;
    }
    Ok(())
}

/// A regression has one to [`MAX_PREDICTORS`] predictors, each once and none the outcome.
fn check_predictors(outcome: &str, predictors: &[super::Predictor]) -> Result<(), QueryError> {
    let refuse = |reason: String| Err(QueryError::Predictors { reason });
    if predictors.is_empty() || predictors.len() > MAX_PREDICTORS {
        return refuse(format!(
            "{} predictors; a regression takes 1 to {MAX_PREDICTORS}",
            predictors.len()
        ));
    }
    for (i, p) in predictors.iter().enumerate() {
        if p.indicator == outcome {
            return refuse(format!(
                "{} is the outcome and cannot also be a predictor",
                p.indicator
            ));
        }
        if predictors[..i].iter().any(|o| o.indicator == p.indicator) {
            return refuse(format!("{} is named twice as a predictor", p.indicator));
        }
    }
    Ok(())
}

/// The values `q` takes through the protocol at once over `rows` rows (see the module doc);
/// saturating. A `private` release also clips each value against two bounds (two comparisons
/// per value and column), and finds its median on a grid of
/// [`super::privacy::QUANTILE_BUCKETS`] + 1 edges.
pub fn work(q: &Query, rows: u64, private: bool) -> u64 {
    let per_row = match (&q.statistic, private) {
        (Statistic::Histogram { edges }, _) => edges.len() as u64,
        (
            Statistic::Median | Statistic::Quantile { .. } | Statistic::Min | Statistic::Max,
            true,
        ) => u64::from(super::privacy::QUANTILE_BUCKETS) + 1,
        (Statistic::Pearson { .. } | Statistic::Covariance { .. }, true) => 4,
        // The split's (or the cohort's) comparison and the clipping's two.
        (Statistic::TwoGroups { .. } | Statistic::CohortMean { .. }, true) => 3,
        // Each column clipped against two bounds, and the cohort's comparison.
        (Statistic::Regression { predictors, cohort }, true) => {
            2 * (predictors.len() as u64 + 1) + u64::from(cohort.is_some())
        }
        // One product per pair of columns.
        (Statistic::Regression { predictors, .. }, false) => {
            let columns = predictors.len() as u64 + 1;
            columns * (columns + 1) / 2
        }
        (Statistic::Count, true) => 0,
        (_, true) => 2,
        (
            Statistic::Variance
            | Statistic::Pearson { .. }
            | Statistic::Covariance { .. }
            | Statistic::FilteredMean { .. }
            | Statistic::Median
            | Statistic::Quantile { .. }
            | Statistic::Min
            | Statistic::Max
            | Statistic::TwoGroups { .. }
            | Statistic::CohortMean { .. },
            false,
        ) => 1,
        (Statistic::Count | Statistic::Sum | Statistic::Mean, false) => 0,
    };
    rows.saturating_mul(per_row)
}

/// Refuses `q` over `rows` rows when its work exceeds [`MAX_QUERY_WORK`].
pub fn check_work(q: &Query, rows: u64, private: bool) -> Result<(), QueryError> {
    let work = work(q, rows, private);
    if work > MAX_QUERY_WORK {
        return Err(QueryError::TooMuchWork {
            work,
            max: MAX_QUERY_WORK,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::consent::Purpose;

    fn histogram(edges: usize) -> Query {
        Query {
            statistic: Statistic::Histogram {
                edges: (0..edges as i64).collect(),
            },
            indicator: "8867-4".into(),
            from: None,
            to: None,
            researcher_x25519: [0; 32],
            purpose: Purpose::Research,
            epsilon: None,
            clip: None,
            pair_clip: None,
        }
    }

    #[test]
    fn the_edge_cap_is_inclusive_and_named() {
        assert!(check_shape(&histogram(MAX_HISTOGRAM_EDGES)).is_ok());
        let e = check_shape(&histogram(MAX_HISTOGRAM_EDGES + 1)).unwrap_err();
        assert!(
            e.to_string().contains(&MAX_HISTOGRAM_EDGES.to_string()),
            "{e}"
        );
    }

    #[test]
    fn a_quantile_is_strictly_between_0_and_1000_thousandths() {
        let quantile = |permille| Query {
            statistic: Statistic::Quantile { permille },
            ..histogram(0)
        };
        for ok in [1, 500, 999] {
            assert!(check_shape(&quantile(ok)).is_ok(), "{ok}");
        }
        for bad in [0, 1000, u16::MAX] {
            let e = check_shape(&quantile(bad)).unwrap_err();
            assert!(matches!(e, QueryError::Quantile { permille } if permille == bad));
            assert!(e.to_string().contains("1 to 999"), "{e}");
        }
    }

    #[test]
    fn work_is_rows_times_edges_and_cannot_overflow() {
        let q = histogram(64);
        assert_eq!(work(&q, 1000, false), 64_000);
        assert_eq!(work(&histogram(0), 7, false), 0);
        assert_eq!(work(&q, u64::MAX, false), u64::MAX);
        let rows_at_cap = MAX_QUERY_WORK / 64;
        assert!(check_work(&q, rows_at_cap, false).is_ok());
        let e = check_work(&q, rows_at_cap + 1, false).unwrap_err();
        assert!(e.to_string().contains(&MAX_QUERY_WORK.to_string()), "{e}");
    }

    #[test]
    fn a_private_median_counts_its_grid_and_clipping_its_two_bounds() {
        let median = Query {
            statistic: Statistic::Median,
            ..histogram(0)
        };
        let grid = u64::from(super::super::privacy::QUANTILE_BUCKETS) + 1;
        assert_eq!(work(&median, 10, true), 10 * grid);
        assert_eq!(work(&median, 10, false), 10);
        let mean = Query {
            statistic: Statistic::Mean,
            ..histogram(0)
        };
        assert_eq!(work(&mean, 10, true), 20);
        assert_eq!(work(&mean, 10, false), 0);
    }
}
