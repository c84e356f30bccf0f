//! Ingest of one request body: its format from the Content-Type, strict or lenient validation,
//! and durable commits in batches through the same path as `hdg ingest`, except that new numeric
//! observations are queued for secret sharing in the same write ([`Store::commit_sharing`]; with
//! consent required only enrolled patients', whom a consent can name; the outbox worker of
//! [`super::sharing`] sends them). Runs on a blocking thread (RocksDB work); never logs
//! or returns a health value.

use std::sync::Arc;

use hdg_schema::{
    Catalog, Enrolments, Format, ImportError, ImportOptions, ImportReport, Mode, RecordId,
};
use hdg_storage::{Anchored, CommitReceipt, Sharing, Store};

use super::consent::ConsentSet;
use super::consent_cache::ConsentCache;
use crate::ingest_path::{IngestTotals, ingest_with};

/// Observations per commit (the same group-commit size as `hdg ingest`).
const BATCH: usize = 4096;
/// The name the importer gives the body in its reports.
pub const BODY_NAME: &str = "request body";

/// What a successful ingest did.
#[derive(Debug)]
pub struct Ingested {
    /// New records with their ledger leaf indexes, in input order.
    pub records: Vec<Anchored>,
    /// Observations already stored (skipped).
    pub duplicates: Vec<RecordId>,
    /// Observations the store refused, with the reason.
    pub refused: Vec<(RecordId, String)>,
    /// The importer's report (lenient mode lists the rejected entries here).
    pub report: ImportReport,
    /// Ledger size after the ingest.
    pub tree_size: u64,
    /// The latest signed head after the ingest.
    pub head: Option<String>,
    /// Observations still to be shared after the ingest (the outbox's length).
    pub outbox_len: u64,
}

/// Why a body was not ingested.
#[derive(Debug)]
pub enum IngestFailure {
    /// Not parseable in its format (names the position and the reason).
    Malformed(String),
    /// Strict mode: entries were rejected, nothing was stored.
    Rejected(ImportReport),
    /// The store failed (the node's fault, not the client's).
    Store(String),
}

/// The import format of a body with `content_type` (parameters such as `charset` ignored);
/// without one, guessed from the first bytes. `Err` names the unsupported type.
pub fn format_of(content_type: Option<&str>, body: &[u8]) -> Result<Format, String> {
    let Some(ct) = content_type else {
        return Format::detect("", body).ok_or_else(|| {
            "no Content-Type and the body is neither JSON nor CSV with the expected header"
                .to_string()
        });
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "application/fhir+json" => Ok(Format::FhirJson),
        "application/x-ndjson" | "application/ndjson" | "application/fhir+ndjson" => {
            Ok(Format::Ndjson)
        }
        "text/csv" | "application/csv" => Ok(Format::Csv),
        _ => Err(format!(
            "unsupported Content-Type {essence:?}: send application/fhir+json, \
             application/fhir+ndjson or text/csv"
        )),
    }
}

/// Validates and commits `body` as written by the source with key `source` (the actor of every
/// record's ledger entry), enrolled patients under the pseudonyms of their keys, and queues the
/// numeric values for sharing (with `consents`, the cluster requires consent: only enrolled
/// patients' values a consent covers, the others held; nobody else can consent). Strict mode
/// validates the whole body first (one parse, its observations kept) and stores nothing when
/// any entry is rejected; lenient mode stores the good entries as it parses.
pub fn ingest_body(
    store: &mut Store,
    body: &[u8],
    format: Format,
    mode: Mode,
    enrolled: &Enrolments,
    consents: Option<&ConsentCache>,
    source: [u8; 32],
) -> Result<Ingested, IngestFailure> {
    let consent_required = consents.is_some();
    let opts = ImportOptions {
        mode,
        pseudonym_key: store.pseudonym_key(),
        catalog: Catalog::active(),
        enrolled: Some(enrolled),
    };
    let parse = |sink: &mut dyn FnMut(hdg_schema::Observation)| {
        hdg_schema::import_bytes(body, format, BODY_NAME, &opts, sink)
    };
    // Strict: the body is parsed once and kept as observations (no larger than the body, which
    // is capped) until every entry is known good, then committed from them.
    let mut checked: Option<(Vec<hdg_schema::Observation>, ImportReport)> = None;
    if mode == Mode::Strict {
        let mut all = Vec::new();
        let check = parse(&mut |o| all.push(o)).map_err(malformed)?;
        if !check.is_clean() {
            return Err(IngestFailure::Rejected(check));
        }
        checked = Some((all, check));
    }
    let mut records = Vec::new();
    let mut duplicates = Vec::new();
    let mut refused = Vec::new();
    let mut on_commit = |r: &CommitReceipt| {
        records.extend(r.records.iter().cloned());
        duplicates.extend(r.duplicates.iter().copied());
        refused.extend(r.refused.iter().map(|(id, why)| (*id, why.to_string())));
    };
    let mut totals = IngestTotals::default();
    // With consent required, a value is shared only when a consent covers it; an enrolled
    // patient's other values are held until one does, anyone else's stay at this node.
    // Only a node with enrolled patients needs the consents.
    let consents = match consents {
        Some(cache) if !enrolled.is_empty() => cache
            .get(store)
            .map_err(|e| IngestFailure::Store(e.to_string()))?,
        _ => Arc::new(ConsentSet::default()),
    };
    let at = crate::clock::now().0;
    let decide = |o: &hdg_schema::Observation| {
        if !consent_required {
            Sharing::Now
        } else if !enrolled.is_enrolled(&o.patient) {
            Sharing::Never
        } else if consents.covers_any_use(&o.patient, &o.indicator, o.effective.utc_day(), at) {
            Sharing::Now
        } else {
            Sharing::Held
        }
    };
    let commit = |s: &mut Store, obs: &[hdg_schema::Observation], now| {
        s.commit_sharing(obs, now, source, &decide)
    };
    let report = ingest_with(
        store,
        &commit,
        BODY_NAME,
        BATCH,
        &mut totals,
        &mut on_commit,
        &mut |sink| match checked.take() {
            Some((all, report)) => {
                all.into_iter().for_each(&mut *sink);
                Ok(report)
            }
            None => Ok(parse(sink)?),
        },
    )
    .map_err(|e| match e.downcast::<ImportError>() {
        Ok(bad_input) => malformed(bad_input),
        Err(commit_failed) => IngestFailure::Store(format!("{commit_failed:#}")),
    })?;
    let head = store
        .latest_head()
        .map_err(|e| IngestFailure::Store(e.to_string()))?;
    let outbox_len = store
        .outbox_len()
        .map_err(|e| IngestFailure::Store(e.to_string()))?;
    Ok(Ingested {
        records,
        duplicates,
        refused,
        report,
        tree_size: store.tree_size(),
        head,
        outbox_len,
    })
}

fn malformed(e: ImportError) -> IngestFailure {
    IngestFailure::Malformed(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_choose_the_format() {
        assert_eq!(
            format_of(Some("application/fhir+json; charset=utf-8"), b"").unwrap(),
            Format::FhirJson
        );
        assert_eq!(format_of(Some("Text/CSV"), b"").unwrap(), Format::Csv);
        assert_eq!(
            format_of(Some("application/x-ndjson"), b"").unwrap(),
            Format::Ndjson
        );
        assert_eq!(format_of(None, b"{\"a\":1}").unwrap(), Format::FhirJson);
        let e = format_of(Some("image/png"), b"").unwrap_err();
        assert!(e.contains("image/png"), "{e}");
        assert!(format_of(None, b"\x00\x01").is_err());
    }
}
