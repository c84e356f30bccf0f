//! Witnessing state, in both roles.
//!
//! As a **witness** a node keeps, per peer log (keyed by the log's ed25519 key, which TLS
//! proved), the last signed checkpoint it cosigned ([`Store::witnessed`]), and the evidence of
//! every fork it refused ([`Store::record_fork`]): both signed notes and the reason. As a
//! **log** it keeps the cosignatures its peers returned for its own heads
//! ([`Store::add_cosignature`]), so it can serve its newest head cosigned by everyone
//! ([`Store::latest_cosigned_head`]). Each write is synced: a witness that forgets what it
//! cosigned could be shown a rolled-back log as new.

use hdg_ledger::sha256;
use rocksdb::{Direction, IteratorMode, WriteBatch};

use crate::error::StoreError;
use crate::layout;
use crate::store::{Store, corrupt};

/// An ed25519 public key naming a log or a witness.
pub type PeerKey = [u8; 32];

/// Two signed heads of one log that cannot both be true, as a witness found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkEvidence {
    /// The log's key (its signature is on both notes).
    pub log: PeerKey,
    /// When the witness refused, ms since the epoch.
    pub detected_ms: i64,
    /// What the witness found (names sizes, never data).
    pub reason: String,
    /// The signed note the witness had cosigned.
    pub witnessed: String,
    /// The signed note the log presented.
    pub presented: String,
}

impl ForkEvidence {
    /// Value bytes: detected time, then the three strings each with a u32 length.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.detected_ms.to_be_bytes().to_vec();
        for s in [&self.reason, &self.witnessed, &self.presented] {
            let len = u32::try_from(s.len()).expect("evidence strings are small");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    fn from_bytes(log: PeerKey, b: &[u8]) -> Result<Self, StoreError> {
        let bad = || corrupt("fork evidence", "truncated or not UTF-8");
        let (time, mut rest) = b.split_first_chunk::<8>().ok_or_else(bad)?;
        let mut text = || -> Result<String, StoreError> {
            let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
            let len = u32::from_be_bytes(*len) as usize;
            let s = tail.get(..len).ok_or_else(bad)?;
            rest = &tail[len..];
            String::from_utf8(s.to_vec()).map_err(|_| bad())
        };
        let (reason, witnessed, presented) = (text()?, text()?, text()?);
        Ok(ForkEvidence {
            log,
            detected_ms: i64::from_be_bytes(*time),
            reason,
            witnessed,
            presented,
        })
    }
}

/// [`layout::COSIGNATURES`] key: the head's height then the witness's key.
fn cosignature_key(height: u64, witness: &PeerKey) -> Vec<u8> {
    [height.to_be_bytes().as_slice(), witness].concat()
}

impl Store {
    /// The last checkpoint note this node cosigned for `log`, if any.
    pub fn witnessed(&self, log: &PeerKey) -> Result<Option<String>, StoreError> {
        self.db
            .get_cf(self.cf(layout::WITNESSED), log)?
            .map(|v| String::from_utf8(v).map_err(|_| corrupt("witnessed head", "not UTF-8")))
            .transpose()
    }

    /// Every log this node witnesses and the last note it cosigned for each.
    pub fn witnessed_all(&self) -> Result<Vec<(PeerKey, String)>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .db
            .iterator_cf(self.cf(layout::WITNESSED), IteratorMode::Start)
        {
            let (k, v) = kv?;
            let key = PeerKey::try_from(k.as_ref())
                .map_err(|_| corrupt("witnessed key", "not a 32-byte key"))?;
            let note = String::from_utf8(v.to_vec())
                .map_err(|_| corrupt("witnessed head", "not UTF-8"))?;
            out.push((key, note));
        }
        Ok(out)
    }

