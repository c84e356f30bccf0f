//! Moving a store an older `hdg` wrote to this layout, once, when it is opened.
//!
//! Only layout 2 -> 3 exists: layout 3 names each share row in the patient index by its
//! [`layout::SHARES`] key and retires the handle index [`layout::SHARE_IDS`], so a party writes
//! two keys per row instead of three. Every step can be repeated: a store opened again after a
//! crash part-way through finishes the step, and only then is the new layout recorded.

use rocksdb::{IteratorMode, WriteBatch, WriteOptions};

use crate::error::StoreError;
use crate::layout;
use crate::store::{cf, corrupt};

/// Index entries rewritten per write batch.
const CHUNK: usize = 4096;

/// Length of a layout-2 [`layout::SHARE_PATIENTS`] key: the patient's tag, then the handle. A
/// layout-3 key is longer (the tag, then a share key of at least 42 bytes).
const OLD_INDEX_KEY: usize = 64;

/// Rewrites every layout-2 patient index entry (tag, handle) as (tag, share key), the share key
/// read from the handle index, then empties the handle index. The caller records layout 3 after.
pub(crate) fn share_index_2_to_3(db: &rocksdb::DB) -> Result<(), StoreError> {
    let (patients, ids) = (cf(db, layout::SHARE_PATIENTS), cf(db, layout::SHARE_IDS));
    let mut batch = WriteBatch::default();
    for kv in db.iterator_cf(patients, IteratorMode::Start) {
        let (k, _) = kv?;
        if k.len() != OLD_INDEX_KEY {
            continue;
        }
        let share_key = db
            .get_cf(ids, &k[32..])?
            .ok_or_else(|| corrupt("share patient index entry", "names no share row"))?;
        batch.delete_cf(patients, &k);
        batch.put_cf(
            patients,
            layout::share_patient_key(&tag(&k), &share_key),
            [],
        );
        if batch.len() >= 2 * CHUNK {
            db.write(std::mem::take(&mut batch))?;
        }
    }
    db.write(std::mem::take(&mut batch))?;
    for kv in db.iterator_cf(ids, IteratorMode::Start) {
        let (k, _) = kv?;
        batch.delete_cf(ids, &k);
        if batch.len() >= CHUNK {
            db.write(std::mem::take(&mut batch))?;
        }
    }
    // Synced: the rewritten entries are on disk before the caller records the new layout.
    let mut synced = WriteOptions::default();
    synced.set_sync(true);
    db.write_opt(batch, &synced)?;
    Ok(())
}

/// The patient tag at the front of an index key at least 32 bytes long.
fn tag(index_key: &[u8]) -> [u8; 32] {
    let mut t = [0u8; 32];
    t.copy_from_slice(&index_key[..32]);
    t
}
