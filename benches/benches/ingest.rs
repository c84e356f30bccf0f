//! Ingest: observations per second through seal + index + anchor + synced commit, beside two raw
//! RocksDB baselines in the same run: replaying exactly the batches the store committed, and the
//! same number of bytes in one put per observation. The ratios (raw time / commit time) are the
//! figures to watch; the target is at least 0.5.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hdg_schema::Timestamp;
use hdg_storage::{KeySource, SecretKey, Store};

const N: usize = 20_000;
const BATCH: usize = 4096;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(N as u64));
    let mut bytes_per_run: Vec<(usize, usize)> = Vec::new();
    let mut batches_per_run: Vec<Vec<u8>> = Vec::new();
    let mut salt = 0u64;
    g.bench_function("seal+index+anchor+commit", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                salt += 1;
                let obs = hdg_benches::observations(N, salt);
                let dir = tempfile::tempdir().unwrap();
                let keys = KeySource::Key(SecretKey::random());
                let mut store = Store::open(dir.path(), true, &keys).unwrap();
                store.keep_write_batches(true);
                bytes_per_run.clear();
                batches_per_run.clear();
                let t = Instant::now();
                for chunk in obs.chunks(BATCH) {
                    let r = store.commit(chunk, Timestamp(1)).unwrap();
                    bytes_per_run.push((r.records.len(), r.bytes_written));
                    batches_per_run.extend(r.write_batch);
                }
                total += t.elapsed();
            }
            total
        })
    });
    g.bench_function("baseline: raw RocksDB replaying the same batches", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let t = Instant::now();
                hdg_storage::baseline::replay_write_batches(dir.path(), &batches_per_run).unwrap();
                total += t.elapsed();
            }
            total
        })
    });
    g.bench_function(
        "baseline: raw RocksDB, same bytes, one put per observation",
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().unwrap();
                    let t = Instant::now();
                    hdg_storage::baseline::raw_write_batches(dir.path(), &bytes_per_run).unwrap();
                    total += t.elapsed();
                }
                total
            })
        },
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
