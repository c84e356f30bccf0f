//! `hdg node --config FILE`: run one node of the cluster until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// Arguments of `hdg node`.
#[derive(clap::Args)]
pub struct Args {
    /// The node's TOML configuration (written by `hdg init`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

/// Runs the node; logs go to stderr, filtered by `RUST_LOG` (default `info`).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    crate::node::run::run(&args.config)?;
    Ok(ExitCode::SUCCESS)
}
