//! An answer as a researcher reads it: named figures in the indicator's unit, each with its
//! 95% noise interval and noise standard deviation when the answer is differentially private,
//! printed as a table, CSV or JSON (`hdg query --format`, [`crate::report`]).
//!
//! The parties compute in the catalog's fixed point (an integer per value, the value times
//! 10^precision). This is the one place that turns an answer back into the unit: a figure's
//! unit power says how often the scale divides it (0 for counts and correlations, 1 for values,
//! 2 for variances; a covariance is in the unit of x times that of y; a regression's slope in
//! the outcome's unit per its predictor's).

use hdg_mpc::stats::StatValue;
use serde::Serialize;

/// An indicator's unit as the catalog gives it and its fixed-point scale (10^precision).
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// The indicator's code, to name a regression's slopes.
    pub code: String,
    /// The UCUM unit, e.g. `mm[Hg]`, `kg/m2`, `%`, `1`.
    pub ucum: String,
    /// By what a fixed-point integer is divided to give a value in `ucum`.
    pub scale: f64,
}

impl Unit {
    /// The unit raised to `power` (0: the unit 1), in UCUM syntax: `mm[Hg]2`, `(kg/m2)2`.
    fn power(&self, power: u8) -> String {
        match power {
            0 => "1".into(),
            _ if self.ucum == "1" => "1".into(),
            1 => self.ucum.clone(),
            p if self.ucum.contains(['/', '.']) => format!("({}){p}", self.ucum),
            p => format!("{}{p}", self.ucum),
        }
    }
}

/// The product of two UCUM units in UCUM syntax (`a.b`).
fn product(a: &str, b: &str) -> String {
    let wrap = |u: &str| {
        if u.contains('/') {
            format!("({u})")
        } else {
            u.to_owned()
        }
    };
    match (a, b) {
        ("1", u) | (u, "1") => u.to_owned(),
        (a, b) => format!("{}.{}", wrap(a), wrap(b)),
    }
}

/// The quotient of two UCUM units in UCUM syntax (`a/b`).
fn quotient(a: &str, b: &str) -> String {
    let wrap = |u: &str| {
        if u.contains(['/', '.']) {
            format!("({u})")
        } else {
            u.to_owned()
        }
    };
    match (a, b) {
        (u, "1") => u.to_owned(),
        (a, b) => format!("{}/{}", wrap(a), wrap(b)),
    }
}

/// A regression's figure named by its predictor's code instead of its position
/// (`slope 2` becomes `slope 8480-6`).
fn by_predictor(name: &str, others: &[Unit]) -> String {
    let Some((head, j)) = name.rsplit_once("slope ") else {
        return name.to_owned();
    };
    match j
        .parse::<usize>()
        .ok()
        .and_then(|j| others.get(j.checked_sub(1)?))
    {
        Some(u) => format!("{head}slope {}", u.code),
        None => name.to_owned(),
    }
}

/// One figure of an answer, in its unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// What it is (`count`, `mean`, `variance`, `r`, `bucket [70, 100)`, ...).
    pub name: String,
    /// Its value in `unit` (`None` when undefined, e.g. a mean of no values).
    pub value: Option<f64>,
    /// Its UCUM unit (`1` for counts and correlations).
    pub unit: String,
    /// Lower end of the 95% noise interval (private answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    /// Upper end of the 95% noise interval (private answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    /// Standard deviation of the noise (private answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_sd: Option<f64>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// An exact figure.
fn exact(name: impl Into<String>, value: Option<f64>, unit: String) -> Figure {
    Figure {
        name: name.into(),
        value: value.and_then(finite),
        unit,
        low: None,
        high: None,
        noise_sd: None,
    }
}

