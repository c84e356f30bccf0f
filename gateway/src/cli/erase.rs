//! `hdg erase --data DIR --patient P`: crypto-shred a patient's records.

use std::process::ExitCode;

use anyhow::{Context, bail};
use hdg_schema::Pseudonym;
use hdg_storage::Erasure;

use super::ingest::now;
use crate::DataDir;

/// Arguments of `hdg erase`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataDir,
    /// The patient's pseudonym (64 lowercase hex digits).
    #[arg(long)]
    patient: String,
}

/// Destroys the patient's data key and anchors the erasure.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let p: Pseudonym = args
        .patient
        .parse()
        .context("--patient must be 64 lowercase hex digits")?;
    let mut store = args.data.open(false)?;
    let r = match store.erase_patient(&p, now())? {
        Erasure::Erased(r) => r,
        Erasure::AlreadyErased => bail!("patient {p} was already erased here"),
        Erasure::NothingHeld => bail!("patient {p} has no data in this store"),
    };
    println!(
        "erased: {} records of patient {p} are unreadable; erasure anchored at leaf {}\n{}",
        r.records, r.leaf_index, r.checkpoint
    );
    Ok(ExitCode::SUCCESS)
}
