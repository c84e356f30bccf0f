//! `hdg bench party` (hidden; started by `hdg bench cluster`): one node of a written cluster
//! runs the MPC workloads W1-W5 with the two other nodes' processes over its pinned QUIC links,
//! exactly as a query would (session per run, per-session X25519 keys agreed over the links),
//! and prints one JSON line per run: `{"workload", "rep", "run": PartyRun}`. The orchestrator
//! checks the three parties' opened results against plaintext.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hdg_mpc::workloads::{Data, Workload, dataset, run_party};
use hdg_mpc::{Channel, Party, PartyId, PrfKind, Security, SessionId, SessionSecret, VerdictKeys};
use hdg_wire::consortium::NodeId;
use sha2::{Digest, Sha256};

use crate::net::identity::TlsIdentity;
use crate::net::links::{LinkConfig, PeerLinks};
use crate::node::config::NodeConfig;
use crate::node::query_party::exchange_publics;
use crate::node::run::consortium;

/// How long the party waits for both peers' processes to come up.
const CONNECT_WITHIN: Duration = Duration::from_secs(60);
/// How long a channel waits for one message (a 10^6-value vector included).
const RECV_TIMEOUT: Duration = Duration::from_secs(120);

/// Arguments of `hdg bench party`.
#[derive(clap::Args)]
pub struct PartyArgs {
    /// The node's config file (from `hdg init`).
    #[arg(long)]
    config: PathBuf,
    /// Values per workload.
    #[arg(long)]
    n: usize,
    /// Runs of each workload.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Workloads, comma-separated.
    #[arg(long, default_value = "W1,W2,W3,W4,W5")]
    workloads: String,
    /// A label shared by the three parties of one bench run (sessions are derived from it).
    #[arg(long)]
    run: String,
    /// The security mode the three parties run in.
    #[arg(long, default_value = "malicious")]
    security: Security,
}

/// Runs the party; prints one JSON line per workload run.
pub fn run(args: PartyArgs) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let workloads: Vec<Workload> = args
        .workloads
        .split(',')
        .map(|w| w.trim().parse::<Workload>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()?;
    let checked = NodeConfig::load(&args.config)?;
    let me = checked
        .roles
        .party
        .context("this node does not compute: the MPC bench runs at the computing parties")?;
    let key = crate::unlock::node_signing_key(&checked.config.data, &checked.config.key_source()?)?;
    let identity = TlsIdentity::from_signing_key(&key)?;
    let cluster = Arc::new(consortium(&checked, identity.public_key())?);
    let pinned = cluster.party_keys();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let links = {
        let _inside = runtime.enter();
        PeerLinks::bind(
            checked.node_id(),
            &identity,
            cluster,
            checked.config.quic_listen,
            LinkConfig {
                recv_timeout: RECV_TIMEOUT,
                // One patient dial (no abandoned half-open attempts while a peer starts).
                connect_timeout: CONNECT_WITHIN,
                ..LinkConfig::default()
            },
        )
        .with_context(|| format!("QUIC endpoint on {}", checked.config.quic_listen))?
    };
    let data = (me == PartyId::P0).then(|| dataset(args.n));
    let verdicts = VerdictKeys {
        signer: key.clone(),
        parties: pinned
            .map(|k| ed25519_dalek::VerifyingKey::from_bytes(&k))
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .context("a pinned node key is not an ed25519 key")?
            .try_into()
            .expect("three pins"),
    };
    connect(&runtime, &links, checked.quic_addrs())?;
    for rep in 0..args.reps {
        for &w in &workloads {
            let session = session_id(&args.run, w, rep);
            let channel = runtime
                .block_on(links.open_session(&session))
                .with_context(|| format!("opening the session of {w:?}"))?;
            let mine = data.as_ref().map(|(x, y)| (&x[..], &y[..]));
            let measured = reset_peak_rss();
            let run = run_one(
                me,
                &session,
                Box::new(channel),
                (w, args.n, args.security),
                mine,
                &verdicts,
            )?;
            let peak = if measured { peak_rss() } else { None };
            println!(
                "{}",
                serde_json::json!({ "workload": w, "rep": rep, "run": run, "peak_rss_bytes": peak })
            );
        }
    }
    finish(&runtime, &links, me, &args.run)?;
    runtime.block_on(links.shutdown(Duration::from_secs(1)));
    Ok(ExitCode::SUCCESS)
}

