//! The demo's sample statistics: each is asked of the running cluster as a signed researcher
//! query (answered in shares sealed to the researcher) and computed again here in plaintext,
//! straight from the cohort files the demo synthesised, with the same row rules the nodes use
//! (see `node::query::select`): the two results are printed side by side and must agree.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use ed25519_dalek::SigningKey;
use hdg_mpc::stats::StatValue;
use hdg_schema::{Catalog, ImportOptions, Mode, Pseudonym, RecordHandle, Timestamp, Value};
use hdg_storage::Store;

use super::files::import_file;
use super::http::NodeUrl;
use super::query::{Answer, Question, ask};
use crate::node::consent::Purpose;
use crate::node::query::Statistic;
use crate::node::query::filter::{filtered_mean, parse_edges};

/// One value as the cohort files say: patient, effective day, record handle (as its home node
/// names it), fixed-point value.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    patient: Pseudonym,
    day: Timestamp,
    handle: RecordHandle,
    value: i64,
}

/// Numeric values per indicator, read straight from the cohort files (the plaintext reference).
pub type Rows = HashMap<String, Vec<Row>>;

/// Adds the values of `files` to `rows`, with pseudonyms and handles as their home node's
/// `store` derives them.
pub fn read_rows(files: &[PathBuf], store: &Store, rows: &mut Rows) -> anyhow::Result<()> {
    let opts = ImportOptions {
        mode: Mode::Lenient,
        pseudonym_key: store.pseudonym_key(),
        catalog: Catalog::builtin(),
        enrolled: None,
    };
    for f in files {
        import_file(f, &opts, &mut |o| {
            if let Value::Quantity(value) = o.value {
                rows.entry(o.indicator.clone()).or_default().push(Row {
                    patient: o.patient,
                    day: o.effective.utc_day(),
                    handle: store.handle(&o.id()),
                    value,
                });
            }
        })?;
    }
    Ok(())
}

/// A sample query: what is asked, and how to read and check the answer.
struct Sample {
    name: &'static str,
    indicator: &'static str,
    statistic: Statistic,
}

fn samples() -> anyhow::Result<Vec<Sample>> {
    let q = |e: crate::node::query::QueryError| anyhow::anyhow!("{e}");
    Ok(vec![
        Sample {
            name: "mean HbA1c (%)",
            indicator: "4548-4",
            statistic: Statistic::Mean,
        },
        Sample {
            name: "variance of systolic BP (mmHg^2)",
            indicator: "8480-6",
            statistic: Statistic::Variance,
        },
        Sample {
            name: "correlation BMI ~ HbA1c",
            indicator: "39156-5",
            statistic: Statistic::Pearson {
                pair: "4548-4".into(),
            },
        },
        Sample {
            name: "histogram of glucose, edges 70,100,126,200",
            indicator: "2339-0",
            statistic: Statistic::Histogram {
                edges: parse_edges("2339-0", "70,100,126,200").map_err(q)?,
            },
        },
        Sample {
            name: "count, mean of glucose > 126 mg/dL",
            indicator: "2339-0",
            statistic: filtered_mean("2339-0", "value > 126", 10).map_err(q)?,
        },
        Sample {
            name: "median heart rate (lower median)",
            indicator: "8867-4",
            statistic: Statistic::Median,
        },
    ])
}

/// Asks every sample query of `node` as `researcher`, prints each result beside the plaintext
/// one, and returns whether all agree.
pub fn run_sample_queries(
    node: &NodeUrl,
    pins: &[[u8; 32]; 3],
    researcher: &SigningKey,
    plain: &Rows,
) -> anyhow::Result<bool> {
    println!(
        "{:<42} {:>26} {:>26} {:>6} {:>7} {:>11}",
        "query", "MPC result", "plaintext", "agree", "seconds", "bytes sent"
    );
    let mut all_agree = true;
    for sample in samples()? {
        let t = Instant::now();
        let question = Question {
            statistic: sample.statistic.clone(),
            indicator: sample.indicator.to_owned(),
            window: (None, None),
            purpose: Purpose::Research,
        };
        let answer = ask(
            node,
            pins,
            researcher,
            question,
            Duration::from_secs(120),
            None,
        )?;
        let seconds = t.elapsed().as_secs_f64();
        let (mpc, bytes, agree, plaintext) = match answer {
            Ok(Answer {
                value, bytes_sent, ..
            }) => {
                let expected = expected(&sample, plain);
                let agree = agrees(&value, &expected);
                let s = scale(sample.indicator);
                (
                    show(&value, s),
                    bytes_sent.iter().sum::<u64>(),
                    agree,
                    show_expected(&expected, s),
                )
            }
            Err(refused) => (
                format!("refused ({})", refused.status),
                0,
                false,
                refused.reason,
            ),
        };
        all_agree &= agree;
        println!(
            "{:<42} {mpc:>26} {plaintext:>26} {:>6} {seconds:>7.2} {bytes:>11}",
            sample.name,
            if agree { "yes" } else { "NO" },
        );
    }
    Ok(all_agree)
}