    /// Records (synced) that this node cosigned `note` for `log`; call before releasing the
    /// cosignature, so a crash never forgets a head that was vouched for.
    pub fn set_witnessed(&mut self, log: &PeerKey, note: &str) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(layout::WITNESSED), log, note.as_bytes());
        self.write_durably(batch)
    }

    /// Keeps the evidence of a fork (synced). The same presented note is kept once; returns
    /// whether this evidence is new.
    pub fn record_fork(&mut self, evidence: &ForkEvidence) -> Result<bool, StoreError> {
        let key = [
            evidence.log.as_slice(),
            &sha256(evidence.presented.as_bytes()),
        ]
        .concat();
        if self.db.get_cf(self.cf(layout::FORKS), &key)?.is_some() {
            return Ok(false);
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(layout::FORKS), key, evidence.to_bytes());
        self.write_durably(batch)?;
        Ok(true)
    }

    /// Every fork this node has refused, grouped by log.
    pub fn forks(&self) -> Result<Vec<ForkEvidence>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .db
            .iterator_cf(self.cf(layout::FORKS), IteratorMode::Start)
        {
            let (k, v) = kv?;
            let log = k
                .get(..32)
                .and_then(|b| PeerKey::try_from(b).ok())
                .ok_or_else(|| corrupt("fork evidence key", "too short"))?;
            out.push(ForkEvidence::from_bytes(log, &v)?);
        }
        Ok(out)
    }

    /// Keeps `witness`'s cosignature line (`— name base64\n`, already verified by the caller)
    /// on this node's head at `height`.
    pub fn add_cosignature(
        &mut self,
        height: u64,
        witness: &PeerKey,
        line: &str,
    ) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(layout::COSIGNATURES),
            cosignature_key(height, witness),
            line.as_bytes(),
        );
        self.write_durably(batch)
    }

    /// Whether `witness` has cosigned this node's head at `height`.
    pub fn has_cosignature(&self, height: u64, witness: &PeerKey) -> Result<bool, StoreError> {
        Ok(self
            .db
            .get_cf(
                self.cf(layout::COSIGNATURES),
                cosignature_key(height, witness),
            )?
            .is_some())
    }

    /// The newest head cosigned by at least `witnesses` witnesses, as (height, the signed note
    /// with the cosignature lines appended).
    pub fn latest_cosigned_head(
        &self,
        witnesses: usize,
    ) -> Result<Option<(u64, String)>, StoreError> {
        let mut lines: Vec<String> = Vec::new();
        let mut current = None;
        for kv in self
            .db
            .iterator_cf(self.cf(layout::COSIGNATURES), IteratorMode::End)
        {
            let (k, v) = kv?;
            let height = k
                .first_chunk::<8>()
                .map(|h| u64::from_be_bytes(*h))
                .ok_or_else(|| corrupt("cosignature key", "too short"))?;
            if current != Some(height) {
                if lines.len() >= witnesses {
                    break;
                }
                current = Some(height);
                lines.clear();
            }
            lines.push(
                String::from_utf8(v.to_vec()).map_err(|_| corrupt("cosignature", "not UTF-8"))?,
            );
        }
        let Some(height) = current.filter(|_| lines.len() >= witnesses) else {
            return Ok(None);
        };
        let mut note = self
            .head_at(height)?
            .ok_or_else(|| corrupt(&format!("signed head {height}"), "cosigned but missing"))?;
        lines.reverse();
        for line in lines {
            note.push_str(&line);
        }
        Ok(Some((height, note)))
    }

    /// The signed head at block `height`, if there is one.
    pub fn head_at(&self, height: u64) -> Result<Option<String>, StoreError> {
        let mut it = self.db.iterator_cf(
            self.cf(layout::LEDGER_HEADS),
            IteratorMode::From(&height.to_be_bytes(), Direction::Forward),
        );
        match it.next() {
            Some(kv) => {
                let (k, v) = kv?;
                let (h, note) = crate::store::decode_head(&k, &v)?;
                Ok((h == height).then_some(note))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    fn store() -> (TempDir, Store) {
        let dir = TempDir::new().unwrap();
        let store = Store::open(dir.path(), true, &crate::keyring::test_keys()).unwrap();
        (dir, store)
    }

    #[test]
    fn witnessed_heads_and_fork_evidence_survive_a_reopen() {
        let (dir, mut s) = store();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(s.witnessed(&a).unwrap(), None);
        s.set_witnessed(&a, "note a1\n").unwrap();
        s.set_witnessed(&a, "note a2\n").unwrap();
        s.set_witnessed(&b, "note b\n").unwrap();
        let evidence = ForkEvidence {
            log: a,
            detected_ms: 1_700_000_000_000,
            reason: "tree size 3 is below the witnessed size 9 (rolled back)".into(),
            witnessed: "note a2\n".into(),
            presented: "note a-forked\n".into(),
        };
        assert!(s.record_fork(&evidence).unwrap());
        assert!(
            !s.record_fork(&evidence).unwrap(),
            "the same evidence is kept once"
        );
        drop(s);
        let s = Store::open(dir.path(), false, &crate::keyring::test_keys()).unwrap();
        assert_eq!(s.witnessed(&a).unwrap().as_deref(), Some("note a2\n"));
        assert_eq!(
            s.witnessed_all().unwrap(),
            vec![(a, "note a2\n".to_string()), (b, "note b\n".to_string())]
        );
        assert_eq!(s.forks().unwrap(), vec![evidence]);
    }

    #[test]
    fn the_latest_cosigned_head_needs_every_witness() {
        let (_dir, mut s) = store();
        assert_eq!(s.latest_cosigned_head(2).unwrap(), None);
        for _ in 0..3 {
            s.anchor(
                hdg_ledger::EntryKind::Query,
                [7; 32],
                [8; 32],
                [9; 32],
                hdg_schema::Timestamp(1_700_000_000_000),
            )
            .unwrap();
        }
        let heads = s.heads().unwrap();
        let (w1, w2) = ([1u8; 32], [2u8; 32]);
        s.add_cosignature(heads[0].0, &w1, "— w1 AAAA\n").unwrap();
        s.add_cosignature(heads[0].0, &w2, "— w2 BBBB\n").unwrap();
        s.add_cosignature(heads[2].0, &w1, "— w1 CCCC\n").unwrap();
        assert!(s.has_cosignature(heads[2].0, &w1).unwrap());
        assert!(!s.has_cosignature(heads[2].0, &w2).unwrap());
        // Head 2 has one cosignature only: head 0 is the newest with both.
        let (h, note) = s.latest_cosigned_head(2).unwrap().unwrap();
        assert_eq!(h, heads[0].0);
        assert_eq!(note, format!("{}— w1 AAAA\n— w2 BBBB\n", heads[0].1));
        let (h, note) = s.latest_cosigned_head(1).unwrap().unwrap();
        assert_eq!(h, heads[2].0);
        assert!(note.ends_with("— w1 CCCC\n"));
        assert_eq!(
            s.head_at(heads[1].0).unwrap().as_deref(),
            Some(heads[1].1.as_str())
        );
        assert_eq!(s.head_at(99).unwrap(), None);
    }
}
