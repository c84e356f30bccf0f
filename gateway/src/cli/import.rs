//! `hdg import --check`: validate files and report, storing nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use hdg_schema::{Catalog, ImportOptions, ImportReport, Mode};

use super::files::{import_file, print_report_table};

/// Arguments of `hdg import`.
#[derive(clap::Args)]
pub struct Args {
    /// Validate only. This is what `hdg import` does; `hdg ingest` is the command that stores.
    #[arg(long)]
    check: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Accept the good entries and report the bad ones (default: strict, any rejection fails).
    #[arg(long)]
    lenient: bool,
    /// FHIR JSON (Observation or Bundle), NDJSON (bulk export) or CSV files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Runs the check; exits non-zero in strict mode when any entry was rejected.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = args.check;
    let opts = ImportOptions {
        mode: if args.lenient {
            Mode::Lenient
        } else {
            Mode::Strict
        },
        pseudonym_key: [0; 32],
        catalog: Catalog::active(),
        enrolled: None,
    };
    let mut report = ImportReport::default();
    for f in &args.files {
        report.merge(import_file(f, &opts, &mut |_| {})?);
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report_table(&report);
    }
    Ok(if !args.lenient && !report.rejected.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