fn scale(code: &str) -> f64 {
    Catalog::builtin()
        .get(code)
        .map_or(1.0, |i| 10f64.powi(i.precision as i32))
}

/// A sample's result computed in plaintext (fixed point, as the MPC answer).
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    Count(u64),
    Mean {
        n: u64,
        mean: Option<f64>,
    },
    Variance {
        n: u64,
        sample_variance: Option<f64>,
    },
    Pearson {
        n: u64,
        r: Option<f64>,
    },
    Histogram(Vec<u64>),
    FilteredMean {
        count: u64,
        mean: f64,
    },
    Withheld,
    /// The lower median and its 1-based rank.
    Median {
        rank: u64,
        value: i64,
    },
}

/// The sample's result computed in plaintext from the cohort rows.
fn expected(sample: &Sample, plain: &Rows) -> Expected {
    let rows = |code: &str| plain.get(code).map_or(&[][..], Vec::as_slice);
    let x: Vec<i64> = rows(sample.indicator).iter().map(|r| r.value).collect();
    let n = x.len() as u64;
    let sum: i128 = x.iter().map(|v| i128::from(*v)).sum();
    let mean = (n > 0).then(|| sum as f64 / n as f64);
    match &sample.statistic {
        Statistic::Count | Statistic::Sum => Expected::Count(n),
        Statistic::Mean => Expected::Mean { n, mean },
        Statistic::Variance => {
            let m = mean.unwrap_or(0.0);
            let ss: f64 = x.iter().map(|v| (*v as f64 - m).powi(2)).sum();
            Expected::Variance {
                n,
                sample_variance: (n > 1).then(|| ss / (n - 1) as f64),
            }
        }
        Statistic::Pearson { pair } => {
            let (a, b) = latest_pairs(rows(sample.indicator), rows(pair));
            Expected::Pearson {
                n: a.len() as u64,
                r: pearson(&a, &b),
            }
        }
        Statistic::Histogram { edges } => {
            let mut counts = vec![0u64; edges.len() + 1];
            for v in &x {
                counts[edges.iter().filter(|e| v >= e).count()] += 1;
            }
            Expected::Histogram(counts)
        }
        Statistic::FilteredMean {
            threshold,
            min_cohort,
        } => {
            let above: Vec<i64> = x.iter().copied().filter(|v| v > threshold).collect();
            let count = above.len() as u64;
            if count < *min_cohort {
                return Expected::Withheld;
            }
            Expected::FilteredMean {
                count,
                mean: above.iter().sum::<i64>() as f64 / count as f64,
            }
        }
        Statistic::Median => {
            let mut sorted = x.clone();
            sorted.sort_unstable();
            let rank = sorted.len().div_ceil(2);
            Expected::Median {
                rank: rank as u64,
                value: sorted.get(rank.saturating_sub(1)).copied().unwrap_or(0),
            }
        }
    }
}

/// Per patient, the latest value of each indicator (latest day, then larger handle), for
/// patients with both, in pseudonym order: the nodes' pairing rule.
fn latest_pairs(x: &[Row], y: &[Row]) -> (Vec<i64>, Vec<i64>) {
    let latest = |rows: &[Row]| {
        let mut m: BTreeMap<Pseudonym, Row> = BTreeMap::new();
        for r in rows {
            let e = m.entry(r.patient).or_insert(*r);
            if (r.day, r.handle) > (e.day, e.handle) {
                *e = *r;
            }
        }
        m
    };
    let (lx, ly) = (latest(x), latest(y));
    lx.iter()
        .filter_map(|(p, a)| ly.get(p).map(|b| (a.value, b.value)))
        .unzip()
}

