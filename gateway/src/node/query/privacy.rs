//! The differential-privacy rules of a query at a party, apart from any I/O: what a private
//! query must name, what it costs, what a researcher may spend, and the release it computes.
//!
//! A cluster runs in one of two modes ([`Privacy`]): `dp` (the default of `hdg init`; every
//! answer noised inside the MPC, every query charged to its researcher's budget) or `exact`
//! (synthetic data and benchmarks only; refused by the config check when consent is required).
//!
//! Costs and budgets are kept in nano-rho of zCDP (integers, so the three parties add the same
//! numbers): a query names its epsilon, which is converted at the cluster's delta
//! ([`hdg_mpc::dp::accounting::rho_from_epsilon`]) and rounded up; the budget per researcher
//! and period is converted the same way and rounded down.

use hdg_mpc::dp::accounting::{epsilon_from_rho, rho_from_epsilon};
use hdg_mpc::stats::private::{Clip, Release};

use super::filter::indicator;
use super::{Query, QueryError, Statistic};

/// nano-rho per rho.
pub const NANO: f64 = 1e9;

/// Buckets of the grid a private median is found on (inside the clip range).
pub const QUANTILE_BUCKETS: u16 = 32;

/// A day in milliseconds.
const DAY_MS: u64 = 86_400_000;

/// How a cluster answers queries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Privacy {
    /// Exact aggregates (synthetic data and benchmarks only).
    Exact,
    /// Differentially private answers under these rules.
    Dp(DpRules),
}

/// A cluster's differential-privacy rules (the same at the three parties; they compare them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DpRules {
    /// The delta every epsilon is stated at.
    pub delta: f64,
    /// The largest epsilon one query may spend.
    pub max_epsilon: f64,
    /// What one researcher may spend per period, as epsilon at `delta` (composed in zCDP).
    pub budget_epsilon: f64,
    /// The budget period, days (budgets restart at each multiple of it since the epoch).
    pub period_days: u64,
}

impl DpRules {
    /// The budget per researcher and period, nano-rho (rounded down).
    pub fn budget_nano_rho(&self) -> u64 {
        (rho_from_epsilon(self.budget_epsilon, self.delta) * NANO).floor() as u64
    }

    /// What a query of `epsilon` costs, nano-rho (rounded up).
    pub fn charge(&self, epsilon: f64) -> u64 {
        (rho_from_epsilon(epsilon, self.delta) * NANO).ceil() as u64
    }

    /// The budget period that `now_ms` falls in.
    pub fn period(&self, now_ms: i64) -> u64 {
        now_ms.max(0) as u64 / self.period_ms()
    }

    /// Where budget period `period` starts and ends (excluded), unix ms.
    pub fn period_bounds(&self, period: u64) -> (u64, u64) {
        (period * self.period_ms(), (period + 1) * self.period_ms())
    }

    fn period_ms(&self) -> u64 {
        self.period_days.max(1) * DAY_MS
    }

    /// nano-rho as epsilon at this delta (for people).
    pub fn epsilon_of(&self, nano_rho: u64) -> f64 {
        epsilon_from_rho(nano_rho as f64 / NANO, self.delta)
    }

    /// The rules as words, for the parties' comparison before computing.
    pub fn words(&self) -> [u64; 4] {
        [
            self.delta.to_bits(),
            self.max_epsilon.to_bits(),
            self.budget_epsilon.to_bits(),
            self.period_days,
        ]
    }

    /// The epsilon a query may spend: named, positive, finite, at most the cluster's maximum.
    pub fn epsilon(&self, q: &Query) -> Result<f64, QueryError> {
        let e = q.epsilon.ok_or(QueryError::EpsilonRequired)?;
        if !(e.is_finite() && e > 0.0 && e <= self.max_epsilon) {
            return Err(QueryError::EpsilonOutOfRange {
                max: self.max_epsilon,
            });
        }
        Ok(e)
    }

    /// Refuses a charge that would take a researcher's spend in this period past the budget.
    pub fn check_budget(&self, spent: u64, charge: u64) -> Result<(), QueryError> {
        let budget = self.budget_nano_rho();
        if spent.saturating_add(charge) > budget {
            return Err(QueryError::BudgetExhausted {
                spent: self.epsilon_of(spent),
                asked: self.epsilon_of(charge),
                budget: self.budget_epsilon,
                delta: self.delta,
                period_days: self.period_days,
            });
        }
        Ok(())
    }
}

