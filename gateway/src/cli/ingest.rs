//! `hdg ingest --data DIR`: import files into the embedded store in durable group commits.
//!
//! Strict mode (the default) validates each file completely before storing any of it; lenient mode
//! stores the good entries and reports the bad. With `--json`, one line per acknowledged commit,
//! `{"tree_size": n, "records": [{"record_id": hex, "leaf_index": i}, ...]}`, printed only after the
//! commit is durable — the durability test relies on exactly that.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use hdg_schema::{Catalog, ImportOptions, ImportReport, Mode};
use hdg_storage::{CommitReceipt, Store};
use indicatif::{ProgressBar, ProgressStyle};

use super::files::{import_file, print_report_table};
use crate::clock::now;
use crate::ingest_path::{IngestTotals, ingest_with};
use hdg_client::key::read_seed;
use hdg_wire::ingest_signature::sign_ingest;

/// Arguments of `hdg ingest`.
#[derive(clap::Args)]
pub struct Args {
    /// The node's data folder (RocksDB and its sealed keyring): ingest into the embedded store
    /// (created when missing, its keys sealed under `--key-file`).
    #[arg(
        long = "data",
        value_name = "DIR",
        required_unless_present = "node",
        conflicts_with = "node"
    )]
    data: Option<PathBuf>,
    #[command(flatten)]
    unlock: crate::unlock::Unlock,
    /// A running node's API, `https://host:port`: post each file to its `/v1/observations`,
    /// signed as the source whose seed `--key` names.
    #[arg(long, value_name = "URL", requires = "key")]
    node: Option<String>,
    /// With `--node`: the cluster file (`cluster.toml`), the node keys an https node must
    /// present.
    #[arg(long, value_name = "FILE", requires = "node")]
    cluster: Option<PathBuf>,
    /// With `--node`: allow a plain-HTTP node (local debugging only).
    #[arg(long, requires = "node")]
    insecure_http: bool,
    /// With `--node`: the seed file of a source (an EHR feed) registered with the cluster.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// One JSON line per acknowledged commit instead of a progress bar and summary.
    #[arg(long)]
    json: bool,
    /// Store the good entries and report the bad ones (default: strict, a file with any
    /// rejected entry is not stored at all).
    #[arg(long)]
    lenient: bool,
    /// Observations per commit (group commit: one synced write per batch).
    #[arg(long, default_value_t = 4096)]
    batch: usize,
    /// FHIR JSON / NDJSON / CSV files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Runs the ingest.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(dir) = args.data.clone() else {
        let node = args
            .node
            .as_deref()
            .context("--data or --node is required")?;
        let key = read_seed(
            args.key
                .as_deref()
                .context("--node needs --key SOURCE_KEY")?,
        )?;
        let node = super::http::connect(node, args.cluster.as_deref(), args.insecure_http)?;
        return ingest_remote(&node, &key, &args.files, args.lenient, args.json);
    };
    let mut store = Store::open(&dir, true, &args.unlock.source()?)?;
    let mode = if args.lenient {
        Mode::Lenient
    } else {
        Mode::Strict
    };
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        progress_bar(&args.files)
    };
    let mut out = std::io::stdout().lock();
    let mut on_commit = |r: &CommitReceipt| {
        bar.inc(r.records.len() as u64 + r.duplicates.len() as u64);
        if args.json && !r.records.is_empty() {
            let line = commit_json(r);
            // A closed stdout must not stop the ingest; the store is the source of truth.
            let _ = writeln!(out, "{line}").and_then(|_| out.flush());
        }
    };
    let totals = ingest_files(&mut store, &args.files, mode, args.batch, &mut on_commit)?;
    bar.finish_and_clear();
    if !args.json {
        print_report_table(&totals.report);
        println!(
            "stored {} new records ({} already present, {} refused); ledger size {}",
            totals.stored,
            totals.duplicates,
            totals.refused,
            store.tree_size()
        );
        if let Some(head) = store.latest_head()? {
            println!("signed head:\n{head}");
        }
    }
    let failed = mode == Mode::Strict && (!totals.report.rejected.is_empty() || totals.refused > 0);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Posts each file to the node's `/v1/observations` (content type from the extension) and
