//! The demo's sample statistics: each is asked of the running cluster as a signed researcher
//! query with differential privacy (answered in shares sealed to the researcher, noised inside
//! the MPC) and computed again here in plaintext, straight from the cohort files the demo
//! synthesised, with the same rules the nodes use (one value per patient, clipped; see
//! `node::query::select` and `hdg_mpc::stats::private`): the two are printed side by side, and
//! each private answer must be within its noise of the plaintext.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use ed25519_dalek::SigningKey;
use hdg_mpc::stats::StatValue;
use hdg_mpc::stats::estimate::Estimate;
use hdg_schema::{
    Catalog, Enrolments, ImportOptions, Mode, Pseudonym, RecordHandle, Timestamp, Value,
};
use hdg_storage::Store;

use super::files::import_file;
use super::http::NodeUrl;
use hdg_client::query::{Answer, Question, ask};
use hdg_wire::Purpose;
use hdg_wire::filter::{FilterError, filtered_mean, parse_edges, parse_filter};
use hdg_wire::query::{Cohort, Predictor, Statistic};

/// One value as the cohort files say: patient, effective day, record handle (as its home node
/// names it), fixed-point value.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    patient: Pseudonym,
    day: Timestamp,
    handle: RecordHandle,
    value: i64,
}

impl Row {
    /// The patient's pseudonym.
    pub fn patient(&self) -> Pseudonym {
        self.patient
    }
}

/// Numeric values per indicator, read straight from the cohort files (the plaintext reference).
pub type Rows = HashMap<String, Vec<Row>>;

