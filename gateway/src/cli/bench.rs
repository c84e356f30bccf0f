//! `hdg bench`: throughput tables, each beside a baseline measured in the same run.

use std::process::ExitCode;
use std::time::Instant;

use hdg_schema::{Catalog, Format, ImportOptions, Mode, Observation, import};
use hdg_storage::{KeySource, SecretKey, Store};

use crate::clock::now;

/// Arguments of `hdg bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Ingest (validate, seal, index, anchor, commit) beside raw RocksDB writes of the same bytes.
    Ingest {
        /// Number of observations.
        #[arg(long, default_value_t = 200_000)]
        n: usize,
        /// Observations per commit.
        #[arg(long, default_value_t = 4096)]
        batch: usize,
        /// One JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// The MPC workloads W1-W5, three parties in memory, checked against plaintext.
    Mpc {
        /// Number of values per workload.
        #[arg(long, default_value_t = 1_000_000)]
        n: usize,
        /// Run only under this security mode (`malicious` or `semi-honest`); default both,
        /// side by side.
        #[arg(long)]
        security: Option<hdg_mpc::Security>,
        /// Which workloads, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "W1,W2,W3,W4,W5")]
        workloads: Vec<hdg_mpc::workloads::Workload>,
        /// One JSON object per workload instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Ingest with sharing and W1-W5 on three node processes over QUIC, beside the in-memory
    /// run, the theoretical byte count and SecretFlow SPU run in the same run.
    Cluster(super::bench_cluster::ClusterArgs),
    /// One party of `bench cluster` (started by it).
    #[command(hide = true)]
    Party(super::bench_party::PartyArgs),
}

/// Runs the chosen benchmark.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Ingest { n, batch, json } => bench_ingest(n, batch, json),
        What::Mpc {
            n,
            security,
            workloads,
            json,
        } => bench_mpc(n, security, &workloads, json),
        What::Cluster(a) => super::bench_cluster::run(a),
        What::Party(a) => super::bench_party::run(a),
    }
}

/// Synthetic observations, parsed and validated from the synthetic cohort's FHIR bundles.
pub fn synthetic_observations(
    n: usize,
    pseudonym_key: [u8; 32],
) -> anyhow::Result<(Vec<Observation>, f64)> {
    let opts = ImportOptions {
        mode: Mode::Strict,
        pseudonym_key,
        catalog: Catalog::active(),
        enrolled: None,
    };
    let mut out = Vec::with_capacity(n);
    let mut parse_seconds = 0.0;
    let mut patient = 0u64;
    while out.len() < n {
        let bundle = hdg_schema::synth::patient_bundle(7, patient);
        let t = Instant::now();
        import(
            bundle.as_bytes(),
            Format::FhirJson,
            "synthetic",
            &opts,
            &mut |o| out.push(o),
        )?;
        parse_seconds += t.elapsed().as_secs_f64();
        patient += 1;
    }
    out.truncate(n);
    Ok((out, parse_seconds))
}

