//! A researcher's question in words and units, as the command line and the Python client take
//! it (`stat = "mean"`, `indicator = "4548-4"`, `where = "value > 6.5 %"`, `clip = "4..14"`), and
//! its reading into the wire's [`Question`]: the statistic with its parameters in the
//! indicator's fixed point, the window in unix ms.
//!
//! One reading for every client, so `hdg query --stat quantile --quantile 0.9` and
//! `cluster.quantile("4548-4", 0.9)` send the same query. Every refusal names the parameter
//! it is about.

use anyhow::{Context, bail};
use hdg_schema::Timestamp;
use hdg_wire::Purpose;
use hdg_wire::filter::{FilterError, filtered_mean, indicator, parse_edges, parse_filter};
use hdg_wire::query::{Cohort, DEFAULT_MIN_COHORT, Predictor, Statistic};
use serde::{Deserialize, Serialize};

use crate::query::Question;

/// The epsilon a query spends unless told otherwise.
pub const DEFAULT_EPSILON: f64 = 1.0;

/// The statistics a request may name, as it names them.
pub const STATISTICS: [&str; 13] = [
    "count",
    "sum",
    "mean",
    "variance",
    "pearson",
    "covariance",
    "histogram",
    "median",
    "min",
    "max",
    "quantile",
    "two-groups",
    "regression",
];

/// A question as a researcher words it; [`Request::question`] reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// One of [`STATISTICS`] (`mean` with `where` is the filtered mean: count and mean of the
    /// values matching the clause).
    pub stat: String,
    /// The indicator's LOINC code (a regression's outcome).
    pub indicator: String,
    /// Earliest effective time included (FHIR date or dateTime).
    #[serde(default)]
    pub from: Option<String>,
    /// First effective time excluded (FHIR date or dateTime).
    #[serde(default)]
    pub to: Option<String>,
    /// `value > NUMBER [UNIT]` or `value >= NUMBER [UNIT]`: a filtered mean's filter on the
    /// indicator itself; with `by`, who is in the cohort of a mean or a regression, or the
    /// split of `two-groups`, on the `by` indicator.
    #[serde(default, rename = "where")]
    pub filter: Option<String>,
    /// The indicator that chooses a cohort (`mean`, `regression`) or splits the patients
    /// (`two-groups`), with `where`.
    #[serde(default)]
    pub by: Option<String>,
    /// The second indicator of `pearson` or `covariance`, paired per patient.
    #[serde(default)]
    pub pair: Option<String>,
    /// A regression's predictors, `CODE` or `CODE:LO..HI` (clipping bounds in its unit).
    #[serde(default)]
    pub predictors: Vec<String>,
    /// The quantile of `quantile`, strictly between 0 and 1 in thousandths.
    #[serde(default)]
    pub quantile: Option<f64>,
    /// A histogram's bucket edges, comma-separated, in the indicator's unit.
    #[serde(default)]
    pub edges: Option<String>,
    /// What the result is for.
    #[serde(default = "research")]
    pub purpose: Purpose,
    /// The privacy loss to spend (a private cluster charges it; an exact one ignores it).
    #[serde(default = "default_epsilon")]
    pub epsilon: f64,
    /// Bounds every value is clipped to, `LO..HI` in the indicator's unit.
    #[serde(default)]
    pub clip: Option<String>,
    /// Clipping bounds of the `pair` indicator, `LO..HI` in its unit.
    #[serde(default)]
    pub pair_clip: Option<String>,
    /// Smallest filtered cohort a filtered mean releases (a node may raise it).
    #[serde(default = "default_min_cohort")]
    pub min_cohort: u64,
}

fn research() -> Purpose {
    Purpose::Research
}

fn default_epsilon() -> f64 {
    DEFAULT_EPSILON
}

fn default_min_cohort() -> u64 {
    DEFAULT_MIN_COHORT
}

