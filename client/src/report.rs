//! An opened answer as a researcher reads it: the statistic's figures in the indicator's units,
//! with what it was asked of, the row count (exact answers only: a private answer carries
//! none), where each party logged the query, and the exact fixed-point answer with its scale.
//! `hdg query --format json` prints it; the Python client turns it into dataclasses.

use hdg_mpc::stats::StatValue;
use hdg_wire::filter::indicator;
use hdg_wire::query::Statistic;
use serde::Serialize;

use crate::figures::{Figure, Unit, figures};
use crate::query::Answer;
use crate::request::Request;

/// The answer to one request, in units.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The statistic as the request named it (`mean`, `two-groups`, ...).
    pub statistic: String,
    /// The indicator (a regression's outcome).
    pub indicator: String,
    /// The paired indicator of a Pearson correlation or a covariance.
    pub pair: Option<String>,
    /// The indicator that splits a two-group comparison, or chooses the cohort of a mean or a
    /// regression.
    pub by: Option<String>,
    /// A regression's predictors, in the order of its slopes.
    pub predictors: Option<Vec<String>>,
    /// The indicator's UCUM unit.
    pub unit: String,
    /// Whether the answer is differentially private (its figures carry noise intervals).
    pub private: bool,
    /// The privacy loss spent, for a private answer.
    pub epsilon: Option<f64>,
    /// The figures, each in its unit.
    pub figures: Vec<Figure>,
    /// Rows (pairs) the statistic ran on; `None` for a private answer, which reveals no exact
    /// count.
    pub rows: Option<u64>,
    /// The query's leaf index in each party's ledger.
    pub query_ledger_index: Vec<Option<u64>>,
    /// The answer exactly as the parties computed it, in fixed point.
    pub fixed_point: FixedPoint,
}

/// The answer in the indicator's fixed point and the scale that turns it into the unit.
#[derive(Debug, Clone, Serialize)]
pub struct FixedPoint {
    /// The opened statistic.
    pub result: StatValue,
    /// 10^precision of the indicator.
    pub scale: f64,
}

/// The unit of indicator `code` as the active catalog gives it.
pub fn unit_of(code: &str) -> anyhow::Result<Unit> {
    let ind = indicator(code).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Unit {
        code: code.to_owned(),
        ucum: ind.unit.clone(),
        scale: 10f64.powi(ind.precision as i32),
    })
}

impl Report {
    /// The report of `answer` to `request`, which asked `statistic`.
    pub fn new(
        request: &Request,
        statistic: &Statistic,
        answer: &Answer,
    ) -> anyhow::Result<Report> {
        let x = unit_of(&request.indicator)?;
        let others = statistic
            .others()
            .into_iter()
            .map(unit_of)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let edges = match statistic {
            Statistic::Histogram { edges } => edges.as_slice(),
            _ => &[],
        };
        let private = matches!(answer.value, StatValue::Private { .. });
        let (pair, by, predictors) = match statistic {
            Statistic::Pearson { pair } | Statistic::Covariance { pair } => {
                (Some(pair.clone()), None, None)
            }
            Statistic::TwoGroups { by, .. } => (None, Some(by.clone()), None),
            Statistic::CohortMean { cohort } => (None, Some(cohort.by.clone()), None),
            Statistic::Regression { predictors, cohort } => (
                None,
                cohort.as_ref().map(|c| c.by.clone()),
                Some(predictors.iter().map(|p| p.indicator.clone()).collect()),
            ),
            _ => (None, None, None),
        };
        Ok(Report {
            statistic: request.stat.clone(),
            indicator: request.indicator.clone(),
            pair,
            by,
            predictors,
            unit: x.ucum.clone(),
            private,
            epsilon: private.then_some(request.epsilon),
            figures: figures(&answer.value, &x, &others, edges),
            rows: (!private).then_some(answer.rows),
            query_ledger_index: answer.ledger.clone(),
            fixed_point: FixedPoint {
                result: answer.value.clone(),
                scale: x.scale,
            },
        })
    }

    /// The figure named `name`, if the answer has one.
    pub fn figure(&self, name: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.name == name)
    }
}