fn bench_ingest(n: usize, batch: usize, json: bool) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    // A throwaway store: its keyring is sealed under a key held only by this process.
    let keys = KeySource::Key(SecretKey::random());
    let mut store = Store::open(&dir.path().join("store"), true, &keys)?;
    let (obs, validate_s) = synthetic_observations(n, store.pseudonym_key())?;
    store.keep_write_batches(true);

    let t = Instant::now();
    let mut per_observation = Vec::new();
    let mut same_entries = Vec::new();
    let mut written = Vec::new();
    for chunk in obs.chunks(batch.max(1)) {
        let r = store.commit(chunk, now())?;
        per_observation.push((r.records.len(), r.bytes_written));
        same_entries.push((r.entries_written, r.bytes_written));
        written.extend(r.write_batch);
    }
    let commit_s = t.elapsed().as_secs_f64();
    let bytes: usize = per_observation.iter().map(|b| b.1).sum();
    let entries: usize = same_entries.iter().map(|b| b.0).sum();

    let t = Instant::now();
    hdg_storage::baseline::raw_write_batches(&dir.path().join("raw"), &per_observation)?;
    let raw_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    hdg_storage::baseline::raw_write_batches(&dir.path().join("raw-entries"), &same_entries)?;
    let raw_entries_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    hdg_storage::baseline::replay_write_batches(&dir.path().join("replay"), &written)?;
    let replay_s = t.elapsed().as_secs_f64();

    let rate = |s: f64| n as f64 / s;
    let result = serde_json::json!({
        "n": n,
        "batch": batch,
        "bytes_written": bytes,
        "validate_seconds": validate_s,
        "commit_seconds": commit_s,
        "entries_written": entries,
        "raw_rocksdb_seconds": raw_s,
        "raw_rocksdb_same_entries_seconds": raw_entries_s,
        "raw_rocksdb_replay_seconds": replay_s,
        "commit_per_second": rate(commit_s),
        "ingest_per_second": rate(commit_s + validate_s),
        "raw_per_second": rate(raw_s),
        "ratio_commit_vs_raw": raw_s / commit_s,
        "ratio_ingest_vs_raw": raw_s / (commit_s + validate_s),
        "ratio_commit_vs_raw_same_entries": raw_entries_s / commit_s,
        "ratio_commit_vs_replay": replay_s / commit_s,
        "ratio_ingest_vs_replay": replay_s / (commit_s + validate_s),
    });
    if json {
        println!("{result}");
    } else {
        println!(
            "ingest of {n} observations, {batch} per commit, {:.1} MB written",
            bytes as f64 / 1e6
        );
        println!("{:<46} {:>10} {:>14}", "stage", "seconds", "obs/s");
        println!(
            "{:<46} {validate_s:>10.3} {:>14.0}",
            "parse + validate (FHIR JSON)",
            rate(validate_s)
        );
        println!(
            "{:<46} {commit_s:>10.3} {:>14.0}",
            "seal + index + anchor + synced commit",
            rate(commit_s)
        );
        println!(
            "{:<46} {raw_s:>10.3} {:>14.0}",
            "raw RocksDB, same bytes, one put per obs",
            rate(raw_s)
        );
        println!(
            "{:<46} {raw_entries_s:>10.3} {:>14.0}",
            format!("raw RocksDB, same bytes in {entries} puts"),
            rate(raw_entries_s)
        );
        println!(
            "{:<46} {replay_s:>10.3} {:>14.0}",
            "raw RocksDB replaying the committed batches",
            rate(replay_s)
        );
        println!("speed ratio to raw (target >= 0.5), commit | validate+commit:");
        println!(
            "  vs replay of exactly the same batches:    {:.2} | {:.2}",
            replay_s / commit_s,
            replay_s / (commit_s + validate_s)
        );
        println!(
            "  vs the same bytes in the same puts:        {:.2} | {:.2}",
            raw_entries_s / commit_s,
            raw_entries_s / (commit_s + validate_s)
        );
        println!(
            "  vs the same bytes in one put per record:   {:.2} | {:.2}",
            raw_s / commit_s,
            raw_s / (commit_s + validate_s)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_mpc(
    n: usize,
    only: Option<hdg_mpc::Security>,
    workloads: &[hdg_mpc::workloads::Workload],
    json: bool,
) -> anyhow::Result<ExitCode> {
    use hdg_mpc::Security;
    use hdg_mpc::workloads::{dataset, run_workload_on};
    let modes: Vec<Security> = match only {
        Some(m) => vec![m],
        None => vec![Security::SemiHonest, Security::Malicious],
    };
    let (x, y) = dataset(n);
    let data = (&x[..], &y[..]);
    let reports: Vec<_> = workloads
        .iter()
        .copied()
        .flat_map(|w| modes.iter().map(move |m| run_workload_on(w, data, *m)))
        .collect();
    if json {
        for r in &reports {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        println!(
            "MPC workloads, three parties in memory, n = {n} (kernels: {}, PRF: {:?})",
            reports[0].kernels, reports[0].prf
        );
        println!(
            "{:<4} {:<40} {:<12} {:>9} {:>26} {:>8} {:>6} {:>8}  result",
            "",
            "workload",
            "security",
            "seconds",
            "bytes sent P0/P1/P2",
            "vs min",
            "rounds",
            "correct"
        );
        for r in &reports {
            let b = r.bytes_sent_per_party;
            println!(
                "{:<4} {:<40} {:<12} {:>9.3} {:>26} {:>8.2} {:>6} {:>8}  {}",
                format!("{:?}", r.workload),
                r.workload.description(),
                r.security.name(),
                r.seconds,
                format!("{}/{}/{}", b[0], b[1], b[2]),
                r.ratio_to_theoretical,
                r.messages_per_party[1],
                r.correct,
                r.result
            );
        }
        if modes.len() == 2 {
            println!("malicious / semi-honest, same run:");
            for pair in reports.chunks(2) {
                let bytes = |r: &hdg_mpc::workloads::WorkloadReport| {
                    r.bytes_sent_per_party.iter().sum::<u64>() as f64
                };
                println!(
                    "  {:?}: time {:.2}x, bytes {:.3}x, messages +{}",
                    pair[0].workload,
                    pair[1].seconds / pair[0].seconds,
                    bytes(&pair[1]) / bytes(&pair[0]).max(1.0),
                    pair[1].messages_per_party[1] - pair[0].messages_per_party[1]
                );
            }
        }
        println!(
            "'vs min' = bytes sent / bytes the protocol's cost formula gives (1.00 = no overhead); 'rounds' = messages P1 sent."
        );
    }
    let all_correct = reports.iter().all(|r| r.correct);
    Ok(if all_correct {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
