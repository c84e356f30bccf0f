//! `hdg key --data DIR`: print the node's ledger verifier key. `--wrap` seals the plaintext key
//! files of a data folder made by an older `hdg` (`master.key`, `node.key`) under the key file or
//! passphrase given, and removes them.

use std::process::ExitCode;

use crate::DataDir;

/// Arguments of `hdg key`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataDir,
    /// Seal the folder's plaintext key files under `--key-file` (or HDG_PASSPHRASE) first.
    #[arg(long)]
    wrap: bool,
}

/// Prints `name+keyhash+base64`, the standard signed-note verifier key form.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.wrap {
        hdg_storage::keyring::wrap_plaintext_keys(&args.data.dir, &args.data.unlock.source()?)?;
        eprintln!(
            "sealed the keys of {} under the {}; the plaintext key files are removed",
            args.data.dir.display(),
            args.data.unlock.source()?.describe()
        );
    }
    let store = args.data.open(false)?;
    println!("{}", store.vkey());
    Ok(ExitCode::SUCCESS)
}