impl Request {
    /// `stat` of `indicator` with every parameter at its default.
    pub fn new(stat: &str, indicator: &str) -> Request {
        Request {
            stat: stat.to_owned(),
            indicator: indicator.to_owned(),
            from: None,
            to: None,
            filter: None,
            by: None,
            pair: None,
            predictors: Vec::new(),
            quantile: None,
            edges: None,
            purpose: Purpose::Research,
            epsilon: DEFAULT_EPSILON,
            clip: None,
            pair_clip: None,
            min_cohort: DEFAULT_MIN_COHORT,
        }
    }

    /// The question this request asks, in the indicator's fixed point; refused, naming the
    /// parameter, when a parameter is missing, out of place or not readable.
    pub fn question(&self) -> anyhow::Result<Question> {
        if !self.epsilon.is_finite() || self.epsilon <= 0.0 {
            bail!(
                "epsilon {}: must be a positive number (the privacy loss to spend)",
                self.epsilon
            );
        }
        Ok(Question {
            statistic: self.statistic()?,
            indicator: self.indicator.clone(),
            window: (
                self.from.as_deref().map(parse_time).transpose()?,
                self.to.as_deref().map(parse_time).transpose()?,
            ),
            purpose: self.purpose,
            epsilon: Some(self.epsilon),
            clip: self
                .clip
                .as_deref()
                .map(|c| clip_bounds(&self.indicator, c))
                .transpose()?,
            pair_clip: match (&self.pair_clip, &self.pair) {
                (Some(c), Some(pair)) => Some(clip_bounds(pair, c)?),
                (Some(_), None) => bail!("pair_clip needs pair"),
                (None, _) => None,
            },
        })
    }

    /// The statistic this request names, with its parameters.
    pub fn statistic(&self) -> anyhow::Result<Statistic> {
        let code = self.indicator.as_str();
        let q = |e: FilterError| anyhow::anyhow!("{e}");
        let takes_where = ["mean", "two-groups", "regression"].contains(&self.stat.as_str());
        if self.filter.is_some() && !takes_where {
            bail!("where goes with stat mean, two-groups or regression only");
        }
        if self.by.is_some() && !takes_where {
            bail!("by goes with stat mean, two-groups or regression only");
        }
        Ok(match self.stat.as_str() {
            "count" => Statistic::Count,
            "sum" => Statistic::Sum,
            "mean" => match (self.cohort()?, &self.filter) {
                (Some(cohort), _) => Statistic::CohortMean { cohort },
                (None, Some(clause)) => filtered_mean(code, clause, self.min_cohort).map_err(q)?,
                (None, None) => Statistic::Mean,
            },
            "variance" => Statistic::Variance,
            "median" => Statistic::Median,
            "min" => Statistic::Min,
            "max" => Statistic::Max,
            "quantile" => Statistic::Quantile {
                permille: permille(
                    self.quantile
                        .context("stat quantile needs quantile Q (such as 0.9)")?,
                )?,
            },
            "two-groups" => {
                let by = self
                    .by
                    .clone()
                    .context("stat two-groups needs by CODE (the indicator that splits)")?;
                let clause = self.filter.as_deref().context(
                    "stat two-groups needs where 'value > NUMBER' (the split on its by indicator)",
                )?;
                Statistic::TwoGroups {
                    threshold: parse_filter(&by, clause).map_err(q)?,
                    by,
                }
            }
            "covariance" => Statistic::Covariance {
                pair: self
                    .pair
                    .clone()
                    .context("stat covariance needs pair CODE")?,
            },
            "pearson" => Statistic::Pearson {
                pair: self.pair.clone().context("stat pearson needs pair CODE")?,
            },
            "regression" => {
                if self.filter.is_some() && self.by.is_none() {
                    bail!(
                        "where on a regression needs by CODE (the indicator that chooses the cohort)"
                    );
                }
                Statistic::Regression {
                    predictors: predictors(&self.predictors)?,
                    cohort: self.cohort()?,
                }
            }
            "histogram" => Statistic::Histogram {
                edges: parse_edges(
                    code,
                    self.edges
                        .as_deref()
                        .context("stat histogram needs edges A,B,C")?,
                )
                .map_err(q)?,
            },
            other => bail!("unknown statistic {other}: use {}", STATISTICS.join(", ")),
        })
    }