/// Resets this process's peak resident memory (Linux: 5 written to `/proc/self/clear_refs`),
/// so that [`peak_rss`] then reads the peak of what follows; false where that is not possible.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// This process's peak resident memory since the last reset (`VmHWM`), bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn connect(
    runtime: &tokio::runtime::Runtime,
    links: &PeerLinks,
    addrs: BTreeMap<NodeId, std::net::SocketAddr>,
) -> anyhow::Result<()> {
    runtime
        .block_on(links.connect(addrs))
        .with_context(|| format!("peers not connected within {CONNECT_WITHIN:?}"))
}

/// Waits until both peers are done too: each party sends "done" to both and waits for both,
/// then lingers a moment so its own last messages are delivered before the endpoint closes
/// (closing a QUIC endpoint drops whatever is still in flight).
fn finish(
    runtime: &tokio::runtime::Runtime,
    links: &PeerLinks,
    me: PartyId,
    label: &str,
) -> anyhow::Result<()> {
    let mut h = Sha256::new();
    h.update(b"hdg bench done v1\n");
    h.update(label.as_bytes());
    let session = SessionId(h.finalize().into());
    let mut channel = runtime
        .block_on(links.open_session(&session))
        .context("opening the closing session")?;
    for peer in [me.next(), me.prev()] {
        channel.send(peer, &[1])?;
    }
    for peer in [me.prev(), me.next()] {
        channel.recv(peer)?;
    }
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

/// The session of run `rep` of workload `w` in bench run `label` (the same at the three
/// parties, different for every run).
fn session_id(label: &str, w: Workload, rep: usize) -> SessionId {
    let mut h = Sha256::new();
    h.update(b"hdg bench session v1\n");
    h.update(label.as_bytes());
    h.update(format!("\n{w:?}\n{rep}").as_bytes());
    SessionId(h.finalize().into())
}

fn run_one(
    me: PartyId,
    session: &SessionId,
    mut channel: Box<dyn Channel>,
    (w, n, security): (Workload, usize, Security),
    data: Option<Data>,
    verdicts: &VerdictKeys,
) -> anyhow::Result<hdg_mpc::workloads::PartyRun> {
    let secret = SessionSecret::random();
    let publics = exchange_publics(channel.as_mut(), me, session, secret.public())
        .map_err(|r| anyhow::anyhow!("{}", r.reason))?;
    let mut party = Party::establish(me, session, &secret, &publics, PrfKind::DEFAULT, channel)
        .with_context(|| format!("session set-up of {w:?}"))?;
    party.set_security(security);
    // Verdicts signed with the node keys, as a query's are.
    party.sign_verdicts(verdicts.clone())?;
    let mut run =
        run_party(&mut party, w, n, data).with_context(|| format!("{w:?} failed at {me}"))?;
    // What differential privacy would add: the noise as the security mode draws it, on as many
    // aggregates as the workload opens (large noise parameters; their size hardly matters).
    // W3 reveals a vector of n products, not a statistic: a private cluster has no such release.
    if w == Workload::W3 {
        return Ok(run);
    }
    let mut aggregates = hdg_mpc::ArithShares::zeros(run.opened.len().max(1));
    let sigma2 = vec![1 << 40; aggregates.len()];
    // Wait for the slowest party first (a query's answer waits for all three anyway), so the
    // time is the noise's own and not the parties' skew at the end of the workload.
    hdg_mpc::protocols::reveal::reveal(&mut party, &hdg_mpc::ArithShares::zeros(1))
        .with_context(|| format!("sync after {w:?} failed at {me}"))?;
    let t = std::time::Instant::now();
    hdg_mpc::dp::noise::add_noise(&mut party, &mut aggregates, &sigma2, &mut rand::rng())
        .with_context(|| format!("noise after {w:?} failed at {me}"))?;
    run.noise_seconds = t.elapsed().as_secs_f64();
    Ok(run)
}

/// The command line that starts party `config` of bench run `label`.
pub fn command(
    exe: &Path,
    config: &Path,
    n: usize,
    reps: usize,
    label: &str,
    security: Security,
) -> std::process::Command {
    let mut c = std::process::Command::new(exe);
    c.args(["bench", "party", "--config"]).arg(config).args([
        "--n",
        &n.to_string(),
        "--reps",
        &reps.to_string(),
        "--run",
        label,
        "--security",
        security.name(),
    ]);
    c
}
