//! `hdg proof`: print a record's inclusion proof, or verify one offline with only the node's key.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use hdg_ledger::{InclusionProofJson, NoteVerifier};
use hdg_schema::RecordId;
use hdg_storage::Store;

/// Arguments of `hdg proof`.
#[derive(clap::Args)]
pub struct Args {
    /// The node's data folder (to produce a proof).
    #[arg(
        long,
        value_name = "DIR",
        requires = "record",
        conflicts_with = "verify"
    )]
    data: Option<PathBuf>,
    #[command(flatten)]
    unlock: crate::unlock::Unlock,
    /// The record id (lowercase hex).
    #[arg(long)]
    record: Option<String>,
    /// A proof JSON file to check offline (no database needed).
    #[arg(long, value_name = "FILE", requires = "key")]
    verify: Option<PathBuf>,
    /// The node's verifier key (name+keyhash+base64), for `--verify`.
    #[arg(long)]
    key: Option<String>,
}

/// Prints or checks a proof.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(file) = args.verify {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let proof: InclusionProofJson =
            serde_json::from_str(&text).context("proof is not valid proof JSON")?;
        let verifier = NoteVerifier::from_vkey(args.key.as_deref().unwrap_or_default())?;
        return Ok(match proof.verify(&verifier) {
            Ok(_) => {
                println!(
                    "ok: leaf {} is in the log of size {} signed by {}",
                    proof.leaf_index,
                    proof.tree_size,
                    verifier.name()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("FAILED: {e}");
                ExitCode::FAILURE
            }
        });
    }
    let (Some(dir), Some(record)) = (args.data, args.record) else {
        bail!(
            "give --data DIR --record ID to print a proof, or --verify FILE --key VKEY to check one"
        );
    };
    let id: RecordId = record
        .parse()
        .context("--record must be 64 lowercase hex digits")?;
    let store = Store::open(&dir, false, &args.unlock.source()?)?;
    let proof = store.inclusion_proof(&id)?;
    println!("{}", serde_json::to_string_pretty(&proof)?);
    Ok(ExitCode::SUCCESS)
}