    /// The cohort `by` and `where` choose: the patients whose latest `by` passes the clause.
    fn cohort(&self) -> anyhow::Result<Option<Cohort>> {
        match (&self.by, &self.filter) {
            (Some(by), Some(clause)) => Ok(Some(Cohort {
                threshold: parse_filter(by, clause).map_err(|e| anyhow::anyhow!("{e}"))?,
                by: by.clone(),
            })),
            (Some(by), None) => {
                bail!("by {by} needs where 'value > NUMBER' (who is in the cohort)")
            }
            (None, _) => Ok(None),
        }
    }
}

/// `LO..HI` in the unit of `code` to fixed-point bounds.
pub fn clip_bounds(code: &str, text: &str) -> anyhow::Result<[i64; 2]> {
    let ind = indicator(code).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (lo, hi) = text
        .split_once("..")
        .with_context(|| format!("clip {text}: expected LO..HI"))?;
    let fixed = |v: &str| {
        ind.encode(v.trim(), &ind.unit)
            .map_err(|e| anyhow::anyhow!("clip {text}: {e}"))
    };
    Ok([fixed(lo)?, fixed(hi)?])
}

/// A regression's predictors from `CODE` or `CODE:LO..HI` (bounds in its unit).
fn predictors(texts: &[String]) -> anyhow::Result<Vec<Predictor>> {
    if texts.is_empty() {
        bail!("stat regression needs a predictor CODE (one or more)");
    }
    texts
        .iter()
        .map(|text| {
            let (code, clip) = match text.split_once(':') {
                Some((code, bounds)) => (code.trim(), Some(clip_bounds(code.trim(), bounds)?)),
                None => (text.trim(), None),
            };
            indicator(code).map_err(|e| anyhow::anyhow!("predictor {text}: {e}"))?;
            Ok(Predictor {
                indicator: code.to_owned(),
                clip,
            })
        })
        .collect()
}

/// A quantile q in thousandths: 0 < q < 1 with at most three decimals.
fn permille(q: f64) -> anyhow::Result<u16> {
    let thousandths = (q * 1000.0).round();
    if !(1.0..=999.0).contains(&thousandths) || (q * 1000.0 - thousandths).abs() > 1e-6 {
        bail!(
            "quantile {q}: must be strictly between 0 and 1, in thousandths (such as 0.9 or 0.975)"
        );
    }
    Ok(thousandths as u16)
}

