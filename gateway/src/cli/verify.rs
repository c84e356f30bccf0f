//! `hdg verify --data DIR`: re-derive every hash and signature from disk.

use std::process::ExitCode;

use hdg_ledger::NoteVerifier;
use hdg_storage::{Store, VerifyError};

use crate::DataDir;

/// Arguments of `hdg verify`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataDir,
    /// The node's published verifier key (name+keyhash+base64). Default: the key in the data
    /// folder — pass the published one to check a store you do not trust.
    #[arg(long)]
    key: Option<String>,
}

/// Exit 0 and a one-line summary when clean; non-zero and the first bad entry when not.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = Store::open(&args.data.dir, false)?;
    let vkey = args.key.unwrap_or_else(|| store.vkey());
    let verifier = NoteVerifier::from_vkey(&vkey)?;
    match store.verify(&verifier) {
        Ok(s) => {
            println!(
                "ok: {} ledger entries, {} records, {} shredded, {} signed heads, root {}",
                s.leaves,
                s.records,
                s.shredded,
                s.heads,
                hex_lower(&s.root)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ VerifyError::Bad { .. }) => {
            println!("FAILED: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(VerifyError::Store(e)) => Err(e.into()),
    }
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
