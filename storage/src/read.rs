//! Reading records back: by id, latest version, correction history, and index range scans.

use hdg_schema::{Observation, Pseudonym, RecordId, Timestamp};
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
    /// The observation stored under `id` (this exact version), decrypted.
    pub fn get(&self, id: &RecordId) -> Result<Observation, StoreError> {
        let stored = self.stored(id)?.ok_or(StoreError::NotFound(*id))?;
        let key = self.existing_data_key(&stored.patient)?;
        let plain = seal::open(&key, id, &stored.patient, &stored.sealed)
            .ok_or_else(|| corrupt(&format!("record {id}"), "does not open under its data key"))?;
        let obs = Observation::from_canonical_bytes(&plain)
            .map_err(|e| corrupt(&format!("record {id}"), &e.to_string()))?;
        if obs.id() != *id {
            return Err(corrupt(
                &format!("record {id}"),
                "body hashes to another id",
            ));
        }
        Ok(obs)
    }

    /// The id of the newest version in `id`'s correction chain (`id` itself when never corrected).
    pub fn latest_id(&self, id: &RecordId) -> Result<RecordId, StoreError> {
        let mut cur = *id;
        while let Some(next) = self.superseded_by(&cur)? {
            cur = next;
        }
        Ok(cur)
    }

    /// The newest version of the observation `id` belongs to.
    pub fn latest(&self, id: &RecordId) -> Result<Observation, StoreError> {
        self.get(&self.latest_id(id)?)
    }

    /// The whole correction chain that `id` belongs to, oldest first.
    pub fn history(&self, id: &RecordId) -> Result<Vec<Observation>, StoreError> {
        let mut chain = vec![self.get(id)?];
        while let Some(prev) = chain[0].supersedes {
            chain.insert(0, self.get(&prev)?);
        }
        let mut cur = *id;
        while let Some(next) = self.superseded_by(&cur)? {
            chain.push(self.get(&next)?);
            cur = next;
        }
        Ok(chain)
    }

    /// Ids of the current (not superseded) observations of `indicator` in `range`, by time then id.
    pub fn scan_indicator(
        &self,
        indicator: &str,
        range: TimeRange,
    ) -> Result<Vec<RecordId>, StoreError> {
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

    /// Ids of a patient's current observations, by indicator then time; optionally one indicator.
    pub fn scan_patient(
        &self,
        patient: &Pseudonym,
        indicator: Option<&str>,
    ) -> Result<Vec<RecordId>, StoreError> {
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

    fn superseded_by(&self, id: &RecordId) -> Result<Option<RecordId>, StoreError> {
        match self
            .db
            .get_pinned_cf(self.cf(layout::SUPERSEDED_BY), id.0)?
        {
            None => Ok(None),
            Some(b) => {
                Ok(Some(RecordId(b.as_ref().try_into().map_err(|_| {
                    corrupt("supersession entry", "not a 32-byte id")
                })?)))
            }
        }
    }
}
