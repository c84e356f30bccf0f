//! `hdg synth`: write a deterministic synthetic cohort as FHIR transaction bundles.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `hdg synth`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of patients.
    #[arg(long, default_value_t = 100)]
    patients: u64,
    /// Seed: the same seed gives the same cohort, byte for byte.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Patients per NDJSON-free bundle file (one bundle per patient is written as one line each
    /// into files of this many patients).
    #[arg(long, default_value_t = 1000)]
    per_file: u64,
}

/// Writes the cohort: `cohort-NNNNN.ndjson`, one Bundle per line.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = write_cohort(&args.out, args.patients, args.seed, args.per_file)?;
    println!(
        "wrote {} patients in {} files to {}",
        args.patients,
        files.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes `patients` synthetic bundles into `out`, `per_file` bundles per NDJSON file.
pub fn write_cohort(
    out: &std::path::Path,
    patients: u64,
    seed: u64,
    per_file: u64,
) -> anyhow::Result<Vec<PathBuf>> {
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let per_file = per_file.max(1);
    let mut files = Vec::new();
    let mut start = 0;
    while start < patients {
        let end = (start + per_file).min(patients);
        let path = out.join(format!("cohort-{:05}.ndjson", files.len()));
        let mut w = BufWriter::new(
            fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        for i in start..end {
            w.write_all(hdg_schema::synth::patient_bundle(seed, i).as_bytes())?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        files.push(path);
        start = end;
    }
    Ok(files)
}