/// The figures of `answer` for indicator unit `x` and `others`, the units of the query's other
/// indicators (a covariance's pair, a regression's predictors), in those units. `edges` are a
/// histogram's, to name a private answer's buckets by their bounds (an exact histogram carries
/// its own).
pub fn figures(answer: &StatValue, x: &Unit, others: &[Unit], edges: &[i64]) -> Vec<Figure> {
    let one = || "1".to_string();
    let value = |fixed: f64, power: u8| fixed / x.scale.powi(i32::from(power));
    let count = |n: u64| exact("count", Some(n as f64), one());
    match answer {
        StatValue::Count { n } => vec![count(*n)],
        StatValue::Sum { n, sum } => vec![
            count(*n),
            exact("sum", Some(value(*sum as f64, 1)), x.power(1)),
        ],
        StatValue::Mean { n, mean, .. } => vec![
            count(*n),
            exact("mean", mean.map(|m| value(m, 1)), x.power(1)),
        ],
        StatValue::Variance {
            n,
            mean,
            sample_variance,
            sample_std_dev,
            ..
        } => vec![
            count(*n),
            exact("mean", mean.map(|m| value(m, 1)), x.power(1)),
            exact("variance", sample_variance.map(|v| value(v, 2)), x.power(2)),
            exact(
                "standard deviation",
                sample_std_dev.map(|s| value(s, 1)),
                x.power(1),
            ),
        ],
        StatValue::Covariance {
            n,
            sample_covariance,
            ..
        } => {
            let y = others.first().unwrap_or(x);
            vec![
                count(*n),
                exact(
                    "covariance",
                    sample_covariance.map(|c| c / (x.scale * y.scale)),
                    product(&x.ucum, &y.ucum),
                ),
            ]
        }
        StatValue::Pearson { n, r, .. } => vec![count(*n), exact("r", *r, one())],
        StatValue::Histogram { edges, counts } => counts
            .iter()
            .enumerate()
            .map(|(i, c)| exact(bucket_name(edges, i, x), Some(*c as f64), one()))
            .collect(),
        StatValue::FilteredMean {
            threshold,
            count: kept,
            mean,
            ..
        } => vec![
            exact("threshold", Some(value(*threshold as f64, 1)), x.power(1)),
            count(*kept),
            exact("mean", mean.map(|m| value(m, 1)), x.power(1)),
        ],
        StatValue::Withheld { min_cohort } => vec![exact(
            "withheld: minimum cohort not reached",
            Some(*min_cohort as f64),
            one(),
        )],
        StatValue::OrderStatistic { rank, value: v } => vec![exact(
            format!("value of rank {rank}"),
            Some(value(*v as f64, 1)),
            x.power(1),
        )],
        StatValue::LinearRegression {
            n,
            coefficients,
            standard_errors,
            r_squared,
        } => {
            // b0 is in the outcome's fixed point; b_j in the outcome's per predictor j's.
            let in_unit = |i: usize, v: f64| match i.checked_sub(1).and_then(|j| others.get(j)) {
                Some(p) => (v * p.scale / x.scale, quotient(&x.ucum, &p.ucum)),
                None => (v / x.scale, x.power(1)),
            };
            let names: Vec<String> = (0..coefficients.as_ref().map_or(0, Vec::len))
                .map(|i| match i {
                    0 => "intercept".to_owned(),
                    i => by_predictor(&format!("slope {i}"), others),
                })
                .collect();
            let mut out = vec![count(*n)];
            let mut push = |prefix: &str, values: &Option<Vec<f64>>| {
                for (i, v) in values.iter().flatten().enumerate() {
                    let (value, unit) = in_unit(i, *v);
                    out.push(exact(format!("{prefix}{}", names[i]), Some(value), unit));
                }
            };
            push("", coefficients);
            push("standard error: ", standard_errors);
            out.push(exact("r squared", *r_squared, one()));
            out
        }
        StatValue::VectorSum { sums } => sums
            .iter()
            .enumerate()
            .map(|(i, s)| exact(format!("sum {i}"), Some(value(*s as f64, 1)), x.power(1)))
            .collect(),
        StatValue::Private { estimates } => estimates
            .iter()
            .map(|e| {
                // A covariance's estimate is in x's unit times y's; a slope in x's unit per
                // its predictor's.
                let per = e.per_predictor.and_then(|j| others.get(usize::from(j)));
                let (s, unit) = match (others.first(), e.pair_power, per) {
                    (_, _, Some(p)) => (
                        x.scale.powi(i32::from(e.unit_power)) / p.scale,
                        quotient(&x.power(e.unit_power), &p.ucum),
                    ),
                    (Some(y), 1, None) => (
                        x.scale.powi(i32::from(e.unit_power)) * y.scale,
                        product(&x.power(e.unit_power), &y.ucum),
                    ),
                    _ => (x.scale.powi(i32::from(e.unit_power)), x.power(e.unit_power)),
                };
                let bucket = e.name.strip_prefix("bucket ").and_then(|j| j.parse().ok());
                let name = match bucket {
                    Some(j) if !edges.is_empty() && j <= edges.len() => bucket_name(edges, j, x),
                    _ => by_predictor(&e.name, others),
                };
                Figure {
                    name,
                    value: finite(e.value / s),
                    unit,
                    low: finite(e.low / s),
                    high: finite(e.high / s),
                    noise_sd: finite(e.noise_sd / s),
                }
            })
            .collect(),
    }
}

