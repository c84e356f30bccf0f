//! `hdg query --cluster CLUSTER_FILE --key RESEARCHER_KEY --stat mean --indicator 4548-4 ...`: a
//! researcher's query. The client makes a fresh X25519 key pair for the answer, signs the query
//! with the researcher's ed25519 seed (`hdg init` writes it under `DIR/identities/`), posts it to
//! a node (the coordinator) at `/v1/query`, checks the three parties' answers against the node
//! keys the cluster file pins — each signed by its party, for this request's session and
//! statistic, over the same rows ([`crate::node::query::answer`]) — and only then opens the
//! sealed aggregates (bound to this request; the redundant copies of each share must agree) and
//! prints the result and the row count. A relayed answer that fails a check is refused, naming
//! the check, and no value is printed.
//!
//! Results are printed in the indicator's unit (`--format table|csv|json`,
//! [`super::answer_figures`]); the JSON also carries the exact fixed-point answer and its scale.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use hdg_mpc::stats::{SealedAggregates, StatValue, open_aggregates};
use hdg_mpc::{PublicKey, StaticSecret};
use hdg_schema::Timestamp;
use serde_json::json;
use zeroize::Zeroizing;

/// The epsilon `hdg query` spends unless told otherwise.
pub const DEFAULT_EPSILON: f64 = 1.0;

use super::answer_figures::{self, Format, Unit, to_csv, to_table};
use super::cluster_file::ClusterFile;
use super::consent::purpose;
use super::http::{NodeUrl, post};
use crate::clock::now;
use crate::node::query_party::session_of;
use hdg_wire::Purpose;
use hdg_wire::answer::{check_answers, query_digest};
use hdg_wire::filter::{FilterError, filtered_mean, indicator, parse_edges, parse_filter};
use hdg_wire::query::{DEFAULT_MIN_COHORT, PartyAnswer, Predictor, Query, Statistic};
use hdg_wire::signed::{Kind, sign};

/// Arguments of `hdg query`.
#[derive(clap::Args)]
pub struct Args {
    /// The cluster file (`cluster.toml` from `hdg init`, or its folder): the node keys the
    /// answers must be signed by.
    #[arg(long, value_name = "FILE")]
    cluster: PathBuf,
    /// The coordinator node's API, `http://host:port` (default: the first node of the cluster
    /// file).
    #[arg(long)]
    node: Option<String>,
    /// The researcher's ed25519 seed file (64 hex digits, as `hdg init` writes it).
    #[arg(long)]
    key: PathBuf,
    /// count, sum, mean, variance, pearson, covariance, histogram, median, min, max, quantile,
    /// two-groups or regression (`mean` with `--where` is the filtered mean: count and mean of
    /// the values matching the clause).
    #[arg(long)]
    stat: String,
    /// The indicator's LOINC code, e.g. 4548-4.
    #[arg(long)]
    indicator: String,
    /// Earliest effective time included (FHIR date or dateTime, e.g. 2020-01-01).
    #[arg(long)]
    from: Option<String>,
    /// First effective time excluded (FHIR date or dateTime).
    #[arg(long)]
    to: Option<String>,
    /// A filter for `--stat mean`, or the split of `--stat two-groups` on its `--by`
    /// indicator: `value > NUMBER [UNIT]` or `value >= NUMBER [UNIT]`.
    #[arg(long = "where")]
    filter: Option<String>,
    /// The indicator that splits the patients of `--stat two-groups` (its latest value per
    /// patient, compared with `--where`).
    #[arg(long, value_name = "CODE")]
    by: Option<String>,
    /// The second indicator of `--stat pearson` or `--stat covariance`, paired per patient.
    #[arg(long)]
    pair: Option<String>,
    /// A predictor of `--stat regression` (the indicator is the outcome), as `CODE` or with
    /// its clipping bounds `CODE:LO..HI` in its unit; repeat for several (the coefficients
    /// follow their order).
    #[arg(long = "predictor", value_name = "CODE[:LO..HI]")]
    predictors: Vec<String>,
    /// The quantile of `--stat quantile`, strictly between 0 and 1 in thousandths (0.9: the
    /// 90th percentile).
    #[arg(long, value_name = "Q")]
    quantile: Option<f64>,
    /// Comma-separated bucket edges of `--stat histogram`, in the indicator's canonical unit.
    #[arg(long)]
    edges: Option<String>,
    /// What the result is for: research, statistics or treatment (the registry must allow it
    /// for this researcher).
    #[arg(long, default_value = "research", value_parser = purpose)]
    purpose: Purpose,
    /// The privacy loss this query spends, as epsilon at the cluster's delta (a private
    /// cluster charges it to your budget; an exact cluster ignores it).
    #[arg(long, default_value_t = DEFAULT_EPSILON)]
    epsilon: f64,
    /// Bounds every value is clipped to before it counts, `LO..HI` in the indicator's unit
    /// (default: the catalog's range). Narrower bounds mean less noise.
    #[arg(long, value_name = "LO..HI")]
    clip: Option<String>,
    /// Clipping bounds of the `--pair` indicator, `LO..HI` in its unit.
    #[arg(long, value_name = "LO..HI")]
    pair_clip: Option<String>,
    /// Smallest filtered cohort released by a filtered mean (the node may raise it).
    #[arg(long, default_value_t = DEFAULT_MIN_COHORT)]
    min_cohort: u64,
    /// Allow a plain-HTTP coordinator (local debugging only; the answers are still checked
    /// against the cluster file's keys).
    #[arg(long)]
    insecure_http: bool,
    /// Seconds to wait for the node's answer.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Also write the signed request as posted to FILE (an audit copy; replaying it is refused).
    #[arg(long, value_name = "FILE")]
    save_request: Option<PathBuf>,
    /// How to print the answer: `table` (for people), `csv` (a header and one line per
    /// figure) or `json` (one object). Every figure is in the indicator's unit.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

/// What the cluster answered a query, opened by the researcher.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The statistic, in the indicator's fixed point.
    pub value: StatValue,
    /// Rows (pairs) it was computed on.
    pub rows: u64,
    /// The query's leaf index in each party's ledger.
    pub ledger: Vec<Option<u64>>,
    /// Payload bytes each party sent to the others.
    pub bytes_sent: [u64; 3],
}

