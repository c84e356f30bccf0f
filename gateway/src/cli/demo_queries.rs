//! The demo's sample statistics: the node's stored values are secret-shared to three MPC parties
//! (in memory until the networked cluster lands), each statistic is computed on the shares and
//! sealed to a demo researcher's X25519 key, and the researcher's opened result is printed beside
//! the plaintext result computed directly from the synthesised cohort.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use hdg_mpc::protocols::input::input;
use hdg_mpc::stats::{self, Aggregates, SealedAggregates, StatValue, StatsError, ValueBound};
use hdg_mpc::{Party, PartyId, StaticSecret, run_three};
use hdg_schema::{Catalog, ImportOptions, Mode, Pseudonym, Timestamp, Value};
use hdg_storage::{Store, TimeRange};

use super::files::import_file;

/// One indicator's values as the cohort files say: (patient, effective time, fixed-point value).
type Rows = Vec<(Pseudonym, Timestamp, i64)>;

/// Values per indicator, read straight from the cohort files (the plaintext reference).
pub fn plaintext_rows(
    files: &[PathBuf],
    pseudonym_key: [u8; 32],
) -> anyhow::Result<HashMap<String, Rows>> {
    let opts = ImportOptions {
        mode: Mode::Lenient,
        pseudonym_key,
        catalog: Catalog::builtin(),
    };
    let mut rows: HashMap<String, Rows> = HashMap::new();
    for f in files {
        import_file(f, &opts, &mut |o| {
            if let Value::Quantity(v) = o.value {
                rows.entry(o.indicator.clone())
                    .or_default()
                    .push((o.patient, o.effective, v));
            }
        })?;
    }
    Ok(rows)
}

/// The node's current values of `indicator`, decrypted from the store, in index order.
fn stored_rows(store: &Store, indicator: &str) -> anyhow::Result<Rows> {
    let mut out = Vec::new();
    for id in store.scan_indicator(indicator, TimeRange::default())? {
        let o = store.get(&id)?;
        if let Value::Quantity(v) = o.value {
            out.push((o.patient, o.effective, v));
        }
    }
    Ok(out)
}

/// Each patient's latest value of two indicators, for patients who have both, by pseudonym.
fn latest_pairs(x: &Rows, y: &Rows) -> (Vec<i64>, Vec<i64>) {
    let latest = |rows: &Rows| {
        let mut m: HashMap<Pseudonym, (Timestamp, i64)> = HashMap::new();
        for &(p, t, v) in rows {
            let e = m.entry(p).or_insert((t, v));
            if t >= e.0 {
                *e = (t, v);
            }
        }
        m
    };
    let (lx, ly) = (latest(x), latest(y));
    let mut patients: Vec<&Pseudonym> = lx.keys().filter(|p| ly.contains_key(p)).collect();
    patients.sort();
    patients.iter().map(|p| (lx[*p].1, ly[*p].1)).unzip()
}

/// A query: the statistic each party runs on its shares of one or two input vectors.
type Program<'a> =
    dyn Fn(&mut Party, &[hdg_mpc::ArithShares]) -> Result<Aggregates, StatsError> + Sync + 'a;

/// Shares `inputs` from P0 (the data-holding node), runs `program`, seals the result to the
/// researcher; returns the opened value and the bytes each party sent.
fn run_query(
    inputs: &[Vec<i64>],
    program: &Program<'_>,
    researcher: &StaticSecret,
) -> anyhow::Result<(StatValue, [u64; 3])> {
    let recipient = hdg_mpc::PublicKey::from(researcher);
    let encoded: Vec<Vec<u64>> = inputs
        .iter()
        .map(|v| hdg_mpc::ring::encode_all(v))
        .collect();
    let outs = run_three(
        |p: &mut Party| -> Result<(SealedAggregates, u64), StatsError> {
            let mut shared = Vec::new();
            for (i, v) in encoded.iter().enumerate() {
                let mine = (p.id() == PartyId::P0).then_some(v.as_slice());
                shared.push(input(p, PartyId::P0, mine, inputs[i].len())?);
            }
            let agg = program(p, &shared)?;
            let sealed = agg.seal(p, &recipient, &mut rand::rng());
            Ok((sealed, p.stats().bytes_sent))
        },
    );
    let [a, b, c] = outs;
    let (a, b, c) = (a?, b?, c?);
    let value = stats::open_aggregates(researcher, &[a.0, b.0, c.0])
        .context("researcher cannot open the result")?;
    Ok((value, [a.1, b.1, c.1]))
}