/// Bucket `i` of a histogram with `edges` in `x`'s unit: `< a`, `[a, b)`, `>= z`.
fn bucket_name(edges: &[i64], i: usize, x: &Unit) -> String {
    let e = |j: usize| edges[j] as f64 / x.scale;
    match i {
        0 if edges.is_empty() => "all".into(),
        0 => format!("bucket < {}", e(0)),
        i if i == edges.len() => format!("bucket >= {}", e(i - 1)),
        i => format!("bucket [{}, {})", e(i - 1), e(i)),
    }
}

/// `v` to `digits` significant digits (a noised figure has no more than four), without
/// trailing zeros; `-` when undefined.
pub fn significant(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) if v.is_finite() => {
            let rounded = format!("{v:.*e}", digits.saturating_sub(1));
            format!("{}", rounded.parse::<f64>().unwrap_or(v))
        }
        _ => "-".into(),
    }
}

/// The figures as CSV: `figure,value,unit,low,high,noise_sd`, an empty field where a figure
/// has none (an undefined value, an exact answer's interval). Values at full precision.
pub fn to_csv(figures: &[Figure]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let number = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let mut out = String::from("figure,value,unit,low,high,noise_sd\r\n");
    for f in figures {
        let line = [
            field(&f.name),
            number(f.value),
            field(&f.unit),
            number(f.low),
            number(f.high),
            number(f.noise_sd),
        ];
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The figures as an aligned table. A private answer's figures show four significant digits
/// with their 95% noise interval and noise sd; an exact answer's six, without those columns.
pub fn to_table(figures: &[Figure]) -> String {
    let private = figures
        .iter()
        .any(|f| f.noise_sd.is_some() || f.low.is_some());
    let digits = if private { 4 } else { 6 };
    let mut rows: Vec<Vec<String>> = vec![
        ["figure", "value", "unit"]
            .into_iter()
            .chain(
                private
                    .then_some(["95% noise interval", "noise sd"])
                    .into_iter()
                    .flatten(),
            )
            .map(str::to_owned)
            .collect(),
    ];
    for f in figures {
        let mut row = vec![f.name.clone(), significant(f.value, digits), f.unit.clone()];
        if private {
            row.push(format!(
                "{} .. {}",
                significant(f.low, digits),
                significant(f.high, digits)
            ));
            row.push(significant(f.noise_sd, digits));
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| match c {
                // Names and units left, numbers right.
                0 | 2 => format!("{cell:<w$}"),
                _ => format!("{cell:>w$}"),
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdg_mpc::stats::estimate::Estimate;

    fn tenths(ucum: &str) -> Unit {
        Unit {
            code: format!("code of {ucum}"),
            ucum: ucum.into(),
            scale: 10.0,
        }
    }

    #[test]
    fn units_are_raised_and_multiplied_in_ucum_syntax() {
        assert_eq!(tenths("mm[Hg]").power(2), "mm[Hg]2");
        assert_eq!(tenths("kg/m2").power(2), "(kg/m2)2");
        assert_eq!(tenths("kg/m2").power(1), "kg/m2");
        assert_eq!(tenths("kg").power(0), "1");
        assert_eq!(tenths("1").power(2), "1");
        assert_eq!(product("kg/m2", "%"), "(kg/m2).%");
        assert_eq!(product("1", "%"), "%");
    }

    #[test]
    fn exact_answers_are_decoded_into_the_unit() {
        // BMI at precision 1: a mean of 263.75 in fixed point is 26.375 kg/m2.
        let bmi = tenths("kg/m2");
        let mean = StatValue::Mean {
            n: 4,
            sum: 1055,
            mean: Some(263.75),
        };
        let f = figures(&mean, &bmi, &[], &[]);
        assert_eq!(f[0], exact("count", Some(4.0), "1".into()));
        assert_eq!(f[1], exact("mean", Some(26.375), "kg/m2".into()));
        // A variance divides by the square of the scale, its sd by the scale.
        let var = StatValue::Variance {
            n: 3,
            sum: 0,
            sum_squares: 0,
            mean: Some(120.0),
            population_variance: Some(200.0),
            sample_variance: Some(300.0),
            population_std_dev: None,
            sample_std_dev: Some(300f64.sqrt()),
        };
        let f = figures(&var, &tenths("mm[Hg]"), &[], &[]);
        assert_eq!(f[2].value, Some(3.0));
        assert_eq!(f[2].unit, "mm[Hg]2");
        assert!((f[3].value.unwrap() - 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(f[3].unit, "mm[Hg]");
        // A mean of nothing is undefined, not zero.
        let empty = StatValue::Mean {
            n: 0,
            sum: 0,
            mean: None,
        };
        assert_eq!(figures(&empty, &bmi, &[], &[])[1].value, None);
    }

    #[test]
    fn histogram_buckets_are_named_by_their_bounds_in_the_unit() {
        let glucose = Unit {
            code: "2339-0".into(),
            ucum: "mg/dL".into(),
            scale: 1.0,
        };
        let h = StatValue::Histogram {
            edges: vec![70, 100, 126],
            counts: vec![1, 5, 3, 2],
        };
        let names: Vec<String> = figures(&h, &glucose, &[], &[])
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            names,
            [
                "bucket < 70",
                "bucket [70, 100)",
                "bucket [100, 126)",
                "bucket >= 126"
            ]
        );
        // A private histogram's buckets get the same names from the query's edges.
        let private = StatValue::Private {
            estimates: vec![Estimate {
                name: "bucket 1".into(),
                unit_power: 0,
                pair_power: 0,
                per_predictor: None,
                value: 4.6,
                noise_sd: 2.0,
                low: 0.7,
                high: 8.5,
            }],
        };
        let f = figures(&private, &glucose, &[], &[70, 100, 126]);
        assert_eq!(f[0].name, "bucket [70, 100)");
        assert_eq!(f[0].unit, "1");
    }

    #[test]
    fn private_estimates_keep_their_interval_in_the_unit() {
        let e = Estimate {
            name: "variance".into(),
            unit_power: 2,
            pair_power: 0,
            per_predictor: None,
            value: 21_296.4,
            noise_sd: 1_234.56,
            low: 18_808.5,
            high: 23_912.9,
        };
        let f = figures(
            &StatValue::Private { estimates: vec![e] },
            &tenths("mm[Hg]"),
            &[],
            &[],
        );
        assert_eq!(f[0].unit, "mm[Hg]2");
        assert!((f[0].value.unwrap() - 212.964).abs() < 1e-9);
        assert!((f[0].low.unwrap() - 188.085).abs() < 1e-9);
        assert!((f[0].noise_sd.unwrap() - 12.3456).abs() < 1e-9);
        let table = to_table(&f);
        assert!(table.contains("213"), "{table}");
        assert!(table.contains("188.1 .. 239.1"), "{table}");
    }

    #[test]
    fn a_private_covariance_is_in_the_product_of_the_units() {
        let e = Estimate {
            name: "covariance".into(),
            unit_power: 1,
            pair_power: 1,
            per_predictor: None,
            value: 1_000.0,
            noise_sd: 100.0,
            low: 800.0,
            high: 1_200.0,
        };
        let bmi = tenths("kg/m2");
        let hba1c = tenths("%");
        let f = figures(
            &StatValue::Private { estimates: vec![e] },
            &bmi,
            &[hba1c],
            &[],
        );
        assert_eq!(f[0].unit, "(kg/m2).%");
        assert_eq!(f[0].value, Some(10.0));
        assert_eq!(f[0].noise_sd, Some(1.0));
    }

    #[test]
    fn a_regressions_slopes_are_named_by_predictor_in_the_outcomes_unit_per_its_unit() {
        // Systolic BP (tenths of mm[Hg]) on BMI (tenths of kg/m2) and glucose (units of mg/dL).
        let bp = tenths("mm[Hg]");
        let bmi = Unit {
            code: "39156-5".into(),
            ..tenths("kg/m2")
        };
        let glucose = Unit {
            code: "2339-0".into(),
            ucum: "mg/dL".into(),
            scale: 1.0,
        };
        let exact_fit = StatValue::LinearRegression {
            n: 50,
            coefficients: Some(vec![1000.0, 20.0, 3.0]),
            standard_errors: Some(vec![100.0, 2.0, 0.5]),
            r_squared: Some(0.25),
        };
        let f = figures(&exact_fit, &bp, &[bmi.clone(), glucose.clone()], &[]);
        let shown: Vec<(&str, f64, &str)> = f
            .iter()
            .map(|f| (f.name.as_str(), f.value.unwrap(), f.unit.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("count", 50.0, "1"),
                ("intercept", 100.0, "mm[Hg]"),
                // 20 tenths of mm[Hg] per tenth of kg/m2: 2 mm[Hg] per kg/m2.
                ("slope 39156-5", 20.0, "mm[Hg]/(kg/m2)"),
                // 3 tenths of mm[Hg] per mg/dL: 0.3 mm[Hg] per mg/dL.
                ("slope 2339-0", 0.3, "mm[Hg]/(mg/dL)"),
                ("standard error: intercept", 10.0, "mm[Hg]"),
                ("standard error: slope 39156-5", 2.0, "mm[Hg]/(kg/m2)"),
                ("standard error: slope 2339-0", 0.05, "mm[Hg]/(mg/dL)"),
                ("r squared", 0.25, "1"),
            ]
        );
        // A private slope: the same name and unit, its interval scaled alike.
        let slope = Estimate {
            name: "standard error: slope 2".into(),
            unit_power: 1,
            pair_power: 0,
            per_predictor: Some(1),
            value: 3.0,
            noise_sd: 1.0,
            low: 1.0,
            high: 5.0,
        };
        let f = figures(
            &StatValue::Private {
                estimates: vec![slope],
            },
            &bp,
            &[bmi, glucose],
            &[],
        );
        assert_eq!(f[0].name, "standard error: slope 2339-0");
        assert_eq!(f[0].unit, "mm[Hg]/(mg/dL)");
        assert!((f[0].value.unwrap() - 0.3).abs() < 1e-12);
        assert!((f[0].high.unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn csv_has_a_header_one_line_per_figure_and_quotes_what_needs_it() {
        let f = vec![
            exact("count", Some(12.0), "1".into()),
            exact("bucket [70, 100)", Some(3.0), "1".into()),
            exact("mean", None, "mg/dL".into()),
        ];
        assert_eq!(
            to_csv(&f),
            "figure,value,unit,low,high,noise_sd\r\n\
             count,12,1,,,\r\n\
             \"bucket [70, 100)\",3,1,,,\r\n\
             mean,,mg/dL,,,\r\n"
        );
    }

    #[test]
    fn significant_digits_round_and_undefined_shows_a_dash() {
        assert_eq!(significant(Some(212.964), 4), "213");
        assert_eq!(significant(Some(0.000123456), 4), "0.0001235");
        assert_eq!(significant(Some(26.375), 6), "26.375");
        assert_eq!(significant(Some(f64::NAN), 4), "-");
        assert_eq!(significant(None, 4), "-");
    }
}
