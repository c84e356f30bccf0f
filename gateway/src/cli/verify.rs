//! `hdg verify --data DIR`: re-derive every hash and signature from disk; `hdg verify --cluster
//! DIR`: check a running cluster's heads are cosigned and consistent ([`super::verify_cluster`]).

use std::path::PathBuf;
use std::process::ExitCode;

use hdg_ledger::NoteVerifier;
use hdg_storage::{Store, VerifyError};

/// Arguments of `hdg verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The node's data folder (RocksDB and its sealed keyring), checked offline.
    #[arg(long = "data", value_name = "DIR", required_unless_present = "cluster")]
    data: Option<PathBuf>,
    #[command(flatten)]
    unlock: crate::unlock::Unlock,
    /// The node's published verifier key (name+keyhash+base64). Default: the key in the data
    /// folder — pass the published one to check a store you do not trust.
    #[arg(long, conflicts_with = "cluster")]
    key: Option<String>,
    /// A running cluster's folder (from `hdg init`): check every node's head is cosigned by the
    /// two others and consistent with what they witnessed, and that no fork was reported.
    #[arg(long, value_name = "DIR", conflicts_with = "data")]
    cluster: Option<PathBuf>,
}

/// Exit 0 and a one-line summary when clean; non-zero and the first bad entry when not.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.cluster {
        return super::verify_cluster::run(dir);
    }
    let data = args.data.expect("clap requires --data without --cluster");
    let store = Store::open(&data, false, &args.unlock.source()?)?;
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