fn bound(code: &str) -> anyhow::Result<ValueBound> {
    let ind = Catalog::builtin()
        .get(code)
        .with_context(|| format!("indicator {code} is not in the catalog"))?;
    Ok(ValueBound::new(ind.max_abs_fixed()))
}

fn scale(code: &str) -> f64 {
    Catalog::builtin()
        .get(code)
        .map_or(1.0, |i| 10f64.powi(i.precision as i32))
}

fn unit(code: &str) -> String {
    Catalog::builtin()
        .get(code)
        .map_or_else(String::new, |i| i.unit.clone())
}

/// Runs the sample queries and prints each MPC result beside the plaintext one.
pub fn run_sample_queries(store: &Store, plain: &HashMap<String, Rows>) -> anyhow::Result<()> {
    let researcher = StaticSecret::random_from_rng(&mut rand::rng());
    let values = |rows: &Rows| rows.iter().map(|r| r.2).collect::<Vec<i64>>();
    let fetch = |code: &str| -> anyhow::Result<(Vec<i64>, Vec<i64>)> {
        let stored = values(&stored_rows(store, code)?);
        let plain = plain.get(code).map(values).unwrap_or_default();
        Ok((stored, plain))
    };
    println!(
        "{:<38} {:>24} {:>24} {:>8} {:>12}",
        "query (3 parties, sealed to researcher)",
        "MPC result",
        "plaintext",
        "seconds",
        "bytes sent"
    );
    let show = |name: &str, mpc: String, plain: String, t: Instant, bytes: [u64; 3]| {
        println!(
            "{name:<38} {mpc:>24} {plain:>24} {:>8.2} {:>12}",
            t.elapsed().as_secs_f64(),
            bytes.iter().sum::<u64>()
        );
    };

    // Mean HbA1c.
    let (x, px) = fetch("4548-4")?;
    let b = bound("4548-4")?;
    let t = Instant::now();
    let (v, bytes) = run_query(&[x], &|_, s| stats::moments::mean(&s[0], b), &researcher)?;
    let s = scale("4548-4");
    let mpc = match v {
        StatValue::Mean {
            mean: Some(m), n, ..
        } => format!("{:.3} {} (n={n})", m / s, unit("4548-4")),
        other => format!("{other:?}"),
    };
    let plain_mean = px.iter().sum::<i64>() as f64 / px.len() as f64 / s;
    show(
        "mean HbA1c",
        mpc,
        format!("{plain_mean:.3} (n={})", px.len()),
        t,
        bytes,
    );

    // Variance of systolic blood pressure.
    let (x, px) = fetch("8480-6")?;
    let b = bound("8480-6")?;
    let t = Instant::now();
    let (v, bytes) = run_query(
        &[x],
        &|p, s| stats::moments::variance(p, &s[0], b),
        &researcher,
    )?;
    let s = scale("8480-6");
    let mpc = match v {
        StatValue::Variance {
            sample_variance: Some(var),
            n,
            ..
        } => format!("{:.3} (n={n})", var / (s * s)),
        other => format!("{other:?}"),
    };
    let m = px.iter().sum::<i64>() as f64 / px.len() as f64;
    let var =
        px.iter().map(|v| (*v as f64 - m).powi(2)).sum::<f64>() / (px.len() as f64 - 1.0) / (s * s);
    show(
        "variance of systolic BP",
        mpc,
        format!("{var:.3} (n={})", px.len()),
        t,
        bytes,
    );

    // Pearson correlation of BMI and HbA1c (latest value of each per patient).
    let (bmi_s, hba_s) = latest_pairs(
        &stored_rows(store, "39156-5")?,
        &stored_rows(store, "4548-4")?,
    );
    let (bmi_p, hba_p) = latest_pairs(&plain["39156-5"], &plain["4548-4"]);
    let (bx, by) = (bound("39156-5")?, bound("4548-4")?);
    let t = Instant::now();
    let (v, bytes) = run_query(
        &[bmi_s, hba_s],
        &|p, s| stats::moments::pearson(p, &s[0], &s[1], bx, by),
        &researcher,
    )?;
    let mpc = match v {
        StatValue::Pearson { r: Some(r), n, .. } => format!("r={r:.4} (n={n})"),
        other => format!("{other:?}"),
    };
    show(
        "correlation BMI ~ HbA1c",
        mpc,
        format!("r={:.4} (n={})", pearson(&bmi_p, &hba_p), bmi_p.len()),
        t,
        bytes,
    );

    // Histogram of glucose, public edges at 70, 100, 126, 200 mg/dL.
    let (x, px) = fetch("2339-0")?;
    let b = bound("2339-0")?;
    let s = scale("2339-0") as i64;
    let edges: Vec<i64> = [70, 100, 126, 200].iter().map(|e| e * s).collect();
    let t = Instant::now();
    let e2 = edges.clone();
    let (v, bytes) = run_query(
        &[x],
        &move |p, sh| stats::histogram::histogram(p, &sh[0], &e2, b),
        &researcher,
    )?;
    let mpc = match v {
        StatValue::Histogram { counts, .. } => format!("{counts:?}"),
        other => format!("{other:?}"),
    };
    let mut counts = vec![0u64; edges.len() + 1];
    for v in &px {
        counts[edges.iter().filter(|e| v >= e).count()] += 1;
    }
    show(
        "histogram of glucose <70|<100|<126|<200|",
        mpc,
        format!("{counts:?}"),
        t,
        bytes,
    );

    // Count and mean of glucose > 126 mg/dL, released only for a cohort of at least 10.
    let (x, px) = fetch("2339-0")?;
    let threshold = 126 * s;
    let t = Instant::now();
    let (v, bytes) = run_query(
        &[x],
        &move |p, sh| stats::filtered::filtered_mean(p, &sh[0], threshold, 10, b),
        &researcher,
    )?;
    let mpc = match v {
        StatValue::FilteredMean {
            count,
            mean: Some(m),
            ..
        } => format!("{count}, {:.2}", m / s as f64),
        other => format!("{other:?}"),
    };
    let above: Vec<i64> = px.iter().copied().filter(|v| *v > threshold).collect();
    let pm = above.iter().sum::<i64>() as f64 / above.len() as f64 / s as f64;
    show(
        "count, mean of glucose > 126 mg/dL",
        mpc,
        format!("{}, {pm:.2}", above.len()),
        t,
        bytes,
    );

    // Median heart rate.
    let (x, px) = fetch("8867-4")?;
    let b = bound("8867-4")?;
    let t = Instant::now();
    let (v, bytes) = run_query(&[x], &|p, s| stats::order::median(p, &s[0], b), &researcher)?;
    let s = scale("8867-4");
    let mpc = match v {
        StatValue::OrderStatistic { value, .. } => format!("{:.1}", value as f64 / s),
        other => format!("{other:?}"),
    };
    let mut sorted = px.clone();
    sorted.sort_unstable();
    let lower_median = sorted
        .get(sorted.len().div_ceil(2).saturating_sub(1))
        .copied()
        .unwrap_or(0);
    show(
        "median heart rate (lower median)",
        mpc,
        format!("{:.1}", lower_median as f64 / s),
        t,
        bytes,
    );
    Ok(())
}

fn pearson(x: &[i64], y: &[i64]) -> f64 {
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
    sxy / (sxx * syy).sqrt()
}
