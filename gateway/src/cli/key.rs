//! `hdg key --data DIR`: print the node's ledger verifier key.

use std::process::ExitCode;

use crate::unlock::DataDir;

/// Arguments of `hdg key`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataDir,
}

/// Prints `name+keyhash+base64`, the standard signed-note verifier key form.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = args.data.open(false)?;
    println!("{}", store.vkey());
    Ok(ExitCode::SUCCESS)
}
