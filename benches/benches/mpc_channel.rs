//! The MPC channel: one message from P0 to P1, sent and received whole, over the QUIC channel
//! (pinned mutual TLS on loopback, frames of at most 4 MiB) and over the in-memory channel,
//! beside a plain copy of the same bytes. Sizes: 1 MiB, 4 MiB (one frame) and 32 MiB (eight
//! frames). Run: `cargo bench --workspace --bench mpc_channel` (throughput in bytes per second;
//! the QUIC figure is CPU-bound on this machine: encryption, framing and one copy on receipt).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use hdg_gateway::net::links::LinkConfig;
use hdg_gateway::net::loopback::LoopbackCluster;
use hdg_mpc::memory::{DEFAULT_TIMEOUT, memory_channels};
use hdg_mpc::{Channel, PartyId, SessionId};

/// The allocator of the `hdg` binary (gateway/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Message sizes in 8-byte words: 1 MiB, 4 MiB, 32 MiB.
const WORDS: [usize; 3] = [1 << 17, 1 << 19, 1 << 22];

fn bench_channel(c: &mut Criterion) {
    let keys = [1u8, 2, 3].map(|i| SigningKey::from_bytes(&[i; 32]));
    let cluster = LoopbackCluster::start(&keys, LinkConfig::default()).expect("loopback cluster");
    let [mut q0, mut q1, _q2] = cluster
        .open_session(&SessionId::random())
        .expect("QUIC session");
    let [mut m0, mut m1, _m2] = memory_channels(DEFAULT_TIMEOUT);
    for words in WORDS {
        let msg: Vec<u64> = (0..words as u64)
            .map(|j| j.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let mut g = c.benchmark_group(format!("channel/{} MiB", (words * 8) >> 20));
        g.throughput(Throughput::Bytes(words as u64 * 8));
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(3));
        g.bench_function("memcpy", |b| {
            let mut dst = vec![0u64; words];
            b.iter(|| dst.copy_from_slice(black_box(&msg)))
        });
        g.bench_function("memory channel", |b| {
            b.iter(|| {
                m0.send(PartyId::P1, &msg).expect("send");
                black_box(m1.recv(PartyId::P0).expect("recv"))
            })
        });
        g.bench_function("quic channel", |b| {
            b.iter(|| {
                q0.send(PartyId::P1, &msg).expect("send");
                black_box(q1.recv(PartyId::P0).expect("recv"))
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench_channel);
criterion_main!(benches);
