//! `hdg bench cluster`: the cluster's figures, each beside a baseline measured in the same run.
//!
//! 1. Ingest with sharing: three `hdg node` processes; a synthetic cohort posted to the home
//!    nodes (three in parallel) until every value is stored as shares at all three parties.
//!    Baseline: the same files ingested into one embedded store (validate, seal, index, anchor,
//!    commit; no network, no sharing).
//! 2. W1-W5 at n values between three node processes over their pinned QUIC links
//!    (`hdg bench party`), each checked against plaintext; beside the in-memory run, the
//!    protocols' theoretical byte count and, when its environment exists, SecretFlow SPU ABY3
//!    with its tuned link run by `../shared/peers/run_spu.sh` in this same run.
//!
//! Times are medians over `--reps` runs; the machine is shared, so compare the ratios.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdg_mpc::Security;
use hdg_mpc::workloads::{PartyRun, Workload, WorkloadReport, dataset, report, run_workload_on};
use hdg_schema::Mode;
use hdg_storage::{KeySource, SecretKey, Store};
use serde_json::{Value, json};

use super::bench_party;
use super::ingest::ingest_files;
use super::local_cluster::{LocalCluster, deal_files};
use super::synth::write_cohort;
use crate::node::config::PrivacyMode;

/// Observations per synthetic patient, roughly (to size the cohort).
const OBS_PER_PATIENT: usize = 150;
/// Patients per posted file.
const PATIENTS_PER_FILE: u64 = 50;
/// SPU's tuned link, as the peers' README gives it.
const SPU_TUNED: &str = "--payload-mb 32 --throttle 0";

/// Arguments of `hdg bench cluster`.
#[derive(clap::Args)]
pub struct ClusterArgs {
    /// Values per MPC workload: one count or a comma-separated list (`1e6,1e7`), each run in
    /// turn on the same cluster, then the time per value at each.
    #[arg(long, default_value = "1000000", value_delimiter = ',', value_parser = parse_count)]
    n: Vec<usize>,
    /// Observations to ingest (about; whole synthetic patients). 0 skips the ingest part.
    #[arg(long, default_value_t = 150_000)]
    ingest: usize,
    /// Runs of each workload (the median is reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// The peer benchmark scripts (SecretFlow SPU).
    #[arg(long, default_value = "../shared/peers")]
    peers: PathBuf,
    /// Do not run SecretFlow SPU.
    #[arg(long)]
    no_spu: bool,
    /// Keep the cluster and logs in this folder instead of a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// One JSON object instead of the tables.
    #[arg(long)]
    json: bool,
    /// The security mode of the parties: `malicious` (the default, as a cluster from
    /// `hdg init`) or `semi-honest`.
    #[arg(long, default_value = "malicious")]
    security: Security,
    /// Hospitals the ingest part deals the cohort to (one node process each; nodes 0-2 are
    /// also the three computing parties, as `hdg init --hospitals N` writes them). The MPC
    /// workloads run between the three parties either way.
    #[arg(long, default_value_t = 3, value_name = "N")]
    hospitals: usize,
}

/// One run of a workload over QUIC: each party's report and its peak resident memory during
/// the run (`None` where the party could not measure it).
struct QuicRun {
    parties: [PartyRun; 3],
    peak_rss: [Option<u64>; 3],
}

/// One workload's row of the table.
struct Row {
    /// Each party's largest peak resident memory over the runs, bytes.
    peak_rss: [Option<u64>; 3],
    quic: WorkloadReport,
    quic_seconds: f64,
    memory_seconds: f64,
    /// Seconds the parties' noise would add (measured after each run, same session).
    noise_seconds: f64,
    /// SPU's median seconds, or why it has none (it answered wrong); `None` when it gave no
    /// result for this workload.
    spu: Option<Result<f64, String>>,
    correct: bool,
}

impl Row {
    fn spu_seconds(&self) -> Option<f64> {
        self.spu.as_ref().and_then(|s| s.as_ref().ok().copied())
    }
}

