//! The baselines ingest is measured against: raw RocksDB `WriteBatch` writes, synced like a
//! commit, with none of the validation, sealing, indexing or anchoring — either a byte volume in
//! a chosen number of puts, or exactly the batches a store committed, replayed.

use std::path::Path;

use rocksdb::{ColumnFamilyDescriptor, DB, Options, WriteBatch, WriteOptions};

use crate::layout;

/// Writes `batches` (each a number of entries and a byte volume) into a fresh database at `dir`,
/// one synced `WriteBatch` per element, 32-byte random-looking keys, values sized to the volume.
pub fn raw_write_batches(dir: &Path, batches: &[(usize, usize)]) -> Result<(), rocksdb::Error> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.set_max_background_jobs(2);
    opts.set_write_buffer_size(64 << 20);
    let db = DB::open(&opts, dir)?;
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    let mut counter = 0u64;
    for &(entries, bytes) in batches {
        let entries = entries.max(1);
        let value_len = (bytes / entries).saturating_sub(32);
        let value = vec![0x5au8; value_len];
        let mut batch = WriteBatch::default();
        for _ in 0..entries {
            let key = blake3::hash(&counter.to_le_bytes());
            batch.put(key.as_bytes(), &value);
            counter += 1;
        }
        db.write_opt(batch, &wo)?;
    }
    Ok(())
}

/// Replays serialised write batches (from [`crate::CommitReceipt::write_batch`]) into a fresh
/// database at `dir` with the store's column families, one synced write each: raw RocksDB
/// writing exactly the bytes the store wrote.
pub fn replay_write_batches(dir: &Path, batches: &[Vec<u8>]) -> Result<(), rocksdb::Error> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_max_background_jobs(2);
    let cfs = layout::ALL.iter().map(|name| {
        let mut o = Options::default();
        o.set_write_buffer_size(64 << 20);
        ColumnFamilyDescriptor::new(*name, o)
    });
    let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    for data in batches {
        db.write_opt(WriteBatch::from_data(data), &wo)?;
    }
    Ok(())
}
