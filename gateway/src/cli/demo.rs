//! `hdg demo`: the first thing a new user runs — a synthetic cohort through the whole stack.
//!
//! Today: synthesise a cohort, ingest it into an embedded node store (validated, sealed, indexed,
//! anchored), print the per-indicator summary, verify the ledger, print and check one inclusion
//! proof offline, and run sample statistics with the three MPC parties in memory beside the
//! plaintext results computed directly from the cohort files (see `demo_queries`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use hdg_ledger::NoteVerifier;
use hdg_schema::Mode;
use hdg_storage::Store;

use super::demo_queries::{plaintext_rows, run_sample_queries};
use super::files::print_report_table;
use super::ingest::ingest_files;
use super::synth::write_cohort;

/// Arguments of `hdg demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of synthetic patients.
    #[arg(long, default_value_t = 2000)]
    patients: u64,
    /// Keep everything in this folder instead of a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Seed of the synthetic cohort.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

/// Runs the demo.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let tmp = tempfile::tempdir()?;
    let root = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    println!("== Healthcare Data Gateway demo in {}", root.display());

    let t = Instant::now();
    let files = write_cohort(&root.join("cohort"), args.patients, args.seed, 500)?;
    println!(
        "synthesised {} patients in {} files ({:.1} s)",
        args.patients,
        files.len(),
        t.elapsed().as_secs_f64()
    );

    let mut store = Store::open(&root.join("node0"), true)?;
    let t = Instant::now();
    let totals = ingest_files(&mut store, &files, Mode::Strict, 4096, &mut |_| {})?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "\n== ingest: {} records anchored in {secs:.1} s ({:.0}/s); ledger size {}",
        totals.stored,
        totals.stored as f64 / secs,
        store.tree_size()
    );
    print_report_table(&totals.report);

    println!("\n== ledger");
    println!("verifier key: {}", store.vkey());
    let verifier = NoteVerifier::from_vkey(&store.vkey())?;
    let t = Instant::now();
    let summary = store.verify(&verifier)?;
    println!(
        "verify: ok, {} entries and {} records re-derived, {} signed heads checked ({:.1} s)",
        summary.leaves,
        summary.records,
        summary.heads,
        t.elapsed().as_secs_f64()
    );
    if let Some(first) = store.scan_indicator("4548-4", Default::default())?.first() {
        let proof = store.inclusion_proof(first)?;
        proof.verify(&verifier)?;
        println!(
            "inclusion proof of HbA1c record {first}: leaf {} of {}, {} hashes, verified offline with the vkey",
            proof.leaf_index,
            proof.tree_size,
            proof.audit_path.len()
        );
    }

    println!(
        "\n== statistics by three-party computation (in memory), sealed to a researcher's key"
    );
    let plain = plaintext_rows(&files, store.pseudonym_key())?;
    run_sample_queries(&store, &plain)?;
    println!("\ndone in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