fn pearson(x: &[i64], y: &[i64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<i64>() as f64 / n;
    let my = y.iter().sum::<i64>() as f64 / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (*a as f64 - mx, *b as f64 - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    Some(sxy / (sxx * syy).sqrt())
}

/// Whether the MPC answer equals the plaintext one: counts, histograms and order statistics
/// exactly, means, variances and correlations to 1e-9 relative (their integer aggregates are
/// exact; only the final division is floating point).
fn agrees(got: &StatValue, want: &Expected) -> bool {
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        (None, None) => true,
        _ => false,
    };
    match (got, want) {
        (StatValue::Count { n }, Expected::Count(m)) => n == m,
        (StatValue::Mean { mean, n, .. }, Expected::Mean { n: m, mean: want }) => {
            n == m && close(*mean, *want)
        }
        (
            StatValue::Variance {
                sample_variance, n, ..
            },
            Expected::Variance {
                n: m,
                sample_variance: want,
            },
        ) => n == m && close(*sample_variance, *want),
        (StatValue::Pearson { r, n, .. }, Expected::Pearson { n: m, r: want }) => {
            n == m && close(*r, *want)
        }
        (StatValue::Histogram { counts, .. }, Expected::Histogram(want)) => counts == want,
        (
            StatValue::FilteredMean { count, mean, .. },
            Expected::FilteredMean {
                count: c,
                mean: want,
            },
        ) => count == c && close(*mean, Some(*want)),
        (StatValue::Withheld { .. }, Expected::Withheld) => true,
        (StatValue::OrderStatistic { rank, value }, Expected::Median { rank: r, value: v }) => {
            rank == r && value == v
        }
        _ => false,
    }
}

/// An MPC result for the table, in the indicator's unit (`scale` = 10^precision).
fn show(v: &StatValue, scale: f64) -> String {
    match v {
        StatValue::Count { n } => format!("{n}"),
        StatValue::Mean {
            mean: Some(m), n, ..
        } => format!("{:.3} (n={n})", m / scale),
        StatValue::Variance {
            sample_variance: Some(var),
            n,
            ..
        } => format!("{:.3} (n={n})", var / (scale * scale)),
        StatValue::Pearson { r: Some(r), n, .. } => format!("r={r:.4} (n={n})"),
        StatValue::Histogram { counts, .. } => format!("{counts:?}"),
        StatValue::FilteredMean {
            count,
            mean: Some(m),
            ..
        } => format!("{count}, {:.2}", m / scale),
        StatValue::Withheld { .. } => "withheld".to_owned(),
        StatValue::OrderStatistic { value, .. } => format!("{:.1}", *value as f64 / scale),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A plaintext result for the table, as [`show`] prints the MPC one.
fn show_expected(e: &Expected, scale: f64) -> String {
    let opt = |v: Option<f64>, s: f64, digits: usize| {
        v.map_or_else(|| "-".to_owned(), |v| format!("{:.*}", digits, v / s))
    };
    match e {
        Expected::Count(n) => format!("{n}"),
        Expected::Mean { n, mean } => format!("{} (n={n})", opt(*mean, scale, 3)),
        Expected::Variance { n, sample_variance } => {
            format!("{} (n={n})", opt(*sample_variance, scale * scale, 3))
        }
        Expected::Pearson { n, r } => format!("r={} (n={n})", opt(*r, 1.0, 4)),
        Expected::Histogram(counts) => format!("{counts:?}"),
        Expected::FilteredMean { count, mean } => format!("{count}, {:.2}", mean / scale),
        Expected::Withheld => "withheld".to_owned(),
        Expected::Median { value, .. } => format!("{:.1}", *value as f64 / scale),
    }
}

/// Reads the researcher's seed file written by `init`.
pub fn researcher_key(path: &std::path::Path) -> anyhow::Result<SigningKey> {
    super::query::read_seed(path).context("the demo researcher's key")
}
