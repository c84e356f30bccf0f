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
//! - One indicator: every share row of the indicator whose day is in `[from, to)`, in the
//!   store's order (day, then handle).
//! - Paired (Pearson x ~ y, and every statistic over several indicators: a regression's
//!   outcome and predictors): per patient pseudonym, the latest row of each indicator in the
//!   window (latest day; rows of the same day broken by the larger handle, an arbitrary but
//!   common choice); only patients with all of them; rows in pseudonym order.
//! - One value per patient (a private release, which bounds each patient's contribution): the
//!   patient's latest row of the indicator in the window, by the same rule; rows in pseudonym
//!   order.

use std::collections::{BTreeMap, BTreeSet};

use hdg_mpc::{ArithShares, PartyId};
use hdg_schema::{Pseudonym, RecordHandle, Timestamp};
use hdg_storage::{ShareRow, Store, TimeRange};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{Query, QueryError};

/// The rows a query runs on at this party: one aligned column per input vector, built as the
/// store is scanned (a row's shares and a running digest of its handle, nothing else per row).
#[derive(Debug)]
pub struct Selection {
    /// Rows (pairs, for a paired statistic).
    rows: u64,
    /// The digest of the selected handles ([`RowDigest`]).
    digest: [u8; 32],
    /// This party's shares of each column.
    pub shares: Vec<ArithShares>,
    /// The patients whose rows were selected (for their audit).
    pub patients: BTreeSet<Pseudonym>,
}

impl Selection {
    /// Rows (pairs, for a paired statistic).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The digest of the selected handles ([`RowDigest`]).
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    fn from_columns(columns: Vec<Column>, patients: BTreeSet<Pseudonym>) -> Selection {
        let rows = columns.first().map_or(0, |c| c.digest.rows);
        let digest = RowDigest::finish(columns.iter().map(|c| &c.digest));
        Selection {
            rows,
            digest,
            shares: columns.into_iter().map(|c| c.shares()).collect(),
            patients,
        }
    }
}

/// The digest of one column's record handles, fed one handle at a time. A selection's digest
/// ([`RowDigest::finish`]) is SHA-256 over `"hdg rows v3\n"` and, per column, its row count
/// (u64 BE) and the SHA-256 of its handles in order: equal at two parties exactly when they
/// selected the same records in the same order.
#[derive(Debug, Default)]
pub struct RowDigest {
    handles: Sha256,
    rows: u64,
}

impl RowDigest {
    /// Adds the next row's handle.
    pub fn push(&mut self, handle: &RecordHandle) {
        self.handles.update(handle.0);
        self.rows += 1;
    }

    /// The digest of a selection's columns, in order.
    pub fn finish<'a>(columns: impl IntoIterator<Item = &'a RowDigest>) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"hdg rows v3\n");
        for c in columns {
            h.update(c.rows.to_be_bytes());
            h.update(c.handles.clone().finalize());
        }
        h.finalize().into()
    }
}

/// One column being selected: the digest of its handles and this party's two share components
/// (wiped when dropped).
#[derive(Default, Zeroize, ZeroizeOnDrop)]
struct Column {
    #[zeroize(skip)]
    digest: RowDigest,
    a: Vec<u64>,
    b: Vec<u64>,
}

impl Column {
    fn push(&mut self, handle: &RecordHandle, pair: (u64, u64)) {
        self.digest.push(handle);
        self.a.push(pair.0);
        self.b.push(pair.1);
    }