/// A FHIR date or dateTime as unix ms.
pub fn parse_time(text: &str) -> anyhow::Result<i64> {
    Timestamp::parse_fhir(text)
        .map(|t| t.0)
        .map_err(|e| anyhow::anyhow!("bad time {text}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_read_in_thousandths_and_others_refused() {
        assert_eq!(permille(0.9).unwrap(), 900);
        assert_eq!(permille(0.975).unwrap(), 975);
        assert_eq!(permille(0.001).unwrap(), 1);
        for bad in [0.0, 1.0, -0.5, 1.5, 0.9751, f64::NAN] {
            let e = permille(bad).unwrap_err().to_string();
            assert!(e.contains("strictly between 0 and 1"), "{bad}: {e}");
        }
    }

    #[test]
    fn clip_bounds_are_read_in_the_indicators_unit_and_bad_ones_named() {
        // Systolic BP at precision 1: 80..200 mmHg is 800..2000 in fixed point.
        assert_eq!(clip_bounds("8480-6", "80..200").unwrap(), [800, 2000]);
        assert_eq!(clip_bounds("8480-6", " 80 .. 200.5 ").unwrap(), [800, 2005]);
        let e = clip_bounds("8480-6", "80-200").unwrap_err().to_string();
        assert!(e.contains("LO..HI"), "{e}");
        let e = clip_bounds("8480-6", "80..lots").unwrap_err().to_string();
        assert!(e.contains("clip 80..lots"), "{e}");
        assert!(clip_bounds("0000-0", "1..2").is_err());
    }

    #[test]
    fn predictors_are_read_with_their_bounds_in_their_unit() {
        let got = predictors(&["39156-5:18..40".into(), " 4548-4 ".into()]).unwrap();
        assert_eq!(
            got,
            [
                Predictor {
                    indicator: "39156-5".into(),
                    clip: Some([180, 400]),
                },
                Predictor {
                    indicator: "4548-4".into(),
                    clip: None,
                },
            ]
        );
        let e = predictors(&[]).unwrap_err().to_string();
        assert!(e.contains("predictor"), "{e}");
        let e = predictors(&["0000-0".into()]).unwrap_err().to_string();
        assert!(e.contains("0000-0") && e.contains("catalog"), "{e}");
        let e = predictors(&["39156-5:40".into()]).unwrap_err().to_string();
        assert!(e.contains("LO..HI"), "{e}");
    }

    #[test]
    fn a_request_reads_into_the_question_the_parties_get() {
        let mut r = Request::new("mean", "4548-4");
        r.filter = Some("value > 6.5 %".into());
        r.from = Some("2020-01-01".into());
        r.clip = Some("4..14".into());
        r.epsilon = 0.5;
        let q = r.question().unwrap();
        assert_eq!(q.window, (Some(1_577_836_800_000), None));
        assert_eq!(q.clip, Some([40, 140]));
        assert_eq!(q.epsilon, Some(0.5));
        assert!(
            matches!(q.statistic, Statistic::FilteredMean { .. }),
            "{q:?}"
        );

        let mut r = Request::new("quantile", "4548-4");
        r.quantile = Some(0.9);
        assert_eq!(
            r.statistic().unwrap(),
            Statistic::Quantile { permille: 900 }
        );
    }

    #[test]
    fn a_missing_or_misplaced_parameter_is_named() {
        type Change = fn(&mut Request);
        let cases: [(&str, Change, &str); 7] = [
            ("quantile", |_| {}, "needs quantile"),
            ("pearson", |_| {}, "needs pair"),
            ("histogram", |_| {}, "needs edges"),
            (
                "two-groups",
                |r| r.by = Some("39156-5".into()),
                "needs where",
            ),
            ("regression", |_| {}, "needs a predictor"),
            (
                "variance",
                |r| r.filter = Some("value > 1".into()),
                "where goes with",
            ),
            ("mode", |_| {}, "unknown statistic mode"),
        ];
        for (stat, change, expected) in cases {
            let mut r = Request::new(stat, "4548-4");
            change(&mut r);
            let e = r.question().unwrap_err().to_string();
            assert!(e.contains(expected), "{stat}: {e}");
        }
        let mut r = Request::new("mean", "4548-4");
        r.pair_clip = Some("1..2".into());
        assert!(
            r.question()
                .unwrap_err()
                .to_string()
                .contains("pair_clip needs pair")
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let mut r = Request::new("mean", "4548-4");
            r.epsilon = bad;
            let e = r.question().unwrap_err().to_string();
            assert!(e.contains("positive"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_request_in_json_takes_defaults_and_refuses_unknown_fields() {
        let r: Request =
            serde_json::from_str(r#"{"stat":"mean","indicator":"4548-4","where":"value > 7"}"#)
                .unwrap();
        assert_eq!(r.filter.as_deref(), Some("value > 7"));
        assert_eq!(r.purpose, Purpose::Research);
        assert_eq!(r.epsilon, DEFAULT_EPSILON);
        assert_eq!(r.min_cohort, DEFAULT_MIN_COHORT);
        let e = serde_json::from_str::<Request>(r#"{"stat":"mean","indicator":"x","wehre":"1"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `wehre`"), "{e}");
    }
}
