//! Row selection: which of this party's share rows a query runs on. The rule uses only the
//! metadata every party holds (indicator, UTC day, patient pseudonym, record handle), so every
//! party selects the same rows in the same order from its own store, and a digest of the
//! selected handles lets the three confirm it before computing.
//!
//! Only rows the caller admits count: with consent required, rows a patient's consent covers
//! for the query ([`crate::node::consent`]).
//!
//! - A window is whole UTC days: `from` and `to` must be midnights (the parties hold days, not
//!   instants); a query with another window is refused before anything is read.
//! - One indicator: every share row of the indicator whose day is in `[from, to)`, in handle
//!   order.
//! - Paired (Pearson x ~ y): per patient pseudonym, the latest row of x and the latest row of y
//!   in the window (latest day; rows of the same day broken by the larger handle, an arbitrary
//!   but common choice); only patients with both; pairs in pseudonym order.
//! - One value per patient (a private release, which bounds each patient's contribution): the
//!   patient's latest row of the indicator in the window, by the same rule; rows in pseudonym
//!   order.

use std::collections::{BTreeMap, BTreeSet};

use hdg_mpc::{ArithShares, PartyId};
use hdg_schema::{Pseudonym, RecordHandle, Timestamp};
use hdg_storage::{ShareRow, Store, TimeRange};
use sha2::{Digest, Sha256};

use super::{Query, QueryError, Statistic};

/// The rows a query runs on at this party: one aligned column per input vector.
#[derive(Debug)]
pub struct Selection {
    /// Record handles of each column, row by row.
    pub ids: Vec<Vec<RecordHandle>>,
    /// This party's shares of each column.
    pub shares: Vec<ArithShares>,
    /// The patients whose rows were selected (for their audit).
    pub patients: BTreeSet<Pseudonym>,
}

impl Selection {
    /// Rows (pairs, for a paired statistic).
    pub fn rows(&self) -> u64 {
        self.ids.first().map_or(0, |c| c.len() as u64)
    }

    /// The digest of the selected handles ([`row_digest`]).
    pub fn digest(&self) -> [u8; 32] {
        row_digest(&self.ids)
    }
}

/// SHA-256 over `"hdg rows v2\n"` and, per column, its length (u64 BE) and its record handles:
/// equal at two parties exactly when they selected the same records in the same order.
pub fn row_digest(columns: &[Vec<RecordHandle>]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"hdg rows v2\n");
    for column in columns {
        h.update((column.len() as u64).to_be_bytes());
        for id in column {
            h.update(id.0);
        }
    }
    h.finalize().into()
}

/// The time range of a query, refusing an empty window and one that is not whole UTC days.
pub fn time_range(q: &Query) -> Result<TimeRange, QueryError> {
    if let (Some(f), Some(t)) = (q.from, q.to)
        && f >= t
    {
        return Err(QueryError::EmptyWindow);
    }
    if [q.from, q.to]
        .into_iter()
        .flatten()
        .any(|t| !Timestamp(t).is_utc_day())
    {
        return Err(QueryError::WindowNotWholeDays);
    }
    Ok(TimeRange {
        from: q.from.map(Timestamp),
        to: q.to.map(Timestamp),
    })
}

/// Selects this party's rows for `q` among those `admit` accepts (the consent rule, or every
/// row), every row or `one_per_patient` — see the module doc for the rule.
pub fn select_rows(
    store: &Store,
    me: PartyId,
    q: &Query,
    admit: &dyn Fn(&ShareRow) -> bool,
    one_per_patient: bool,
) -> Result<Selection, QueryError> {
    let range = time_range(q)?;
    let x = scan(store, me, &q.indicator, range, admit)?;
    match &q.statistic {
        Statistic::Pearson { pair } => {
            let y = scan(store, me, pair, range, admit)?;
            Ok(pair_latest(&x, &y))
        }
        _ if one_per_patient => Ok(column(latest(&x).into_values())),
        _ => Ok(column(x.iter())),
    }
}

fn scan(
    store: &Store,
    me: PartyId,
    indicator: &str,
    range: TimeRange,
    admit: &dyn Fn(&ShareRow) -> bool,
) -> Result<Vec<ShareRow>, QueryError> {
    let mut rows = store.scan_shares(indicator, range)?;
    if let Some(r) = rows.iter().find(|r| usize::from(r.party) != me.index()) {
        return Err(QueryError::WrongParty { me, found: r.party });
    }
    rows.retain(|r| admit(r));
    Ok(rows)
}

fn column<'a>(rows: impl Iterator<Item = &'a ShareRow>) -> Selection {
    let (mut ids, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
    let mut patients = BTreeSet::new();
    for r in rows {
        ids.push(r.handle);
        a.push(r.pair.0);
        b.push(r.pair.1);
        patients.insert(r.patient);
    }
    Selection {
        ids: vec![ids],
        shares: vec![ArithShares::new(a, b)],
        patients,
    }
}

/// Each patient's latest row (by day, then handle).
fn latest(rows: &[ShareRow]) -> BTreeMap<Pseudonym, &ShareRow> {
    let mut out: BTreeMap<Pseudonym, &ShareRow> = BTreeMap::new();
    for r in rows {
        let e = out.entry(r.patient).or_insert(r);
        if (r.day, r.handle) > (e.day, e.handle) {
            *e = r;
        }
    }
    out
}

fn pair_latest(x: &[ShareRow], y: &[ShareRow]) -> Selection {
    let (lx, ly) = (latest(x), latest(y));
    let pairs: Vec<(&ShareRow, &ShareRow)> = lx
        .iter()
        .filter_map(|(p, rx)| ly.get(p).map(|ry| (*rx, *ry)))
        .collect();
    let cx = column(pairs.iter().map(|p| p.0));
    let cy = column(pairs.iter().map(|p| p.1));
    Selection {
        ids: cx.ids.into_iter().chain(cy.ids).collect(),
        shares: cx.shares.into_iter().chain(cy.shares).collect(),
        patients: cx.patients,
    }
}
