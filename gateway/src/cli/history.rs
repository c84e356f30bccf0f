//! `hdg history --data DIR --record ID`: a record's correction chain, oldest first.

use std::process::ExitCode;

use anyhow::Context;
use hdg_schema::{Catalog, RecordId, Value};

use crate::unlock::DataDir;

/// Arguments of `hdg history`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataDir,
    /// Any record id of the chain (lowercase hex).
    #[arg(long)]
    record: String,
}

/// Prints one line per version.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let id: RecordId = args
        .record
        .parse()
        .context("--record must be 64 lowercase hex digits")?;
    let store = args.data.open(false)?;
    let catalog = Catalog::active();
    for o in store.history(&id)? {
        let value = match &o.value {
            Value::Quantity(v) => catalog
                .get(&o.indicator)
                .map_or_else(|| v.to_string(), |i| format!("{} {}", i.format(*v), i.unit)),
            other => format!("{other:?}"),
        };
        let marker = if o.id() == id { "*" } else { " " };
        println!(
            "{marker} {} {:?} {} effective {} value {} patient {}",
            o.id(),
            o.status,
            o.indicator,
            o.effective,
            value,
            o.patient
        );
    }
    Ok(ExitCode::SUCCESS)
}