/// Adds the values of `files` to `rows`, with pseudonyms and handles as their home node's
/// `store` derives them (`enrolled`: its enrolled patients', by their keys).
pub fn read_rows(
    files: &[PathBuf],
    store: &Store,
    enrolled: Option<&Enrolments>,
    rows: &mut Rows,
) -> anyhow::Result<()> {
    let opts = ImportOptions {
        mode: Mode::Lenient,
        pseudonym_key: store.pseudonym_key(),
        catalog: Catalog::active(),
        enrolled,
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

/// A sample query: what is asked (with the clipping bounds a researcher would choose, in the
/// indicator's unit), and how to read and check the answer.
struct Sample {
    name: &'static str,
    indicator: &'static str,
    statistic: Statistic,
    clip: Option<(&'static str, &'static str)>,
    pair_clip: Option<(&'static str, &'static str)>,
}

fn samples() -> anyhow::Result<Vec<Sample>> {
    let q = |e: FilterError| anyhow::anyhow!("{e}");
    let sample = |name, indicator, statistic, clip| Sample {
        name,
        indicator,
        statistic,
        clip,
        pair_clip: None,
    };
    Ok(vec![
        sample(
            "mean HbA1c (%)",
            "4548-4",
            Statistic::Mean,
            Some(("4", "10")),
        ),
        sample(
            "variance of systolic BP (mmHg^2)",
            "8480-6",
            Statistic::Variance,
            Some(("80", "200")),
        ),
        // Clipped where most patients lie (a cross product's sensitivity is the product of the
        // two radii): wider bounds leave a correlation over 300 patients mostly noise.
        Sample {
            pair_clip: Some(("4.5", "8.5")),
            ..sample(
                "correlation BMI ~ HbA1c",
                "39156-5",
                Statistic::Pearson {
                    pair: "4548-4".into(),
                },
                Some(("18", "40")),
            )
        },
        sample(
            "histogram of glucose, edges 70,100,126,200",
            "2339-0",
            Statistic::Histogram {
                edges: parse_edges("2339-0", "70,100,126,200").map_err(q)?,
            },
            None,
        ),
        sample(
            "count, mean of glucose > 126 mg/dL",
            "2339-0",
            filtered_mean("2339-0", "value > 126", 10).map_err(q)?,
            Some(("126", "400")),
        ),
        sample(
            "HbA1c (%), BMI > 30 minus the others",
            "4548-4",
            Statistic::TwoGroups {
                by: "39156-5".into(),
                threshold: parse_filter("39156-5", "value > 30").map_err(q)?,
            },
            Some(("4", "10")),
        ),
        sample(
            "median heart rate",
            "8867-4",
            Statistic::Median,
            Some(("40", "140")),
        ),
        sample(
            "regression systolic BP ~ BMI + HbA1c (R^2)",
            "8480-6",
            Statistic::Regression {
                predictors: vec![
                    Predictor {
                        indicator: "39156-5".into(),
                        clip: clip_of("39156-5", Some(("18", "40")))?,
                    },
                    Predictor {
                        indicator: "4548-4".into(),
                        clip: clip_of("4548-4", Some(("4.5", "8.5")))?,
                    },
                ],
                cohort: None,
            },
            Some(("90", "180")),
        ),
        sample(
            "regression systolic BP ~ HbA1c, BMI > 30 only",
            "8480-6",
            Statistic::Regression {
                predictors: vec![Predictor {
                    indicator: "4548-4".into(),
                    clip: clip_of("4548-4", Some(("4.5", "8.5")))?,
                }],
                cohort: Some(Cohort {
                    by: "39156-5".into(),
                    threshold: parse_filter("39156-5", "value > 30").map_err(q)?,
                }),
            },
            Some(("90", "180")),
        ),
    ])
}

/// Fixed-point clipping bounds of `code` from decimal text in its unit.
fn clip_of(code: &str, bounds: Option<(&str, &str)>) -> anyhow::Result<Option<[i64; 2]>> {
    let Some((lo, hi)) = bounds else {
        return Ok(None);
    };
    let ind = Catalog::active()
        .get(code)
        .with_context(|| format!("{code} is not in the catalog"))?;
    Ok(Some([
        ind.encode(lo, &ind.unit)?,
        ind.encode(hi, &ind.unit)?,
    ]))
}

/// Asks every sample query of `node` as `researcher` with differential privacy (`epsilon`
/// each), prints each answer with its 95% noise interval beside the plaintext value computed
/// here under the same rules (one value per patient, clipped), and returns whether every
/// answer is within its noise of the plaintext (4 noise standard deviations, 99.99%; a median
/// also within one grid bucket; an estimate the noise left undefined, such as a correlation
/// whose noisy variance fell below zero, is shown as such).
pub fn run_sample_queries(
    node: &NodeUrl,
    pins: &[[u8; 32]; 3],
    researcher: &SigningKey,
    plain: &Rows,
    epsilon: f64,
) -> anyhow::Result<bool> {
    println!(
        "{:<42} {:>40} {:>22} {:>6} {:>7}",
        format!("query (epsilon {epsilon} each)"),
        "private answer [95% noise interval]",
        "plaintext",
        "within",
        "seconds"
    );
    let mut all_agree = true;
    for sample in samples()? {
        let t = Instant::now();
        let clip = clip_of(sample.indicator, sample.clip)?;
        let pair_clip = match &sample.statistic {
            Statistic::Pearson { pair } => clip_of(pair, sample.pair_clip)?,
            _ => None,
        };
        let question = Question {
            statistic: sample.statistic.clone(),
            indicator: sample.indicator.to_owned(),
            window: (None, None),
            purpose: Purpose::Research,
            epsilon: Some(epsilon),
            clip,
            pair_clip,
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
        let s = scale(sample.indicator);
        let mut disagreements = Vec::new();
        let (private, plaintext, agree) = match answer {
            Ok(Answer {
                value: StatValue::Private { estimates },
                ..
            }) => {
                let expected = expected(&sample, plain, clip, pair_clip);
                let tolerance = match sample.statistic {
                    Statistic::Median => median_bucket(clip, sample.indicator),
                    _ => 0.0,
                };
                let outside: Vec<String> = estimates
                    .iter()
                    .filter_map(|e| {
                        let v = expected.iter().find(|(n, _)| *n == e.name).map(|(_, v)| *v);
                        let within = v.is_some_and(|v| {
                            !e.value.is_finite()
                                || (e.value - v).abs() <= 4.0 * e.noise_sd + tolerance + 1e-9
                        });
                        (!within).then(|| {
                            format!(
                                "    {}: {} (noise sd {}) against {}",
                                e.name,
                                e.value,
                                e.noise_sd,
                                v.map_or("no plaintext".into(), |v| v.to_string())
                            )
                        })
                    })
                    .collect();
                disagreements = outside;
                (
                    show(&estimates, s),
                    show_expected(&estimates, &expected, s),
                    disagreements.is_empty(),
                )
            }
            Ok(other) => (
                "not a private answer".to_owned(),
                format!("{:?}", other.value),
                false,
            ),
            Err(refused) => (
                format!("refused ({})", refused.status),
                refused.reason,
                false,
            ),
        };
        all_agree &= agree;
        println!(
            "{:<42} {private:>40} {plaintext:>22} {:>6} {seconds:>7.2}",
            sample.name,
            if agree { "yes" } else { "NO" },
        );
        // Which estimates, in fixed point, were outside their noise.
        for line in &disagreements {
            println!("{line}");
        }
    }
    Ok(all_agree)
}

fn scale(code: &str) -> f64 {
    Catalog::active()
        .get(code)
        .map_or(1.0, |i| 10f64.powi(i.precision as i32))
}

/// The width of a private median's grid bucket, fixed point.
fn median_bucket(clip: Option<[i64; 2]>, code: &str) -> f64 {
    let [lo, hi] = clip.unwrap_or_else(|| {
        Catalog::active()
            .get(code)
            .map_or([0, 0], |i| [i.min_fixed, i.max_fixed])
    });
    (hi - lo) as f64 / f64::from(crate::node::query::privacy::QUANTILE_BUCKETS)
}

/// The sample's estimates computed in plaintext from the cohort rows under the private rules
/// (each patient's latest value, clipped), by estimate name (fixed point, as the MPC answer).
fn expected(
    sample: &Sample,
    plain: &Rows,
    clip: Option<[i64; 2]>,
    pair_clip: Option<[i64; 2]>,
) -> Vec<(String, f64)> {
    let rows = |code: &str| plain.get(code).map_or(&[][..], Vec::as_slice);
    let clipped = |v: i64, c: Option<[i64; 2]>| c.map_or(v, |[lo, hi]| v.clamp(lo, hi)) as f64;
    let latest_values: Vec<i64> = latest(rows(sample.indicator))
        .values()
        .map(|r| r.value)
        .collect();
    let x: Vec<f64> = latest_values.iter().map(|v| clipped(*v, clip)).collect();
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let named = |pairs: Vec<(&str, f64)>| {
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Vec<_>>()
    };
    match &sample.statistic {
        Statistic::Count => named(vec![("count", n)]),
        Statistic::Sum => named(vec![("sum", x.iter().sum())]),
        Statistic::Mean => named(vec![("count", n), ("mean", mean)]),
        Statistic::Variance => {
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            named(vec![("count", n), ("mean", mean), ("variance", var)])
        }
        Statistic::Pearson { pair } => {
            let (a, b) = latest_pairs(rows(sample.indicator), rows(pair));
            let a: Vec<i64> = a.iter().map(|v| clipped(*v, clip) as i64).collect();
            let b: Vec<i64> = b.iter().map(|v| clipped(*v, pair_clip) as i64).collect();
            named(vec![
                ("count", a.len() as f64),
                ("r", pearson(&a, &b).unwrap_or(f64::NAN)),
            ])
        }
        Statistic::Histogram { edges } => {
            let mut counts = vec![0f64; edges.len() + 1];
            for v in &latest_values {
                counts[edges.iter().filter(|e| v >= e).count()] += 1.0;
            }
            counts
                .into_iter()
                .enumerate()
                .map(|(j, c)| (format!("bucket {j}"), c))
                .collect()
        }
        Statistic::FilteredMean { threshold, .. } => {
            let above: Vec<f64> = latest_values
                .iter()
                .filter(|v| *v > threshold)
                .map(|v| clipped(*v, clip))
                .collect();
            let count = above.len() as f64;
            named(vec![
                ("count", count),
                ("mean", above.iter().sum::<f64>() / count),
            ])
        }
        Statistic::Covariance { pair } => {
            let (a, b) = latest_pairs(rows(sample.indicator), rows(pair));
            let a: Vec<f64> = a.iter().map(|v| clipped(*v, clip)).collect();
            let b: Vec<f64> = b.iter().map(|v| clipped(*v, pair_clip)).collect();
            let m = a.len() as f64;
            let (ma, mb) = (a.iter().sum::<f64>() / m, b.iter().sum::<f64>() / m);
            let s: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
            named(vec![("count", m), ("covariance", s / (m - 1.0))])
        }
        Statistic::TwoGroups { by, threshold } => {
            let (a, b) = latest_pairs(rows(sample.indicator), rows(by));
            let group = |above: bool| {
                let g: Vec<f64> = a
                    .iter()
                    .zip(&b)
                    .filter(|(_, y)| (**y > *threshold) == above)
                    .map(|(x, _)| clipped(*x, clip))
                    .collect();
                let k = g.len() as f64;
                let m = g.iter().sum::<f64>() / k;
                (
                    k,
                    m,
                    g.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1.0),
                )
            };
            let ((ka, ma, va), (kb, mb, vb)) = (group(true), group(false));
            let (ea, eb) = (va / ka, vb / kb);
            named(vec![
                ("above: count", ka),
                ("above: mean", ma),
                ("above: variance", va),
                ("below: count", kb),
                ("below: mean", mb),
                ("below: variance", vb),
                ("difference of means", ma - mb),
                ("welch t", (ma - mb) / (ea + eb).sqrt()),
                (
                    "degrees of freedom",
                    (ea + eb).powi(2) / (ea * ea / (ka - 1.0) + eb * eb / (kb - 1.0)),
                ),
            ])
        }
        Statistic::CohortMean { cohort } => {
            let (a, b) = latest_pairs(rows(sample.indicator), rows(&cohort.by));
            let inside: Vec<f64> = a
                .iter()
                .zip(&b)
                .filter(|(_, y)| **y > cohort.threshold)
                .map(|(x, _)| clipped(*x, clip))
                .collect();
            let count = inside.len() as f64;
            named(vec![
                ("count", count),
                ("mean", inside.iter().sum::<f64>() / count),
            ])
        }
        Statistic::Regression { predictors, cohort } => {
            let mut codes = vec![sample.indicator];
            codes.extend(predictors.iter().map(|p| p.indicator.as_str()));
            codes.extend(cohort.iter().map(|c| c.by.as_str()));
            let mut clips = vec![clip];
            clips.extend(predictors.iter().map(|p| p.clip));
            let mut latest = latest_rows(&codes.iter().map(|c| rows(c)).collect::<Vec<_>>());
            // In a cohort: only the rows whose last column (the cohort's) passes.
            if let Some(c) = cohort {
                let by = latest.pop().unwrap_or_default();
                for column in &mut latest {
                    *column = column
                        .iter()
                        .zip(&by)
                        .filter(|(_, y)| **y > c.threshold)
                        .map(|(v, _)| *v)
                        .collect();
                }
            }
            let columns: Vec<Vec<f64>> = latest
                .into_iter()
                .zip(&clips)
                .map(|(column, c)| column.into_iter().map(|v| clipped(v, *c)).collect())
                .collect();
            let m = columns[0].len() as f64;
            let mut out = vec![("count".to_owned(), m)];
            if let Some((b, se, r2)) = least_squares(&columns[0], &columns[1..]) {
                let name = |i: usize| match i {
                    0 => "intercept".to_owned(),
                    i => format!("slope {i}"),
                };
                out.extend(b.iter().enumerate().map(|(i, v)| (name(i), *v)));
                out.extend(
                    se.iter()
                        .enumerate()
                        .map(|(i, v)| (format!("standard error: {}", name(i)), *v)),
                );
                out.push(("r squared".to_owned(), r2));
            }
            out
        }
        Statistic::Median => named(vec![("median", nearest_rank(&latest_values, 500))]),
        // A private min or max is a grid edge that more than a noise-level number of patients
        // reach, not the exact extreme, so the plaintext has nothing to compare it with (no
        // sample asks one; `mpc/src/stats/private_tests.rs` tests it against the cohort).
        Statistic::Min | Statistic::Max => Vec::new(),
        Statistic::Quantile { permille } => {
            let label = format!("quantile {}", f64::from(*permille) / 1000.0);
            vec![(label, nearest_rank(&latest_values, *permille))]
        }
    }
}

/// The ceil(q n)-th smallest of `values` for q = `permille` / 1000 (the nearest rank, as the
/// nodes compute it).
fn nearest_rank(values: &[i64], permille: u16) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * usize::from(permille)).div_ceil(1000);
    sorted.get(rank.saturating_sub(1)).copied().unwrap_or(0) as f64
}

