//! The baseline ingest is measured against: raw RocksDB `WriteBatch` puts of the same byte volume,
//! synced like a commit, with none of the validation, sealing, indexing or anchoring.

use std::path::Path;

use rocksdb::{DB, Options, WriteBatch, WriteOptions};

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
