//! The replay cache: the (signer, nonce) pairs of the signed requests this node accepted within
//! the clock-skew window, so the same request is never acted on twice.
//!
//! A running node's cache is backed by the store's replay log ([`ReplayLog`]): every request it
//! admits is written there, synced, before the request acts, and the cache is loaded from it at
//! start. A request replayed after a restart is then refused as it would have been before (with
//! the cache in memory only, a restart re-opened every request signed within the window). A
//! request whose entry cannot be written is refused ([`NotAdmitted::NotRecorded`]): the node
//! never acts on a request it could not remember.
//!
//! An entry is forgotten once its request time falls out of the window: a replay of it would be
//! refused as expired anyway, so the cache holds at most the requests of one window.

use std::collections::{BTreeSet, HashSet};

use hdg_storage::{ReplayEntry, ReplayLog, StoreError};
use tracing::error;

/// How far the log's trimming may lag the cache's, ms: trimming is one range delete, kept
/// rare so the log does not collect a tombstone per request.
const TRIM_EVERY_MS: i64 = 60_000;

/// Why [`ReplayCache::admit`] did not admit a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAdmitted {
    /// Already admitted within the window.
    Replayed,
    /// The replay log could not record it.
    NotRecorded,
}

/// The accepted (signer, nonce) pairs of one clock-skew window; see the module doc. The
/// default is a cache in memory only (for tests and checks outside a running node).
#[derive(Debug, Default)]
pub struct ReplayCache {
    seen: HashSet<([u8; 32], Vec<u8>)>,
    by_time: BTreeSet<(i64, [u8; 32], Vec<u8>)>,
    log: Option<ReplayLog>,
    /// The log holds nothing dated before this (unix ms).
    log_trimmed_before: i64,
}

impl ReplayCache {
    /// The cache of a running node: backed by `log`, and holding every request the log
    /// remembers from `oldest` (unix ms) on.
    pub fn persistent(log: ReplayLog, oldest: i64) -> Result<ReplayCache, StoreError> {
        log.forget_before(oldest)?;
        let mut cache = ReplayCache {
            log_trimmed_before: oldest,
            ..ReplayCache::default()
        };
        for e in log.since(oldest)? {
            cache.remember(e.signer, &e.nonce, e.time);
        }
        cache.log = Some(log);
        Ok(cache)
    }

    /// Entries held (tests check the cache forgets).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    /// Forgets every entry dated before `oldest` (unix ms), in memory now and in the log at
    /// most a minute later.
    pub fn forget_before(&mut self, oldest: i64) {
        while let Some(first) = self.by_time.first() {
            if first.0 >= oldest {
                break;
            }
            if let Some((_, signer, nonce)) = self.by_time.pop_first() {
                self.seen.remove(&(signer, nonce));
            }
        }
        if let Some(log) = &self.log
            && oldest.saturating_sub(self.log_trimmed_before) >= TRIM_EVERY_MS
        {
            // A failed trim only leaves old entries behind, which refuse nothing still fresh.
            match log.forget_before(oldest) {
                Ok(()) => self.log_trimmed_before = oldest,
                Err(e) => error!(error = %e, "cannot trim the replay log"),
            }
        }
    }

    /// Admits (signer, nonce) made at `time`: [`RequestError::Replayed`] when it was already
    /// admitted, [`NotAdmitted::NotRecorded`] when the log could not record it (then it is not
    /// admitted either, and a retry may succeed).
    pub fn admit(&mut self, signer: [u8; 32], nonce: &[u8], time: i64) -> Result<(), NotAdmitted> {
        if self.seen.contains(&(signer, nonce.to_vec())) {
            return Err(NotAdmitted::Replayed);
        }
        if let Some(log) = &self.log {
            let entry = ReplayEntry {
                time,
                signer,
                nonce: nonce.to_vec(),
            };
            if let Err(e) = log.remember(&entry) {
                error!(error = %e, "cannot record a request in the replay log: refused");
                return Err(NotAdmitted::NotRecorded);
            }
        }
        self.remember(signer, nonce, time);
        Ok(())
    }

    fn remember(&mut self, signer: [u8; 32], nonce: &[u8], time: i64) {
        if self.seen.insert((signer, nonce.to_vec())) {
            self.by_time.insert((time, signer, nonce.to_vec()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdg_storage::{KeySource, SecretKey, Store};

    fn store(dir: &std::path::Path) -> Store {
        Store::open(dir, true, &KeySource::Key(SecretKey::from_bytes([1; 32]))).unwrap()
    }

    #[test]
    fn a_request_is_admitted_once_and_forgotten_out_of_the_window() {
        let mut cache = ReplayCache::default();
        assert_eq!(cache.admit([1; 32], b"n", 10), Ok(()));
        assert_eq!(cache.admit([1; 32], b"n", 10), Err(NotAdmitted::Replayed));
        // Another signer with the same nonce is another request.
        assert_eq!(cache.admit([2; 32], b"n", 10), Ok(()));
        cache.forget_before(11);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_restarted_node_still_refuses_what_it_admitted_before() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut cache = ReplayCache::persistent(s.replay_log(), 0).unwrap();
        cache.admit([1; 32], b"nonce", 5_000).unwrap();
        drop(cache);
        drop(s);

        let s = store(dir.path());
        let mut cache = ReplayCache::persistent(s.replay_log(), 0).unwrap();
        assert_eq!(
            cache.admit([1; 32], b"nonce", 5_000),
            Err(NotAdmitted::Replayed)
        );
        // Loading from a later window start leaves out (and deletes) what fell out of it.
        drop(cache);
        let cache = ReplayCache::persistent(s.replay_log(), 6_000).unwrap();
        assert_eq!(cache.len(), 0);
        assert!(s.replay_log().since(i64::MIN).unwrap().is_empty());
    }

    #[test]
    fn a_request_the_log_cannot_record_is_not_admitted() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut cache = ReplayCache::persistent(s.replay_log(), 0).unwrap();
        drop(s);
        assert_eq!(
            cache.admit([1; 32], b"nonce", 5_000),
            Err(NotAdmitted::NotRecorded)
        );
        assert_eq!(cache.len(), 0);
    }
}