/// prints each receipt; fails when any file is refused.
fn ingest_remote(
    node: &super::http::NodeUrl,
    source: &ed25519_dalek::SigningKey,
    files: &[PathBuf],
    lenient: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let path = if lenient {
        "/v1/observations?lenient=true"
    } else {
        "/v1/observations"
    };
    let bar = if json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(files.len() as u64)
    };
    let mut failed = false;
    for file in files {
        let body =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let content_type = content_type_of(file);
        let signature = sign_ingest(source, content_type, &body, now());
        let (status, receipt) = super::http::post_with_headers(
            node,
            path,
            content_type,
            &signature,
            &body,
            std::time::Duration::from_secs(300),
        )
        .with_context(|| format!("posting {}", file.display()))?;
        bar.inc(1);
        let records = receipt["records"].as_array().map_or(0, Vec::len);
        if json {
            println!(
                "{}",
                serde_json::json!({ "file": file.display().to_string(), "status": status, "receipt": receipt })
            );
        } else if status == 200 {
            bar.suspend(|| {
                println!(
                    "{}: {records} new records, {} duplicates; ledger size {}",
                    file.display(),
                    receipt["duplicates"].as_array().map_or(0, Vec::len),
                    receipt["tree_size"]
                )
            });
        } else {
            bar.suspend(|| {
                println!(
                    "{}: refused ({status}): {}",
                    file.display(),
                    receipt["error"].as_str().unwrap_or("no reason given")
                )
            });
        }
        failed |= status != 200;
    }
    bar.finish_and_clear();
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The content type of an input file, from its extension.
pub fn content_type_of(file: &Path) -> &'static str {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("ndjson" | "jsonl") => "application/fhir+ndjson",
        Some("csv") => "text/csv",
        _ => "application/fhir+json",
    }
}

/// Imports every file into `store` in commits of `batch` observations, calling `on_commit` after
/// each durable commit. In strict mode a file with any rejected entry is validated first and not
/// stored.
pub fn ingest_files(
    store: &mut Store,
    files: &[PathBuf],
    mode: Mode,
    batch: usize,
    on_commit: &mut dyn FnMut(&CommitReceipt),
) -> anyhow::Result<IngestTotals> {
    let opts = ImportOptions {
        mode,
        pseudonym_key: store.pseudonym_key(),
        catalog: Catalog::active(),
        enrolled: None,
    };
    let mut totals = IngestTotals::default();
    for path in files {
        if mode == Mode::Strict {
            let check = import_file(path, &opts, &mut |_| {})?;
            if !check.rejected.is_empty() {
                totals.report.merge(check);
                continue;
            }
        }
        let report = ingest_file(store, path, &opts, batch, &mut totals, on_commit)?;
        totals.report.merge(report);
    }
    Ok(totals)
}

fn ingest_file(
    store: &mut Store,
    path: &Path,
    opts: &ImportOptions,
    batch: usize,
    totals: &mut IngestTotals,
    on_commit: &mut dyn FnMut(&CommitReceipt),
) -> anyhow::Result<ImportReport> {
    let name = path.display().to_string();
    ingest_with(
        store,
        &Store::commit,
        &name,
        batch,
        totals,
        on_commit,
        &mut |sink| import_file(path, opts, sink),
    )
}

/// The `--json` line of one acknowledged commit.
pub fn commit_json(r: &CommitReceipt) -> serde_json::Value {
    serde_json::json!({
        "tree_size": r.tree_size,
        "records": r.records.iter().map(|a| serde_json::json!({
            "record_id": a.id.to_string(),
            "leaf_index": a.leaf_index,
        })).collect::<Vec<_>>(),
    })
}

fn progress_bar(files: &[PathBuf]) -> ProgressBar {
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    // Roughly one observation per 500 bytes of FHIR JSON: a hint, corrected by the final summary.
    let bar = ProgressBar::new((bytes / 500).max(1));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} ingest {pos} observations [{elapsed_precise}] {per_sec}",
        )
        .expect("static progress template"),
    );
    bar
}