/// Runs the cluster benchmark.
pub fn run(args: ClusterArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.reps > 0, "--reps must be at least 1");
    let tmp = tempfile::tempdir()?;
    let root = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let layout = LocalCluster::write(
        &root.join("cluster"),
        256 << 20,
        PrivacyMode::Exact,
        args.security,
        3,
    )?;

    let ingest = if args.ingest > 0 && args.hospitals == 3 {
        Some(bench_ingest(&root, layout.clone(), args.ingest, 3)?)
    } else if args.ingest > 0 {
        // A consortium of its own for the ingest; the workloads run on the three-node cluster.
        let consortium = LocalCluster::write(
            &root.join("consortium"),
            256 << 20,
            PrivacyMode::Exact,
            args.security,
            args.hospitals,
        )?;
        Some(bench_ingest(
            &root,
            consortium,
            args.ingest,
            args.hospitals,
        )?)
    } else {
        None
    };
    if let Some(i) = &ingest
        && !args.json
    {
        print_ingest(i);
    }

    let mut all = Vec::new();
    for (k, &n) in args.n.iter().enumerate() {
        let (rows, spu) = mpc_rows(&layout, n, &args)?;
        if args.json {
            let ingest = if k == 0 { &ingest } else { &None };
            println!("{}", to_json(ingest, &rows, &spu, n));
        } else {
            print_mpc(&rows, &spu, (n, args.reps), args.security);
        }
        all.push((n, rows));
    }
    if all.len() > 1 && !args.json {
        print_per_value(&all);
    }
    Ok(
        if all.iter().all(|(_, rows)| rows.iter().all(|r| r.correct)) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

/// A count as `--n` takes it: digits (underscores allowed) or `<digits>e<exponent>`, e.g.
/// `1e6`; at least 1.
fn parse_count(s: &str) -> Result<usize, String> {
    let bad = || format!("{s:?}: expected a count such as 1000000 or 1e6");
    let digits = |t: &str| -> Result<usize, String> {
        let t = t.replace('_', "");
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<usize>().map_err(|_| bad())
    };
    let n = match s.trim().split_once(['e', 'E']) {
        Some((m, e)) => {
            let e = u32::try_from(digits(e)?).map_err(|_| bad())?;
            let scale = 10usize.checked_pow(e).ok_or_else(bad)?;
            digits(m)?.checked_mul(scale).ok_or_else(bad)?
        }
        None => digits(s.trim())?,
    };
    if n == 0 {
        return Err(format!("{s:?}: a count must be at least 1"));
    }
    Ok(n)
}

/// The workloads' rows at n values: QUIC runs, in-memory runs and SPU (unless `--no-spu`).
fn mpc_rows(
    layout: &super::init::ClusterLayout,
    n: usize,
    args: &ClusterArgs,
) -> anyhow::Result<(Vec<Row>, SpuResult)> {
    let quic = quic_runs(layout, (n, args.reps), args.security)?;
    let spu = if args.no_spu {
        Err("not run (--no-spu)".to_owned())
    } else {
        run_spu(&args.peers, n, args.reps)
    };
    // The data P0 input, made once here to check the QUIC runs and to run in memory.
    let (x, y) = dataset(n);
    let mut rows = Vec::new();
    for (w, runs) in Workload::ALL.into_iter().zip(quic) {
        let reports: Vec<WorkloadReport> = runs
            .iter()
            .map(|r| report(w, (&x, &y), args.security, &r.parties))
            .collect();
        let peak_rss = std::array::from_fn(|i| runs.iter().filter_map(|r| r.peak_rss[i]).max());
        let memory: Vec<f64> = (0..args.reps)
            .map(|_| run_workload_on(w, (&x, &y), args.security).seconds)
            .collect();
        let correct = reports.iter().all(|r| r.correct);
        rows.push(Row {
            quic_seconds: median(reports.iter().map(|r| r.seconds).collect()),
            memory_seconds: median(memory),
            noise_seconds: median(
                runs.iter()
                    .map(|r| {
                        r.parties
                            .iter()
                            .map(|p| p.noise_seconds)
                            .fold(0.0, f64::max)
                    })
                    .collect(),
            ),
            peak_rss,
            spu: spu.as_ref().ok().and_then(|s| s.get(&w).cloned()),
            correct,
            quic: reports.into_iter().next().expect("at least one rep"),
        });
    }
    Ok((rows, spu))
}

/// SPU's median seconds per workload, or why it was not run.
/// Per workload SPU's median seconds, or why it has none; or why SPU did not run.
type SpuResult = Result<std::collections::HashMap<Workload, Result<f64, String>>, String>;

/// Nanoseconds per value over QUIC and in memory at each n, and each as a multiple of its
/// value at the first n (1.00: the cost per value stays flat).
fn print_per_value(all: &[(usize, Vec<Row>)]) {
    let (n0, first) = &all[0];
    println!("Time per value (ns), QUIC / in memory, and its multiple of the n = {n0} figure:");
    for (i, w) in Workload::ALL.iter().enumerate() {
        let base = (
            first[i].quic_seconds / *n0 as f64,
            first[i].memory_seconds / *n0 as f64,
        );
        let cells: Vec<String> = all
            .iter()
            .map(|(n, rows)| {
                let q = rows[i].quic_seconds / *n as f64;
                let m = rows[i].memory_seconds / *n as f64;
                format!(
                    "n={n}: {:.1} / {:.1} ({:.2}x / {:.2}x)",
                    q * 1e9,
                    m * 1e9,
                    q / base.0,
                    m / base.1
                )
            })
            .collect();
        println!("{:<4} {}", format!("{w:?}"), cells.join("   "));
    }
}

/// What the ingest part measured.
struct IngestFigures {
    hospitals: usize,
    observations: u64,
    files: usize,
    commit_seconds: f64,
    shared_seconds: f64,
    embedded_seconds: f64,
}

fn bench_ingest(
    root: &Path,
    layout: super::init::ClusterLayout,
    observations: usize,
    hospitals: usize,
) -> anyhow::Result<IngestFigures> {
    let patients = observations.div_ceil(OBS_PER_PATIENT).max(1) as u64;
    let files = write_cohort(&root.join("cohort"), patients, 7, PATIENTS_PER_FILE)?;
    let homes = deal_files(&files, hospitals)?;

    // Baseline: the same files into one embedded store, no network and no sharing.
    // A throwaway store: its keyring is sealed under a key held only by this process.
    let keys = KeySource::Key(SecretKey::random());
    let mut store = Store::open(&root.join("embedded"), true, &keys)?;
    let t = Instant::now();
    let totals = ingest_files(&mut store, &files, Mode::Strict, 4096, &mut |_| {})?;
    let embedded_seconds = t.elapsed().as_secs_f64();
    drop(store);

    let dir = layout
        .cluster_file
        .parent()
        .context("the cluster file's folder")?
        .to_path_buf();
    let mut cluster = LocalCluster::start(&dir, layout)?;
    cluster.wait_ready(Duration::from_secs(60))?;
    let t = Instant::now();
    let stored = cluster.post_files(&homes)?;
    let commit_seconds = t.elapsed().as_secs_f64();
    cluster.wait_shared(Duration::from_secs(1800), &mut |_| {})?;
    let shared_seconds = t.elapsed().as_secs_f64();
    cluster.stop(Duration::from_secs(30))?;
    if stored != totals.stored {
        bail!(
            "the cluster stored {stored} records, the embedded store {}",
            totals.stored
        );
    }
    Ok(IngestFigures {
        hospitals,
        observations: stored,
        files: files.len(),
        commit_seconds,
        shared_seconds,
        embedded_seconds,
    })
}

fn print_ingest(i: &IngestFigures) {
    let rate = |s: f64| i.observations as f64 / s;
    println!(
        "ingest of {} observations in {} files, {} home nodes in parallel ({} processes; three of them the computing parties)",
        i.observations,
        i.files,
        i.hospitals,
        i.hospitals.max(3)
    );
    println!("{:<62} {:>9} {:>10}", "stage", "seconds", "obs/s");
    println!(
        "{:<62} {:>9.2} {:>10.0}",
        "embedded store, one process (validate+seal+index+anchor+commit)",
        i.embedded_seconds,
        rate(i.embedded_seconds)
    );
    println!(
        "{:<62} {:>9.2} {:>10.0}",
        "cluster: acknowledged by the home nodes",
        i.commit_seconds,
        rate(i.commit_seconds)
    );
    println!(
        "{:<62} {:>9.2} {:>10.0}",
        "cluster: every value stored as shares at all three parties",
        i.shared_seconds,
        rate(i.shared_seconds)
    );
    println!(
        "ratio to the embedded store (same run): acknowledged {:.2}, shared {:.2}\n",
        i.embedded_seconds / i.commit_seconds,
        i.embedded_seconds / i.shared_seconds
    );
}

/// Runs the three `hdg bench party` processes; per workload (in [`Workload::ALL`] order), the
/// three parties' runs of every rep.
fn quic_runs(
    layout: &super::init::ClusterLayout,
    (n, reps): (usize, usize),
    security: Security,
) -> anyhow::Result<Vec<Vec<QuicRun>>> {
    let exe = std::env::current_exe().context("cannot find the hdg binary")?;
    let label = hex::encode(rand::random::<[u8; 16]>());
    let mut children = Vec::new();
    for i in 0..3 {
        let log = std::fs::File::create(layout.configs[i].with_extension("bench.log"))?;
        let child = bench_party::command(&exe, &layout.configs[i], n, reps, &label, security)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start bench party {i}"))?;
        children.push(KillOnDrop(child));
    }
    // Read the three outputs concurrently: a party blocked on a full pipe would stall the
    // other two.
    let readers: Vec<_> = children
        .iter_mut()
        .map(|c| {
            let stdout = c.0.stdout.take();
            std::thread::spawn(move || -> anyhow::Result<Vec<Value>> {
                BufReader::new(stdout.context("party stdout")?)
                    .lines()
                    .map(|l| Ok(serde_json::from_str::<Value>(&l?)?))
                    .collect()
            })
        })
        .collect();
    let outputs: Vec<anyhow::Result<Vec<Value>>> = readers
        .into_iter()
        .map(|r| r.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        .collect();
    for (i, c) in children.iter_mut().enumerate() {
        let status = c.0.wait()?;
        if !status.success() {
            bail!(
                "bench party {i} failed ({status}); its log: {}",
                layout.configs[i].with_extension("bench.log").display()
            );
        }
    }
    let outputs: Vec<Vec<Value>> = outputs.into_iter().collect::<anyhow::Result<_>>()?;
    let mut out = Vec::new();
    for w in Workload::ALL {
        let mut per_rep = Vec::new();
        for rep in 0..reps {
            let line = |party: usize| -> anyhow::Result<&Value> {
                outputs[party]
                    .iter()
                    .find(|v| v["workload"] == json!(w) && v["rep"] == json!(rep))
                    .with_context(|| format!("party {party} reported no run {rep} of {w:?}"))
            };
            let run = |party: usize| -> anyhow::Result<PartyRun> {
                Ok(serde_json::from_value(line(party)?["run"].clone())?)
            };
            let peak = |party: usize| -> anyhow::Result<Option<u64>> {
                Ok(line(party)?["peak_rss_bytes"].as_u64())
            };
            per_rep.push(QuicRun {
                parties: [run(0)?, run(1)?, run(2)?],
                peak_rss: [peak(0)?, peak(1)?, peak(2)?],
            });
        }
        out.push(per_rep);
    }
    Ok(out)
}

/// A child process killed if still running when dropped (a failed bench leaks no party).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SPU ABY3 with its tuned link at n values: median total seconds per workload, or why it was
/// not run.
fn run_spu(peers: &Path, n: usize, reps: usize) -> SpuResult {
    let script = peers.join("run_spu.sh");
    if !script.exists() {
        return Err(format!(
            "not run: {} not found (use --peers DIR)",
            script.display()
        ));
    }
    let venv = std::env::var("PEERS_VENV").unwrap_or_else(|_| "/tmp/hdg-peers-venv".to_owned());
    if !Path::new(&venv).join("bin/python").exists() {
        return Err(format!(
            "not run: no SPU environment in {venv} (run {}/setup.sh)",
            peers.display()
        ));
    }
    let out_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let status = std::process::Command::new("bash")
        .arg(&script)
        .args([
            "ABY3",
            &n.to_string(),
            "W1,W2,W3,W4,W5",
            &reps.to_string(),
            "61710",
            SPU_TUNED,
        ])
        .env("PEERS_OUT", out_dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!(
            "SPU run failed ({status}); logs were in {}",
            out_dir.path().display()
        ));
    }
    let file = out_dir.path().join(format!("spu_ABY3_{n}.json"));
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    parse_spu(&text)
}

/// Median `total_s` per workload from SPU's result file, or, for a workload it answered wrong
/// in any run, what its check found (a time for a wrong answer is no comparison).
fn parse_spu(text: &str) -> SpuResult {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("SPU results: {e}"))?;
    let mut out = std::collections::HashMap::new();
    for r in v["results"].as_array().into_iter().flatten() {
        let Some(w) = r["workload"].as_str().and_then(|w| w.parse().ok()) else {
            continue;
        };
        let reps = r["reps"].as_array().cloned().unwrap_or_default();
        if reps.is_empty() {
            continue;
        }
        let outcome = match reps.iter().find(|x| x["correct"] != json!(true)) {
            Some(wrong) => Err(format!(
                "answered wrong (its check: got {}, expected {})",
                wrong["check"]["got"], wrong["check"]["ref"]
            )),
            None => Ok(median(
                reps.iter().filter_map(|x| x["total_s"].as_f64()).collect(),
            )),
        };
        out.insert(w, outcome);
    }
    Ok(out)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn print_mpc(rows: &[Row], spu: &SpuResult, (n, reps): (usize, usize), security: Security) {
    println!(
        "MPC workloads, n = {n}, {security} parties, three node processes over pinned mutual-TLS \
         QUIC on loopback (median of {reps}; kernels {}, PRF {:?})",
        rows[0].quic.kernels, rows[0].quic.prf
    );
    println!(
        "{:<4} {:>9} {:>9} {:>8} {:>8} {:>28} {:>8} {:>18} {:>9} {:>9} {:>8}",
        "",
        "QUIC s",
        "memory s",
        "QUIC/mem",
        "+noise",
        "bytes sent P0/P1/P2",
        "vs min",
        "peak MiB P0/P1/P2",
        "SPU s",
        "SPU/QUIC",
        "correct"
    );
    for r in rows {
        let b = r.quic.bytes_sent_per_party;
        let (spu_s, ratio) = match &r.spu {
            Some(Ok(s)) => (format!("{s:.3}"), format!("{:.1}x", s / r.quic_seconds)),
            Some(Err(_)) => ("wrong".to_owned(), "-".to_owned()),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let mb = |p: Option<u64>| p.map_or("-".to_owned(), |b| format!("{}", b >> 20));
        println!(
            "{:<4} {:>9.3} {:>9.3} {:>8.2} {:>8} {:>28} {:>8.2} {:>18} {:>9} {:>9} {:>8}",
            format!("{:?}", r.quic.workload),
            r.quic_seconds,
            r.memory_seconds,
            r.quic_seconds / r.memory_seconds,
            if r.noise_seconds > 0.0 {
                format!("{:.2}%", 100.0 * r.noise_seconds / r.quic_seconds)
            } else {
                "-".to_owned()
            },
            format!("{}/{}/{}", b[0], b[1], b[2]),
            r.quic.ratio_to_theoretical,
            format!(
                "{}/{}/{}",
                mb(r.peak_rss[0]),
                mb(r.peak_rss[1]),
                mb(r.peak_rss[2])
            ),
            spu_s,
            ratio,
            r.correct
        );
    }
    println!("'vs min' = bytes sent / the protocols' theoretical byte count (1.00 = no overhead).");
    println!(
        "'peak MiB' = each party process's resident-memory high-water mark during the workload \
         (reset before it), its baseline and P0's copy of the data (16 B/value) included."
    );
    println!(
        "The workloads run exact; '+noise' = the time the parties' differential-privacy noise \
         adds to one (drawn as the security mode draws it: each party's own, input as shares, \
         or each share component by its two holders and compared; added to the opened \
         aggregates, measured in the same session), as a share of the QUIC time; W3 reveals a vector, \
         not a statistic, so it has no private release."
    );
    match spu {
        Ok(_) => println!(
            "SPU = SecretFlow SPU ABY3 FM64, tuned link ({SPU_TUNED}), three processes, same run."
        ),
        Err(why) => println!("SPU: {why}"),
    }
    for r in rows {
        if let Some(Err(why)) = &r.spu {
            println!(
                "SPU {:?} at n = {n}: {why}; no time is given for it.",
                r.quic.workload
            );
        }
    }
}

fn to_json(ingest: &Option<IngestFigures>, rows: &[Row], spu: &SpuResult, n: usize) -> Value {
    json!({
        "n": n,
        "ingest": ingest.as_ref().map(|i| json!({
            "hospitals": i.hospitals,
            "observations": i.observations,
            "embedded_seconds": i.embedded_seconds,
            "acknowledged_seconds": i.commit_seconds,
            "shared_seconds": i.shared_seconds,
            "shared_per_second": i.observations as f64 / i.shared_seconds,
            "ratio_shared_vs_embedded": i.embedded_seconds / i.shared_seconds,
        })),
        "workloads": rows.iter().map(|r| json!({
            "workload": r.quic.workload,
            "quic_seconds": r.quic_seconds,
            "memory_seconds": r.memory_seconds,
            "noise_seconds": r.noise_seconds,
            "noise_overhead": r.noise_seconds / r.quic_seconds,
            "bytes_sent_per_party": r.quic.bytes_sent_per_party,
            "theoretical_bytes_per_party": r.quic.theoretical_bytes_per_party,
            "peak_rss_bytes_per_party": r.peak_rss,
            "spu_seconds": r.spu_seconds(),
            "spu_over_quic": r.spu_seconds().map(|s| s / r.quic_seconds),
            "spu_wrong": r.spu.as_ref().and_then(|s| s.as_ref().err()),
            "correct": r.correct,
            "result": r.quic.result,
        })).collect::<Vec<_>>(),
        "spu": spu.as_ref().err(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_as_digits_or_powers_of_ten() {
        assert_eq!(parse_count("1000000"), Ok(1_000_000));
        assert_eq!(parse_count("1_000"), Ok(1000));
        assert_eq!(parse_count("1e6"), Ok(1_000_000));
        assert_eq!(parse_count("25E5"), Ok(2_500_000));
        assert_eq!(parse_count("1e8"), Ok(100_000_000));
        for bad in [
            "", "0", "0e3", "e6", "1e", "1.5e6", "-5", "1e99", "ten", "1e6e2",
        ] {
            assert!(parse_count(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn spu_results_give_medians_and_name_wrong_workloads() {
        let text = r#"{"meta":{},"results":[
            {"workload":"W1","reps":[{"total_s":0.3,"correct":true},{"total_s":0.2,"correct":true},{"total_s":0.25,"correct":true}]},
            {"workload":"W2","reps":[{"total_s":0.7,"correct":true},{"total_s":0.6,"correct":false,"check":{"got":[3.99],"ref":[99.99]}}]},
            {"workload":"W9","reps":[{"total_s":1.0,"correct":true}]}]}"#;
        let got = parse_spu(text).unwrap();
        assert_eq!(got.get(&Workload::W1), Some(&Ok(0.25)));
        let wrong = got.get(&Workload::W2).unwrap().as_ref().unwrap_err();
        assert!(
            wrong.contains("answered wrong") && wrong.contains("3.99") && wrong.contains("99.99"),
            "{wrong}"
        );
        assert_eq!(got.len(), 2);
        assert!(parse_spu("not json").is_err());
    }
}
