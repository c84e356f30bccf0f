//! Reading records back: by id or handle, latest version, correction history, and index range
//! scans (which name records by handle).

use hdg_schema::{Observation, Pseudonym, RecordHandle, RecordId, Timestamp};
use rocksdb::{Direction, IteratorMode};

use crate::error::StoreError;
use crate::layout;
use crate::seal;
use crate::store::{Store, corrupt};

/// A range of effective times, `from` inclusive and `to` exclusive; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeRange {
    /// Earliest effective time included.
    pub from: Option<Timestamp>,
    /// First effective time excluded.
    pub to: Option<Timestamp>,
}

impl TimeRange {
    fn contains(&self, t: Timestamp) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

impl Store {
    /// The observation stored as record `id` (this exact version), decrypted.
    pub fn get(&self, id: &RecordId) -> Result<Observation, StoreError> {
        match self.get_handle(&self.handle(id)) {
            Err(StoreError::NotFoundHandle(_)) => Err(StoreError::NotFound(*id)),
            other => other,
        }
    }

    /// The observation stored under `handle`, decrypted; its id is checked to give that handle.
    pub fn get_handle(&self, handle: &RecordHandle) -> Result<Observation, StoreError> {
        let stored = self
            .stored(handle)?
            .ok_or(StoreError::NotFoundHandle(*handle))?;
        let key = self.existing_data_key(&stored.patient)?;
        let what = || format!("record {handle}");
        let plain = seal::open(&key, handle, &stored.patient, &stored.sealed)
            .ok_or_else(|| corrupt(&what(), "does not open under its data key"))?;
        let obs = Observation::from_canonical_bytes(&plain)
            .map_err(|e| corrupt(&what(), &e.to_string()))?;
        if self.handle(&obs.id()) != *handle {
            return Err(corrupt(&what(), "body belongs to another record"));
        }
        Ok(obs)
    }

    /// The handle of the newest version in `handle`'s correction chain (`handle` itself when
    /// never corrected).
    pub fn latest_handle(&self, handle: &RecordHandle) -> Result<RecordHandle, StoreError> {
        let mut cur = *handle;
        while let Some(next) = self.superseded_by(&cur)? {
            cur = next;
        }
        Ok(cur)
    }

    /// The newest version of the observation `id` belongs to.
    pub fn latest(&self, id: &RecordId) -> Result<Observation, StoreError> {
        self.get(id)?;
        self.get_handle(&self.latest_handle(&self.handle(id))?)
    }

    /// The whole correction chain that `id` belongs to, oldest first.
    pub fn history(&self, id: &RecordId) -> Result<Vec<Observation>, StoreError> {
        let mut chain = vec![self.get(id)?];
        while let Some(prev) = chain[0].supersedes {
            chain.insert(0, self.get(&prev)?);
        }
        let mut cur = self.handle(id);
        while let Some(next) = self.superseded_by(&cur)? {
            chain.push(self.get_handle(&next)?);
            cur = next;
        }
        Ok(chain)
    }

    /// Handles of the current (not superseded) observations of `indicator` in `range`, by time
    /// then handle.
    pub fn scan_indicator(
        &self,
        indicator: &str,
        range: TimeRange,
    ) -> Result<Vec<RecordHandle>, StoreError> {
        let prefix = layout::indicator_prefix(indicator);
        let mut start = prefix.clone();
        if let Some(f) = range.from {
            start.extend_from_slice(&layout::time_key(f));
        }
        let mut ids = Vec::new();
        let it = self.db.iterator_cf(
            self.cf(layout::BY_INDICATOR),
            IteratorMode::From(&start, Direction::Forward),
        );
        for kv in it {
            let (k, _) = kv?;
            if !k.starts_with(&prefix) {
                break;
            }
            let (_, t, id) = layout::decode_index_tail(&k)
                .ok_or_else(|| corrupt("indicator index entry", "does not decode"))?;
            if range.to.is_some_and(|e| t >= e) {
                break;
            }
            if range.contains(t) && self.superseded_by(&id)?.is_none() {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Handles of a patient's current observations, by indicator then time; optionally one
    /// indicator.
    pub fn scan_patient(
        &self,
        patient: &Pseudonym,
        indicator: Option<&str>,
    ) -> Result<Vec<RecordHandle>, StoreError> {
        let mut prefix = patient.0.to_vec();
        if let Some(code) = indicator {
            prefix.extend_from_slice(&layout::indicator_prefix(code));
        }
        let mut ids = Vec::new();
        for kv in self
            .db
            .prefix_iterator_cf(self.cf(layout::BY_PATIENT), &prefix)
        {
            let (k, _) = kv?;
            if !k.starts_with(&prefix) {
                break;
            }
            let (_, _, id) = layout::decode_index_tail(&k[32..])
                .ok_or_else(|| corrupt("patient index entry", "does not decode"))?;
            if self.superseded_by(&id)?.is_none() {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    fn superseded_by(&self, handle: &RecordHandle) -> Result<Option<RecordHandle>, StoreError> {
        match self
            .db
            .get_pinned_cf(self.cf(layout::SUPERSEDED_BY), handle.0)?
        {
            None => Ok(None),
            Some(b) => Ok(Some(RecordHandle(b.as_ref().try_into().map_err(|_| {
                corrupt("supersession entry", "not a 32-byte handle")
            })?))),
        }
    }
}