/// Each patient's latest row (latest day, then larger handle): the nodes' rule.
fn latest(rows: &[Row]) -> BTreeMap<Pseudonym, Row> {
    let mut m: BTreeMap<Pseudonym, Row> = BTreeMap::new();
    for r in rows {
        let e = m.entry(r.patient).or_insert(*r);
        if (r.day, r.handle) > (e.day, e.handle) {
            *e = *r;
        }
    }
    m
}

/// Per patient, the latest value of each indicator in `columns`, for the patients with all of
/// them, in pseudonym order (one vector per indicator): the nodes' rule for several
/// indicators.
fn latest_rows(columns: &[&[Row]]) -> Vec<Vec<i64>> {
    let latest: Vec<BTreeMap<Pseudonym, Row>> = columns.iter().map(|c| latest(c)).collect();
    let mut out = vec![Vec::new(); columns.len()];
    for patient in latest.first().into_iter().flat_map(|m| m.keys()) {
        if let Some(values) = latest
            .iter()
            .map(|m| m.get(patient).map(|r| r.value))
            .collect::<Option<Vec<_>>>()
        {
            for (column, v) in out.iter_mut().zip(values) {
                column.push(v);
            }
        }
    }
    out
}

/// Least squares of `y` on the columns `xs` with an intercept, the plaintext reference: a QR
/// decomposition of the design matrix by modified Gram-Schmidt (not the normal equations the
/// nodes' answer is finished from), b = R^-1 Q'y, the standard errors from the residuals and
/// (X'X)^-1 = R^-1 R^-T. Returns ([b0..bp], their standard errors, R^2); `None` when the
/// columns are collinear.
#[allow(clippy::needless_range_loop)] // matrix code reads best with explicit indices
fn least_squares(y: &[f64], xs: &[Vec<f64>]) -> Option<(Vec<f64>, Vec<f64>, f64)> {
    let n = y.len();
    let k = xs.len() + 1;
    if n <= k {
        return None;
    }
    let mut q: Vec<Vec<f64>> = std::iter::once(vec![1.0; n])
        .chain(xs.iter().cloned())
        .collect();
    let mut r = vec![vec![0.0; k]; k];
    for j in 0..k {
        for i in 0..j {
            let dot: f64 = q[i].iter().zip(&q[j]).map(|(a, b)| a * b).sum();
            r[i][j] = dot;
            let qi = q[i].clone();
            for (v, u) in q[j].iter_mut().zip(&qi) {
                *v -= dot * u;
            }
        }
        let norm = q[j].iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm <= 1e-9 * (n as f64).sqrt() {
            return None;
        }
        r[j][j] = norm;
        q[j].iter_mut().for_each(|v| *v /= norm);
    }
    // R^-1 by back substitution, column by column.
    let mut inv = vec![vec![0.0; k]; k];
    for c in 0..k {
        for i in (0..k).rev() {
            let unit = if i == c { 1.0 } else { 0.0 };
            let s: f64 = (i + 1..k).map(|m| r[i][m] * inv[m][c]).sum();
            inv[i][c] = (unit - s) / r[i][i];
        }
    }
    let qty: Vec<f64> = q
        .iter()
        .map(|qi| qi.iter().zip(y).map(|(a, b)| a * b).sum())
        .collect();
    let b: Vec<f64> = (0..k)
        .map(|i| (0..k).map(|m| inv[i][m] * qty[m]).sum())
        .collect();
    let residual = |row: usize| {
        y[row]
            - b[0]
            - xs.iter()
                .zip(&b[1..])
                .map(|(x, bj)| x[row] * bj)
                .sum::<f64>()
    };
    let sse: f64 = (0..n).map(|row| residual(row).powi(2)).sum();
    let mean = y.iter().sum::<f64>() / n as f64;
    let sst: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let s2 = sse / (n - k) as f64;
    let se = (0..k)
        .map(|i| (s2 * inv[i].iter().map(|v| v * v).sum::<f64>()).sqrt())
        .collect();
    Some((b, se, 1.0 - sse / sst))
}