/// The largest of the spends the three parties hold: the one each party checks the budget
/// against, so that a party that lost or under-reports a charge cannot let a query through
/// (a peer's word can only make a party stricter than its own store).
pub fn agreed_spend(own: u64, peers: &[u64]) -> u64 {
    peers.iter().copied().fold(own, u64::max)
}

/// Refuses in an exact cluster a statistic defined only with its noise: the two-group
/// comparison, whose group sizes would otherwise be exact counts of a split the parties keep
/// secret. Checked with the query's shape, before anything is read.
pub fn check_exact(q: &Query) -> Result<(), QueryError> {
    match &q.statistic {
        Statistic::TwoGroups { .. } => Err(QueryError::PrivateOnly {
            statistic: "the two-group comparison",
        }),
        // An exact answer would count the cohort, a split the parties keep secret.
        Statistic::CohortMean { .. } => Err(QueryError::PrivateOnly {
            statistic: "a mean in a cohort chosen by another indicator",
        }),
        Statistic::Regression {
            cohort: Some(_), ..
        } => Err(QueryError::PrivateOnly {
            statistic: "a regression in a cohort chosen by another indicator",
        }),
        _ => Ok(()),
    }
}

/// The private release `q` computes, with its clipping bounds (the query's, or the catalog's
/// range), and whether each input must be clipped inside the MPC (not when the bounds contain
/// every value the catalog admits).
pub fn release(q: &Query) -> Result<(Release, Vec<bool>), QueryError> {
    let (x, x_needed) = clip_of(&q.indicator, q.clip)?;
    let release = match &q.statistic {
        Statistic::Count => Release::Count,
        Statistic::Sum => Release::Sum { clip: x },
        Statistic::Mean => Release::Mean { clip: x },
        Statistic::Variance => Release::Variance { clip: x },
        Statistic::Pearson { pair } => {
            let (y, y_needed) = clip_of(pair, q.pair_clip)?;
            return Ok((Release::Pearson { x, y }, vec![x_needed, y_needed]));
        }
        Statistic::Covariance { pair } => {
            let (y, y_needed) = clip_of(pair, q.pair_clip)?;
            return Ok((Release::Covariance { x, y }, vec![x_needed, y_needed]));
        }
        Statistic::Regression { predictors, cohort } => {
            let (mut clips, mut needed) = (vec![x], vec![x_needed]);
            for p in predictors {
                let (clip, clip_needed) = clip_of(&p.indicator, p.clip)?;
                clips.push(clip);
                needed.push(clip_needed);
            }
            if let Some(c) = cohort {
                // The cohort's column is compared, never clipped.
                indicator(&c.by)?;
                needed.push(false);
            }
            let cohort = cohort.as_ref().map(|c| c.threshold);
            return Ok((Release::Regression { clips, cohort }, needed));
        }
        Statistic::CohortMean { cohort } => {
            indicator(&cohort.by)?;
            let release = Release::CohortMean {
                threshold: cohort.threshold,
                clip: x,
            };
            return Ok((release, vec![x_needed, false]));
        }
        Statistic::Histogram { edges } => Release::Histogram {
            edges: edges.clone(),
        },
        Statistic::FilteredMean { threshold, .. } => Release::FilteredMean {
            threshold: *threshold,
            clip: x,
        },
        Statistic::Min | Statistic::Max => Release::Extreme {
            max: matches!(q.statistic, Statistic::Max),
            clip: x,
            buckets: QUANTILE_BUCKETS,
        },
        Statistic::Median => Release::Quantile {
            permille: 500,
            clip: x,
            buckets: QUANTILE_BUCKETS,
        },
        Statistic::TwoGroups { threshold, .. } => Release::TwoGroups {
            threshold: *threshold,
            clip: x,
        },
        Statistic::Quantile { permille } => Release::Quantile {
            permille: *permille,
            clip: x,
            buckets: QUANTILE_BUCKETS,
        },
    };
    // A two-group comparison's split is compared, never clipped.
    let needed = match release {
        Release::TwoGroups { .. } => vec![x_needed, false],
        _ => vec![x_needed],
    };
    Ok((release, needed))
}

