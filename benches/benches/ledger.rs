//! Ledger: append cost per entry, and inclusion-proof generation and verification at 10^6 and
//! 10^7 entries, beside one SHA-256 of a leaf (the unit every ledger operation is made of).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hdg_ledger::{Frontier, MemoryNodes, inclusion_proof, leaf_hash, verify_inclusion};

fn tree(n: u64) -> (MemoryNodes, Frontier) {
    let mut nodes = MemoryNodes::new();
    let mut f = Frontier::new();
    for i in 0..n {
        nodes.put_all(&f.append(leaf_hash(&i.to_le_bytes())));
    }
    (nodes, f)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("ledger");
    g.bench_function("baseline: one leaf hash", |b| {
        b.iter(|| leaf_hash(black_box(&[7u8; 110])))
    });
    g.bench_function("append one entry (frontier)", |b| {
        let mut f = Frontier::new();
        b.iter(|| black_box(f.append(leaf_hash(black_box(&[7u8; 110])))))
    });
    for n in [1_000_000u64, 10_000_000] {
        let (nodes, f) = tree(n);
        let root = f.root();
        let mut i = 0u64;
        g.bench_with_input(BenchmarkId::new("inclusion proof", n), &n, |b, &n| {
            b.iter(|| {
                i = (i + 7_919) % n;
                black_box(inclusion_proof(&nodes, i, n).unwrap())
            })
        });
        let idx = n / 3;
        let path = inclusion_proof(&nodes, idx, n).unwrap();
        let leaf = leaf_hash(&idx.to_le_bytes());
        g.bench_with_input(BenchmarkId::new("verify inclusion", n), &n, |b, &n| {
            b.iter(|| verify_inclusion(&leaf, idx, n, &path, &root).unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