/// Per patient, the latest value of each indicator, for patients with both, in pseudonym
/// order: the nodes' pairing rule.
fn latest_pairs(x: &[Row], y: &[Row]) -> (Vec<i64>, Vec<i64>) {
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
    let mx = x.iter().map(|v| *v as f64).sum::<f64>() / n;
    let my = y.iter().map(|v| *v as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (*a as f64 - mx, *b as f64 - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    Some(sxy / (sxx * syy).sqrt())
}

/// The headline estimate of a private answer: a two-group comparison's difference of means,
/// else the last one (the statistic itself; counts and buckets are shown as a list).
fn headline(estimates: &[Estimate]) -> Option<&Estimate> {
    estimates
        .iter()
        .find(|e| e.name == "difference of means")
        .or_else(|| {
            estimates
                .iter()
                .rev()
                .find(|e| e.name != "count" && !e.name.starts_with("bucket"))
        })
}

/// A private answer for the table, in the indicator's unit.
fn show(estimates: &[Estimate], scale: f64) -> String {
    match headline(estimates) {
        Some(e) => {
            let s = scale.powi(i32::from(e.unit_power));
            if !e.value.is_finite() {
                return "undefined (noise exceeds the signal)".to_owned();
            }
            format!("{:.3} [{:.3}, {:.3}]", e.value / s, e.low / s, e.high / s)
        }
        None => {
            let counts: Vec<String> = estimates
                .iter()
                .map(|e| format!("{:.0}", e.value))
                .collect();
            format!("[{}]", counts.join(", "))
        }
    }
}

/// The plaintext of the same headline, as [`show`] prints the private one.
fn show_expected(estimates: &[Estimate], expected: &[(String, f64)], scale: f64) -> String {
    let of = |name: &str| expected.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    match headline(estimates) {
        Some(e) => {
            let s = scale.powi(i32::from(e.unit_power));
            of(&e.name).map_or("-".to_owned(), |v| format!("{:.3}", v / s))
        }
        None => {
            let counts: Vec<String> = expected.iter().map(|(_, v)| format!("{v:.0}")).collect();
            format!("[{}]", counts.join(", "))
        }
    }
}

/// Reads the researcher's seed file written by `init`.
pub fn researcher_key(path: &std::path::Path) -> anyhow::Result<SigningKey> {
    hdg_client::key::read_seed(path).context("the demo researcher's key")
}
