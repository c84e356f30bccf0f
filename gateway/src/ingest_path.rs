//! The one path from the importer to the store: `hdg ingest --data` (files) and the node's
//! `POST /v1/observations` (a body, committed with the sharing outbox) both commit through
//! [`ingest_with`], in durable group commits.

use anyhow::bail;
use hdg_schema::{ImportReport, Observation, Timestamp};
use hdg_storage::{CommitReceipt, Store, StoreError};

use crate::clock::now;

/// Totals of an ingest run.
#[derive(Debug, Default)]
pub struct IngestTotals {
    /// New records anchored.
    pub stored: u64,
    /// Observations already present (skipped).
    pub duplicates: u64,
    /// Observations refused by the store (e.g. a correction of an unknown record).
    pub refused: u64,
    /// The import report over all files.
    pub report: ImportReport,
}

/// An import run: feeds every accepted observation to the sink it is given, returns the report.
pub type ImportSource<'a> =
    dyn FnMut(&mut dyn FnMut(Observation)) -> anyhow::Result<ImportReport> + 'a;

/// The store call that makes one group commit durable: [`Store::commit`], or
/// [`Store::commit_sharing`] where values are also queued for secret sharing.
pub type CommitFn<'a> =
    dyn Fn(&mut Store, &[Observation], Timestamp) -> Result<CommitReceipt, StoreError> + 'a;

/// Commits what `source` imports into `store` with `commit`, in durable commits of `batch`
/// observations, counting them in `totals` and calling `on_commit` after each. The one path from
/// importer to store, shared by `hdg ingest` (files) and the node's `POST /v1/observations` (a
/// body, committed with the sharing outbox).
/// An error of `source` is returned as it is (so callers can tell bad input from a failed commit);
/// a failed commit is reported as `{name}: commit failed: ...`.
pub fn ingest_with(
    store: &mut Store,
    commit: &CommitFn<'_>,
    name: &str,
    batch: usize,
    totals: &mut IngestTotals,
    on_commit: &mut dyn FnMut(&CommitReceipt),
    source: &mut ImportSource<'_>,
) -> anyhow::Result<ImportReport> {
    let batch = batch.max(1);
    let mut pending: Vec<Observation> = Vec::with_capacity(batch);
    let mut failure: Option<anyhow::Error> = None;
    let mut flush =
        |pending: &mut Vec<Observation>, store: &mut Store, totals: &mut IngestTotals| {
            if pending.is_empty() {
                return Ok(());
            }
            let r = commit(store, pending, now())?;
            totals.stored += r.records.len() as u64;
            totals.duplicates += r.duplicates.len() as u64;
            totals.refused += r.refused.len() as u64;
            for (id, why) in &r.refused {
                eprintln!("refused record {id}: {why}");
            }
            on_commit(&r);
            pending.clear();
            anyhow::Ok(())
        };
    let report = source(&mut |o| {
        if failure.is_some() {
            return;
        }
        pending.push(o);
        if pending.len() >= batch
            && let Err(e) = flush(&mut pending, store, totals)
        {
            failure = Some(e);
        }
    })?;
    if let Some(e) = failure {
        bail!("{name}: commit failed: {e:#}");
    }
    flush(&mut pending, store, totals)
        .map_err(|e| anyhow::anyhow!("{name}: commit failed: {e:#}"))?;
    Ok(report)
}