/// The clip of an indicator: the asked bounds (inside the catalog's range) or the range itself.
fn clip_of(code: &str, asked: Option<[i64; 2]>) -> Result<(Clip, bool), QueryError> {
    let ind = indicator(code)?;
    let [lo, hi] = asked.unwrap_or([ind.min_fixed, ind.max_fixed]);
    if lo < ind.min_fixed || hi > ind.max_fixed || lo >= hi {
        return Err(QueryError::Clip {
            reason: "clipping bounds must satisfy lo < hi within the catalog's range of the indicator",
        });
    }
    let clip = Clip::new(lo, hi).map_err(|_| QueryError::Clip {
        reason: "clipping range too wide",
    })?;
    Ok((clip, lo > ind.min_fixed || hi < ind.max_fixed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> DpRules {
        DpRules {
            delta: 1e-6,
            max_epsilon: 2.0,
            budget_epsilon: 10.0,
            period_days: 30,
        }
    }

    fn query(statistic: Statistic, epsilon: Option<f64>) -> Query {
        Query {
            statistic,
            indicator: "8480-6".into(),
            from: None,
            to: None,
            researcher_x25519: [0; 32],
            purpose: crate::node::consent::Purpose::Research,
            epsilon,
            clip: None,
            pair_clip: None,
        }
    }

    #[test]
    fn an_exact_cluster_refuses_only_the_two_group_comparison() {
        let two_groups = Statistic::TwoGroups {
            by: "39156-5".into(),
            threshold: 300,
        };
        let e = check_exact(&query(two_groups, None)).unwrap_err();
        assert!(matches!(e, QueryError::PrivateOnly { .. }), "{e}");
        assert!(e.to_string().contains("differential privacy"), "{e}");
        for ok in [
            Statistic::Mean,
            Statistic::Median,
            Statistic::Quantile { permille: 900 },
        ] {
            assert!(check_exact(&query(ok, None)).is_ok());
        }
    }

    #[test]
    fn a_private_query_names_an_epsilon_within_the_maximum() {
        let r = rules();
        assert!(matches!(
            r.epsilon(&query(Statistic::Count, None)),
            Err(QueryError::EpsilonRequired)
        ));
        for bad in [0.0, -1.0, 2.5, f64::INFINITY] {
            assert!(matches!(
                r.epsilon(&query(Statistic::Count, Some(bad))),
                Err(QueryError::EpsilonOutOfRange { .. })
            ));
        }
        assert_eq!(r.epsilon(&query(Statistic::Count, Some(2.0))).unwrap(), 2.0);
    }

    #[test]
    fn the_budget_admits_what_it_holds_and_refuses_one_more() {
        let r = rules();
        let each = r.charge(1.0);
        let budget = r.budget_nano_rho();
        let fits = budget / each;
        // zCDP composes better than adding epsilons: ten queries of 1 fit in a budget of 10.
        assert!(fits > 10, "{fits}");
        assert!(r.check_budget((fits - 1) * each, each).is_ok());
        let refused = r.check_budget(fits * each, each).unwrap_err();
        let text = refused.to_string();
        assert!(text.contains("privacy budget"), "{text}");
        assert!(text.contains("10"), "{text}");
    }

    #[test]
    fn a_peer_can_only_make_the_budget_stricter() {
        assert_eq!(agreed_spend(50, &[10, 20]), 50);
        assert_eq!(agreed_spend(50, &[70, 20]), 70);
    }

    #[test]
    fn periods_split_time_into_whole_multiples() {
        let r = rules();
        let day = 86_400_000i64;
        assert_eq!(r.period(0), 0);
        assert_eq!(r.period(30 * day - 1), 0);
        assert_eq!(r.period(30 * day), 1);
        assert_eq!(r.period(-5), 0);
        let (start, end) = r.period_bounds(1);
        assert_eq!((start, end), (30 * day as u64, 60 * day as u64));
        assert_eq!(r.period(start as i64), 1);
        assert_eq!(r.period(end as i64 - 1), 1);
    }

    #[test]
    fn clips_default_to_the_catalog_and_stay_inside_it() {
        let (rel, needed) = release(&query(Statistic::Mean, Some(1.0))).unwrap();
        assert_eq!(needed, [false]);
        let Release::Mean { clip } = rel else {
            panic!("{rel:?}")
        };
        let mut q = query(Statistic::Mean, Some(1.0));
        q.clip = Some([clip.lo + 1, clip.hi]);
        assert_eq!(release(&q).unwrap().1, [true]);
        q.clip = Some([clip.lo - 1, clip.hi]);
        assert!(matches!(release(&q), Err(QueryError::Clip { .. })));
        q.clip = Some([5, 5]);
        assert!(matches!(release(&q), Err(QueryError::Clip { .. })));
    }

    #[test]
    fn the_median_is_a_grid_quantile() {
        let (rel, _) = release(&query(Statistic::Median, Some(1.0))).unwrap();
        assert!(matches!(
            rel,
            Release::Quantile {
                permille: 500,
                buckets: QUANTILE_BUCKETS,
                ..
            }
        ));
    }
}