    fn shares(mut self) -> ArithShares {
        ArithShares::new(std::mem::take(&mut self.a), std::mem::take(&mut self.b))
    }
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
/// row), every row or `one_per_patient` — see the module doc for the rule. The store is read
/// one row at a time: what is kept is the selected shares (16 B a row), a running digest of
/// their handles and the set of patients (for a rule per patient, each patient's latest row).
pub fn select_rows(
    store: &Store,
    me: PartyId,
    q: &Query,
    admit: &dyn Fn(&ShareRow) -> bool,
    one_per_patient: bool,
) -> Result<Selection, QueryError> {
    let range = time_range(q)?;
    let others = q.statistic.others();
    if !others.is_empty() {
        let x = latest(store, me, &q.indicator, range, admit)?;
        let rest = others
            .iter()
            .map(|code| latest(store, me, code, range, admit))
            .collect::<Result<Vec<_>, _>>()?;
        let mut columns: Vec<Column> = (0..=rest.len()).map(|_| Column::default()).collect();
        let mut patients = BTreeSet::new();
        for (patient, rx) in &x {
            let Some(rows) = rest
                .iter()
                .map(|r| r.get(patient))
                .collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            for (column, row) in columns.iter_mut().zip(std::iter::once(rx).chain(rows)) {
                column.push(&row.handle, row.pair);
            }
            patients.insert(*patient);
        }
        Ok(Selection::from_columns(columns, patients))
    } else if one_per_patient {
        let x = latest(store, me, &q.indicator, range, admit)?;
        let mut column = Column::default();
        for r in x.values() {
            column.push(&r.handle, r.pair);
        }
        Ok(Selection::from_columns(
            vec![column],
            x.into_keys().collect(),
        ))
    } else {
        let mut column = Column::default();
        let mut patients = BTreeSet::new();
        scan(store, me, &q.indicator, range, admit, |r| {
            column.push(&r.handle, r.pair);
            patients.insert(r.patient);
        })?;
        Ok(Selection::from_columns(vec![column], patients))
    }
}

/// Feeds `keep` this party's admitted rows of `indicator` in `range`, in the store's order
/// (day, then handle: the same at every party); refuses a row held for another party.
fn scan(
    store: &Store,
    me: PartyId,
    indicator: &str,
    range: TimeRange,
    admit: &dyn Fn(&ShareRow) -> bool,
    mut keep: impl FnMut(&ShareRow),
) -> Result<(), QueryError> {
    let mut wrong = None;
    store.visit_shares(indicator, range, |r| {
        if usize::from(r.party) != me.index() {
            wrong.get_or_insert(r.party);
        } else if admit(&r) {
            keep(&r);
        }
    })?;
    match wrong {
        Some(found) => Err(QueryError::WrongParty { me, found }),
        None => Ok(()),
    }
}

/// What a rule per patient keeps of a patient's latest row (its shares wiped when dropped).
#[derive(Zeroize, ZeroizeOnDrop)]
struct Latest {
    #[zeroize(skip)]
    day: Timestamp,
    #[zeroize(skip)]
    handle: RecordHandle,
    pair: (u64, u64),
}

/// Each admitted patient's latest row of `indicator` in `range` (by day, then handle), in
/// pseudonym order.
fn latest(
    store: &Store,
    me: PartyId,
    indicator: &str,
    range: TimeRange,
    admit: &dyn Fn(&ShareRow) -> bool,
) -> Result<BTreeMap<Pseudonym, Latest>, QueryError> {
    let mut out: BTreeMap<Pseudonym, Latest> = BTreeMap::new();
    scan(store, me, indicator, range, admit, |r| {
        let row = Latest {
            day: r.day,
            handle: r.handle,
            pair: r.pair,
        };
        match out.get_mut(&r.patient) {
            Some(e) if (r.day, r.handle) > (e.day, e.handle) => *e = row,
            Some(_) => {}
            None => {
                out.insert(r.patient, row);
            }
        }
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(columns: &[&[u8]]) -> [u8; 32] {
        let columns: Vec<RowDigest> = columns
            .iter()
            .map(|c| {
                let mut d = RowDigest::default();
                for h in *c {
                    d.push(&RecordHandle([*h; 32]));
                }
                d
            })
            .collect();
        RowDigest::finish(&columns)
    }

    #[test]
    fn the_row_digest_names_the_records_their_order_and_their_columns() {
        let base = digest_of(&[&[1, 2], &[3]]);
        assert_eq!(base, digest_of(&[&[1, 2], &[3]]));
        assert_ne!(base, digest_of(&[&[2, 1], &[3]]), "order");
        assert_ne!(base, digest_of(&[&[1], &[2, 3]]), "column boundary");
        assert_ne!(base, digest_of(&[&[1, 2, 3]]), "column count");
        assert_ne!(base, digest_of(&[&[1, 2], &[4]]), "a record");
        assert_ne!(digest_of(&[]), digest_of(&[&[]]), "an empty column");
    }
}
