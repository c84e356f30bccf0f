//! MPC workloads W1-W5 (three parties in memory) at n = 10^5, beside the same statistic computed
//! in plaintext on the same data in the same run. `hdg bench mpc --n 1000000` prints the full
//! table with bytes against the theoretical count; this bench tracks the time trend.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hdg_mpc::Security;
use hdg_mpc::workloads::{Workload, dataset, run_workload};

const N: usize = 100_000;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mpc_workloads");
    let (x, y) = dataset(N);
    g.bench_function("baseline: plaintext sums, products and comparisons", |b| {
        b.iter(|| {
            let s: i64 = x.iter().sum();
            let sxy: i64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
            let above = x.iter().filter(|v| **v > 1260).count();
            black_box((s, sxy, above))
        })
    });
    for w in Workload::ALL {
        g.bench_with_input(BenchmarkId::new("mpc", format!("{w:?}")), &w, |b, &w| {
            b.iter(|| {
                let r = run_workload(w, N, Security::default());
                assert!(r.correct, "{w:?} disagrees with plaintext");
                r.seconds
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