/// A refusal by the cluster: the HTTP status and the reason it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// The reason the node gave.
    pub reason: String,
}

/// What a researcher asks, before it is sealed and signed.
#[derive(Debug, Clone)]
pub struct Question {
    /// The statistic.
    pub statistic: Statistic,
    /// The indicator's LOINC code.
    pub indicator: String,
    /// The effective-time window (whole UTC days), unix ms: from included, to excluded.
    pub window: (Option<i64>, Option<i64>),
    /// What the result is for.
    pub purpose: Purpose,
    /// The privacy loss to spend (a private cluster requires it; an exact one ignores it).
    pub epsilon: Option<f64>,
    /// Clipping bounds of the indicator's values (fixed point), for a private release.
    pub clip: Option<[i64; 2]>,
    /// Clipping bounds of the paired indicator's values (fixed point).
    pub pair_clip: Option<[i64; 2]>,
}

/// Signs `question` with `key` (the answer sealed to a fresh X25519 key made here), posts it to
/// `node`, checks the three answers against the parties' `pins` and opens them. `Ok(Err(_))` is
/// the cluster's refusal; `Err` a failure to ask, an answer refused by a check, or one that does
/// not open.
pub fn ask(
    node: &NodeUrl,
    pins: &[[u8; 32]; 3],
    key: &SigningKey,
    question: Question,
    timeout: Duration,
    save_request: Option<&Path>,
) -> anyhow::Result<Result<Answer, Refused>> {
    let recipient = StaticSecret::random_from_rng(&mut rand::rng());
    let query = Query {
        statistic: question.statistic,
        indicator: question.indicator,
        from: question.window.0,
        to: question.window.1,
        researcher_x25519: PublicKey::from(&recipient).to_bytes(),
        purpose: question.purpose,
        epsilon: question.epsilon,
        clip: question.clip,
        pair_clip: question.pair_clip,
    };
    let body = serde_json::to_string(&query).context("encoding the query")?;
    let signed = sign(key, Kind::Query, &body, now());
    let request = serde_json::to_vec(&signed).context("encoding the signed request")?;
    if let Some(path) = save_request {
        std::fs::write(path, &request)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (status, answer) = post(node, "/v1/query", "application/json", &request, timeout)?;
    if status != 200 {
        let reason = answer["error"].as_str().unwrap_or("no reason given");
        return Ok(Err(Refused {
            status,
            reason: reason.to_owned(),
        }));
    }
    let answers: Vec<PartyAnswer> = serde_json::from_value(answer["answers"].clone())
        .context("the node's answer does not hold the parties' answers")?;
    let digest = query_digest(&body);
    check_answers(
        &answers,
        pins,
        &session_of(&signed).0,
        &digest,
        &query.statistic,
    )?;
    let answers: [PartyAnswer; 3] = answers
        .try_into()
        .map_err(|_| anyhow::anyhow!("three answers were checked"))?;
    let sealed: [SealedAggregates; 3] = answers.clone().map(|a| a.sealed);
    let value = open_aggregates(&recipient, &sealed, &digest)
        .context("answer refused: the sealed answers do not open as the answer to this query")?;
    Ok(Ok(Answer {
        value,
        rows: answers[0].rows,
        ledger: answers.iter().map(|a| a.ledger_index).collect(),
        bytes_sent: [0, 1, 2].map(|i| answers[i].bytes_sent),
    }))
}

/// Runs the query.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cluster = ClusterFile::load(&args.cluster)?;
    let pins = cluster.pins()?;
    let node = match &args.node {
        Some(url) => url.clone(),
        None => cluster
            .api(0)
            .context("the cluster file names no API for node 0")?
            .to_owned(),
    };
    let node = if node.starts_with("https://") {
        NodeUrl::open(
            &node,
            Some(&[cluster.key_of_api(&node)?]),
            args.insecure_http,
        )?
    } else {
        NodeUrl::open(&node, None, args.insecure_http)?
    };
    let key = read_seed(&args.key)?;
    let statistic = statistic(&args)?;
    let window = (
        args.from.as_deref().map(parse_time).transpose()?,
        args.to.as_deref().map(parse_time).transpose()?,
    );
    let question = Question {
        statistic: statistic.clone(),
        indicator: args.indicator.clone(),
        window,
        purpose: args.purpose,
        epsilon: Some(args.epsilon),
        clip: args
            .clip
            .as_deref()
            .map(|c| clip_bounds(&args.indicator, c))
            .transpose()?,
        pair_clip: match (&args.pair_clip, &args.pair) {
            (Some(c), Some(pair)) => Some(clip_bounds(pair, c)?),
            (Some(_), None) => anyhow::bail!("--pair-clip needs --pair"),
            (None, _) => None,
        },
    };
    let answer = ask(
        &node,
        &pins,
        &key,
        question,
        Duration::from_secs(args.timeout),
        args.save_request.as_deref(),
    )?;
    let answer = match answer {
        Ok(answer) => answer,
        Err(Refused { status, reason }) => {
            if args.json {
                println!("{}", json!({ "status": status, "error": reason }));
            } else {
                eprintln!("query refused ({status}): {reason}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    print_result(&args, &answer, &statistic)?;
    Ok(ExitCode::SUCCESS)
}

fn print_result(args: &Args, answer: &Answer, statistic: &Statistic) -> anyhow::Result<()> {
    let unit_of = |code: &str| -> anyhow::Result<Unit> {
        let ind = indicator(code).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Unit {
            code: code.to_owned(),
            ucum: ind.unit.clone(),
            scale: 10f64.powi(ind.precision as i32),
        })
    };
    let x = unit_of(&args.indicator)?;
    let others = statistic
        .others()
        .into_iter()
        .map(unit_of)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let edges = match statistic {
        Statistic::Histogram { edges } => edges.as_slice(),
        _ => &[],
    };
    let figures = answer_figures::figures(&answer.value, &x, &others, edges);
    let predictor_codes = match statistic {
        Statistic::Regression { predictors } => Some(
            predictors
                .iter()
                .map(|p| p.indicator.as_str())
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Json => println!(
            "{}",
            json!({
                "statistic": args.stat,
                "indicator": args.indicator,
                "pair": args.pair,
                "predictors": predictor_codes,
                "unit": x.ucum,
                "figures": figures,
                "rows": answer.rows,
                "query_ledger_index": answer.ledger,
                "fixed_point": { "result": answer.value, "scale": x.scale },
            })
        ),
        Format::Csv => print!("{}", to_csv(&figures)),
        Format::Table => {
            let private = matches!(answer.value, StatValue::Private { .. });
            let others = statistic.others();
            match (private, others.first()) {
                (true, _) => println!(
                    "{} of {} (differentially private, epsilon {}):",
                    args.stat, args.indicator, args.epsilon
                ),
                (false, Some(_)) => println!(
                    "{} of {} ~ {}:",
                    args.stat,
                    args.indicator,
                    others.join(" + ")
                ),
                (false, None) => println!("{} of {}:", args.stat, args.indicator),
            }
            print!("{}", to_table(&figures));
            if private {
                println!(
                    "(intervals: 95% of the noise the parties added; not the cohort's sampling error)"
                );
            } else {
                println!("rows: {}", answer.rows);
            }
            print_ledger(&answer.ledger);
        }
    }
    Ok(())
}

/// `LO..HI` in the unit of `code` to fixed-point bounds.
fn clip_bounds(code: &str, text: &str) -> anyhow::Result<[i64; 2]> {
    let ind = indicator(code).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (lo, hi) = text
        .split_once("..")
        .with_context(|| format!("--clip {text}: expected LO..HI"))?;
    let fixed = |v: &str| {
        ind.encode(v.trim(), &ind.unit)
            .map_err(|e| anyhow::anyhow!("--clip {text}: {e}"))
    };
    Ok([fixed(lo)?, fixed(hi)?])
}

fn print_ledger(ledger: &[Option<u64>]) {
    let at: Vec<String> = ledger
        .iter()
        .enumerate()
        .map(|(i, l)| l.map_or(format!("node{i}: -"), |l| format!("node{i}: leaf {l}")))
        .collect();
    println!("query logged in each node's ledger at {}", at.join(", "));
}

/// The statistic the arguments ask for.
fn statistic(args: &Args) -> anyhow::Result<Statistic> {
    let code = args.indicator.as_str();
    let q = |e: FilterError| anyhow::anyhow!("{e}");
    if args.filter.is_some() && !["mean", "two-groups"].contains(&args.stat.as_str()) {
        bail!("--where goes with --stat mean or --stat two-groups only");
    }
    Ok(match args.stat.as_str() {
        "count" => Statistic::Count,
        "sum" => Statistic::Sum,
        "mean" => match &args.filter {
            Some(clause) => filtered_mean(code, clause, args.min_cohort).map_err(q)?,
            None => Statistic::Mean,
        },
        "variance" => Statistic::Variance,
        "median" => Statistic::Median,
        "min" => Statistic::Min,
        "max" => Statistic::Max,
        "quantile" => Statistic::Quantile {
            permille: permille(
                args.quantile
                    .context("--stat quantile needs --quantile Q")?,
            )?,
        },
        "two-groups" => {
            let by = args
                .by
                .clone()
                .context("--stat two-groups needs --by CODE (the indicator that splits)")?;
            let clause = args
                .filter
                .as_deref()
                .context("--stat two-groups needs --where 'value > NUMBER' (the split on --by)")?;
            Statistic::TwoGroups {
                threshold: parse_filter(&by, clause).map_err(q)?,
                by,
            }
        }
        "covariance" => Statistic::Covariance {
            pair: args
                .pair
                .clone()
                .context("--stat covariance needs --pair CODE")?,
        },
        "pearson" => Statistic::Pearson {
            pair: args
                .pair
                .clone()
                .context("--stat pearson needs --pair CODE")?,
        },
        "regression" => Statistic::Regression {
            predictors: predictors(&args.predictors)?,
        },
        "histogram" => Statistic::Histogram {
            edges: parse_edges(
                code,
                args.edges
                    .as_deref()
                    .context("--stat histogram needs --edges A,B,C")?,
            )
            .map_err(q)?,
        },
        other => bail!(
            "unknown statistic {other}: use count, sum, mean, variance, pearson, covariance, histogram, median, min, max, quantile, two-groups or regression"
        ),
    })
}

/// The predictors of `--stat regression` from `CODE` or `CODE:LO..HI` (bounds in its unit).
fn predictors(args: &[String]) -> anyhow::Result<Vec<Predictor>> {
    if args.is_empty() {
        bail!("--stat regression needs --predictor CODE (one or more)");
    }
    args.iter()
        .map(|text| {
            let (code, clip) = match text.split_once(':') {
                Some((code, bounds)) => (code.trim(), Some(clip_bounds(code.trim(), bounds)?)),
                None => (text.trim(), None),
            };
            indicator(code).map_err(|e| anyhow::anyhow!("--predictor {text}: {e}"))?;
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
            "--quantile {q}: must be strictly between 0 and 1, in thousandths (such as 0.9 or 0.975)"
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

/// The researcher's signing key from its seed file (64 hex digits).
pub fn read_seed(path: &Path) -> anyhow::Result<SigningKey> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the key {}", path.display()))?,
    );
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), seed.as_mut_slice())
        .with_context(|| format!("{}: must hold 64 hex digits", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
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
        assert!(e.contains("--clip 80..lots"), "{e}");
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
        assert!(e.contains("--predictor"), "{e}");
        let e = predictors(&["0000-0".into()]).unwrap_err().to_string();
        assert!(e.contains("0000-0") && e.contains("catalog"), "{e}");
        let e = predictors(&["39156-5:40".into()]).unwrap_err().to_string();
        assert!(e.contains("LO..HI"), "{e}");
    }
}
