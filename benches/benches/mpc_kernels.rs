//! Kernel throughput: each SIMD path beside the portable one and a plain memory copy of the same
//! bytes, plus the two PRF constructions. Run: `cargo bench -p hdg-benches --bench mpc_kernels`.
//! Throughput is reported per element (8-byte ring element or 64-bit word) of the output.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hdg_mpc::kernels;
use hdg_mpc::prf::{Prf, PrfKind};

/// Sizes: 2^13 elements (all operands in L2) and 2^20 (8 MiB per operand, memory-bound).
const SIZES: [usize; 2] = [1 << 13, 1 << 20];

fn inputs(count: usize, n: usize) -> Vec<Vec<u64>> {
    (0..count)
        .map(|i| {
            (0..n as u64)
                .map(|j| {
                    j.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        .rotate_left(i as u32 * 7 + 1)
                })
                .collect()
        })
        .collect()
}

fn bench_kernels(c: &mut Criterion) {
    for n in SIZES {
        bench_size(c, n);
    }
    bench_combine(c);
}

/// The product proofs' fold: 64 coefficients times 64 rows of 57 words (one Galois-ring element
/// each), as `combine` and as 64 calls of `axpy`; throughput in multiply-adds.
fn bench_combine(c: &mut Criterion) {
    let (w, m) = (64, 57);
    let v = inputs(2, w * m);
    let coeffs = &v[1][..w];
    let mut out = vec![0u64; m];
    let mut g = c.benchmark_group("combine_64x57");
    g.throughput(Throughput::Elements((w * m) as u64));
    for k in kernels::available() {
        let name = k.name();
        g.bench_function(format!("combine/{name}"), |b| {
            b.iter(|| k.combine(&mut out, black_box(&v[0]), black_box(coeffs)))
        });
        g.bench_function(format!("axpy_rows/{name}"), |b| {
            b.iter(|| {
                for (row, x) in v[0].chunks_exact(m).zip(coeffs) {
                    k.axpy(&mut out, black_box(row), *x)
                }
            })
        });
    }
    g.finish();
}

fn bench_size(c: &mut Criterion, n: usize) {
    let v = inputs(6, n);
    let mut out = vec![0u64; n];
    let mut g = c.benchmark_group(format!("kernels_n{n}"));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("memcpy", |b| {
        b.iter(|| out.copy_from_slice(black_box(&v[0])))
    });
    for k in kernels::available() {
        let name = k.name();
        g.bench_function(format!("add_assign/{name}"), |b| {
            b.iter(|| k.add_assign(&mut out, black_box(&v[0])))
        });
        g.bench_function(format!("xor_assign/{name}"), |b| {
            b.iter(|| k.xor_assign(&mut out, black_box(&v[0])))
        });
        g.bench_function(format!("mul/{name}"), |b| {
            b.iter(|| k.mul(&mut out, black_box(&v[0]), black_box(&v[1])))
        });
        g.bench_function(format!("mul_local/{name}"), |b| {
            b.iter(|| k.mul_local(&mut out, (&v[0], &v[1]), (&v[2], &v[3]), (&v[4], &v[5])))
        });
        g.bench_function(format!("and_local/{name}"), |b| {
            b.iter(|| k.and_local(&mut out, (&v[0], &v[1]), (&v[2], &v[3]), (&v[4], &v[5])))
        });
        g.bench_function(format!("dot_local/{name}"), |b| {
            b.iter(|| k.dot_local((&v[0], &v[1]), (&v[2], &v[3])))
        });
    }
    g.bench_function("transpose_to_planes", |b| {
        let mut planes = vec![0u64; 64 * n.div_ceil(64)];
        b.iter(|| kernels::transpose_to_planes(black_box(&v[0]), &mut planes))
    });
    for kind in [PrfKind::Aes128Ctr, PrfKind::Blake3Xof] {
        let prf = Prf::new(kind, &[5u8; 32]);
        g.bench_function(format!("prf/{kind:?}"), |b| {
            let mut op = 0;
            b.iter(|| {
                op += 1;
                prf.fill(op, &mut out)
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench_kernels
}
criterion_main!(benches);
