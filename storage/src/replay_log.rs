//! The nonces of the signed requests a node accepted, kept on disk so that a request replayed
//! after a restart is refused like one replayed before it.
//!
//! An entry is (request time, signer, nonce), keyed so that entries sort by time: the entries
//! that fell out of the clock-skew window are one range at the front, deleted in one call. A new
//! entry is written synced before the request it admits acts, so no acted-on request is ever
//! missing after a crash. The log holds only a weak handle on the database: it never keeps a
//! closed store open, and a write after the close fails ([`StoreError::Closed`]).

use std::sync::{Arc, Weak};

use hdg_schema::Timestamp;
use rocksdb::{DB, IteratorMode, WriteOptions};

use crate::error::StoreError;
use crate::layout::{self, time_from_key, time_key};
use crate::store::{Store, cf, corrupt};

/// A remembered request: when it was made, who signed it, its nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayEntry {
    /// The request's own time (unix ms).
    pub time: i64,
    /// The signer's key, or the digest a request is known by (approvals).
    pub signer: [u8; 32],
    /// The decoded nonce.
    pub nonce: Vec<u8>,
}

/// The store's replay log (see the module doc); cheap to clone, usable without the store's lock.
#[derive(Clone, Debug)]
pub struct ReplayLog {
    db: Weak<DB>,
}

impl Store {
    /// This store's replay log.
    pub fn replay_log(&self) -> ReplayLog {
        ReplayLog {
            db: Arc::downgrade(&self.db),
        }
    }
}

fn entry_key(time: i64, signer: &[u8; 32], nonce: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + 32 + nonce.len());
    k.extend_from_slice(&time_key(Timestamp(time)));
    k.extend_from_slice(signer);
    k.extend_from_slice(nonce);
    k
}

fn decode_entry(key: &[u8]) -> Result<ReplayEntry, StoreError> {
    if key.len() < 8 + 32 {
        return Err(corrupt(
            "replay log entry",
            "shorter than its time and signer",
        ));
    }
    let time: [u8; 8] = key[..8].try_into().expect("8 bytes");
    let signer: [u8; 32] = key[8..40].try_into().expect("32 bytes");
    Ok(ReplayEntry {
        time: time_from_key(time).0,
        signer,
        nonce: key[40..].to_vec(),
    })
}

impl ReplayLog {
    fn db(&self) -> Result<Arc<DB>, StoreError> {
        self.db.upgrade().ok_or(StoreError::Closed)
    }

    /// Remembers a request, synced to disk before this returns.
    pub fn remember(&self, entry: &ReplayEntry) -> Result<(), StoreError> {
        let db = self.db()?;
        let mut synced = WriteOptions::default();
        synced.set_sync(true);
        db.put_cf_opt(
            cf(&db, layout::REPLAY),
            entry_key(entry.time, &entry.signer, &entry.nonce),
            [],
            &synced,
        )?;
        Ok(())
    }

    /// Forgets every request made before `oldest` (unix ms). Not synced: an entry that comes
    /// back after a crash is outside the window, so it refuses nothing that would be accepted.
    pub fn forget_before(&self, oldest: i64) -> Result<(), StoreError> {
        let db = self.db()?;
        db.delete_range_cf(
            cf(&db, layout::REPLAY),
            time_key(Timestamp(i64::MIN)),
            time_key(Timestamp(oldest)),
        )?;
        Ok(())
    }

    /// Every request remembered from `oldest` (unix ms) on, oldest first.
    pub fn since(&self, oldest: i64) -> Result<Vec<ReplayEntry>, StoreError> {
        let db = self.db()?;
        let start = time_key(Timestamp(oldest));
        db.iterator_cf(
            cf(&db, layout::REPLAY),
            IteratorMode::From(&start, rocksdb::Direction::Forward),
        )
        .map(|kv| decode_entry(&kv?.0))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(time: i64, who: u8, nonce: &[u8]) -> ReplayEntry {
        ReplayEntry {
            time,
            signer: [who; 32],
            nonce: nonce.to_vec(),
        }
    }

    #[test]
    fn keys_sort_by_time_including_negative_times() {
        let a = entry_key(-5, &[9; 32], b"zz");
        let b = entry_key(3, &[0; 32], b"aa");
        assert!(a < b);
        assert_eq!(decode_entry(&b).unwrap(), entry(3, 0, b"aa"));
        assert!(decode_entry(&[0; 39]).is_err());
    }
}
