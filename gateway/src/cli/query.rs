//! `hdg query --cluster CLUSTER_FILE --key RESEARCHER_KEY --stat mean --indicator 4548-4 ...`: a
//! researcher's query, through the client crate ([`hdg_client::researcher`]): the arguments are
//! read into a [`Request`], which is signed with the researcher's ed25519 seed (`hdg init`
//! writes it under `DIR/identities/`) and posted to a node (the coordinator); the three
//! parties' answers are checked against the node keys the cluster file pins and only then
//! opened. A relayed answer that fails a check is refused, naming the check, and no value is
//! printed.
//!
//! Results are printed in the indicator's unit (`--format table|csv|json`): the JSON is the
//! client's [`Report`], which also carries the exact fixed-point answer and its scale.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hdg_client::figures::{to_csv, to_table};
use hdg_client::query::Refused;
use hdg_client::report::Report;
use hdg_client::request::{DEFAULT_EPSILON, Request};
use hdg_client::researcher::Researcher;
use hdg_wire::Purpose;
use hdg_wire::query::DEFAULT_MIN_COHORT;
use serde_json::json;

/// How `hdg query` prints an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// CSV (RFC 4180): a header, then one line per figure.
    Csv,
    /// One JSON object: the figures in their units, the rows, the ledger indexes, and the
    /// exact fixed-point answer with its scale.
    Json,
}

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
    /// the values matching the clause; `mean` or `regression` with `--by CODE --where ...`
    /// runs over the cohort of patients whose latest CODE matches, in a private cluster).
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
    /// A filter for `--stat mean` on the indicator itself; with `--by`, who is in the cohort of
    /// `--stat mean` or `--stat regression`, or the split of `--stat two-groups`, on the `--by`
    /// indicator: `value > NUMBER [UNIT]` or `value >= NUMBER [UNIT]`.
    #[arg(long = "where")]
    filter: Option<String>,
    /// The indicator that chooses the cohort of `--stat mean` or `--stat regression`, or splits
    /// the patients of `--stat two-groups` (its latest value per patient, compared with
    /// `--where` inside the MPC: nobody learns who is in).
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
    #[arg(long, default_value = "research")]
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

impl Args {
    /// The request the arguments make.
    fn request(&self) -> Request {
        Request {
            stat: self.stat.clone(),
            indicator: self.indicator.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            filter: self.filter.clone(),
            by: self.by.clone(),
            pair: self.pair.clone(),
            predictors: self.predictors.clone(),
            quantile: self.quantile,
            edges: self.edges.clone(),
            purpose: self.purpose,
            epsilon: self.epsilon,
            clip: self.clip.clone(),
            pair_clip: self.pair_clip.clone(),
            min_cohort: self.min_cohort,
        }
    }
}

/// Runs the query.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let researcher = Researcher::open(
        &args.cluster,
        &args.key,
        args.node.as_deref(),
        args.insecure_http,
    )?;
    let answer = researcher.ask(
        &args.request(),
        Duration::from_secs(args.timeout),
        args.save_request.as_deref(),
    )?;
    let report = match answer {
        Ok(report) => report,
        Err(Refused { status, reason }) => {
            if args.json {
                println!("{}", json!({ "status": status, "error": reason }));
            } else {
                eprintln!("query refused ({status}): {reason}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Json => println!("{}", serde_json::to_string(&report)?),
        Format::Csv => print!("{}", to_csv(&report.figures)),
        Format::Table => print_table(&report),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(report: &Report) {
    let mut others: Vec<&str> = report
        .pair
        .iter()
        .chain(&report.by)
        .map(|s| s.as_str())
        .collect();
    others.extend(report.predictors.iter().flatten().map(|s| s.as_str()));
    match (report.epsilon, others.first()) {
        (Some(epsilon), _) => println!(
            "{} of {} (differentially private, epsilon {epsilon}):",
            report.statistic, report.indicator
        ),
        (None, Some(_)) => println!(
            "{} of {} ~ {}:",
            report.statistic,
            report.indicator,
            others.join(" + ")
        ),
        (None, None) => println!("{} of {}:", report.statistic, report.indicator),
    }
    print!("{}", to_table(&report.figures));
    match report.rows {
        Some(rows) => println!("rows: {rows}"),
        None => println!(
            "(intervals: 95% of the noise the parties added; not the cohort's sampling error)"
        ),
    }
    let at: Vec<String> = report
        .query_ledger_index
        .iter()
        .enumerate()
        .map(|(i, l)| l.map_or(format!("node{i}: -"), |l| format!("node{i}: leaf {l}")))
        .collect();
    println!("query logged in each node's ledger at {}", at.join(", "));
}
