//! `hdg demo`: the first thing a new user runs — a synthetic cohort through the whole stack, on a
//! real three-node cluster on this machine (or, with `--hospitals N`, a consortium of N
//! hospitals of which three compute: the files are dealt among the hospitals).
//!
//! Steps: write a cluster (`hdg init`) and start three `hdg node` processes; synthesise a cohort
//! and post each file to its patients' home node (files dealt round robin: three hospitals); wait
//! until every value is secret-shared to the three parties; ask the sample statistics as a signed
//! researcher and print each MPC result beside the plaintext result computed here from the cohort
//! files (see `demo_queries`); check every node's ledger head is cosigned by the two others and
//! consistent with what they witnessed; stop the nodes with SIGTERM; verify all three stores and
//! ledgers (records, share receipts, signed heads) and check one inclusion proof offline. Exits
//! with failure if any result differs or any check fails. With `--consent` the patients are
//! enrolled with keys of their own and decide: their values wait at the home node until three
//! in five grant, the statistics are checked against those patients' rows only, and one
//! revocation is shown by the patient's audit (`demo_consent`).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdg_ledger::NoteVerifier;
use hdg_schema::PseudonymKey;
use indicatif::ProgressBar;

use super::demo_consent::{
    REVOCATION_INDICATOR, consented_rows, demo_patients, post_grants, show_revocation,
};
use super::demo_queries::{Rows, read_rows, researcher_key, run_sample_queries};
use super::init::{ClusterLayout, describe, node_roles};
use super::local_cluster::{LocalCluster, deal_files};
use super::synth::write_cohort;
use super::verify_cluster::{check_cluster, print_checks};
use crate::node::config::PrivacyMode;
use crate::node::registry::load_enrolments;

/// Largest request body the demo's nodes accept: a cohort file of [`PATIENTS_PER_FILE`]
/// patients is about 5 MB.
const DEMO_MAX_BODY: usize = 64 << 20;
/// Patients per cohort file (one POST each).
const PATIENTS_PER_FILE: u64 = 50;

/// Arguments of `hdg demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of synthetic patients.
    #[arg(long, default_value_t = 2000)]
    patients: u64,
    /// Keep everything in this folder instead of a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Seed of the synthetic cohort.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// The privacy loss each sample query spends (the cluster answers with differential
    /// privacy; a small cohort needs more epsilon for a readable answer).
    #[arg(long, default_value_t = hdg_client::request::DEFAULT_EPSILON)]
    epsilon: f64,
    /// Patients decide: each is enrolled with a key of their own, three in five grant research
    /// use, the statistics use only their rows, and one revokes (their audit shows the effect).
    #[arg(long)]
    consent: bool,
    /// Number of hospitals: the cohort's files are dealt among them; nodes 0-2 are the three
    /// computing parties (hospitals too while there are hospitals left), nodes 3 and up
    /// hospitals that never hold a share.
    #[arg(long, default_value_t = 3, value_name = "N")]
    hospitals: usize,
}

/// Runs the demo.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let tmp = tempfile::tempdir()?;
    let root = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    println!("== Healthcare Data Gateway demo in {}", root.display());

    let t = Instant::now();
    let files = write_cohort(
        &root.join("cohort"),
        args.patients,
        args.seed,
        PATIENTS_PER_FILE,
    )?;
    println!(
        "synthesised {} patients in {} files ({:.1} s)",
        args.patients,
        files.len(),
        t.elapsed().as_secs_f64()
    );
    let roles = node_roles(args.hospitals)?;
    let homes = deal_files(&files, args.hospitals)?;

    let cluster_dir = root.join("cluster");
    let layout = if args.consent {
        let patients = usize::try_from(args.patients).context("--patients")?;
        LocalCluster::write_enrolled(
            &cluster_dir,
            DEMO_MAX_BODY,
            patients,
            args.seed,
            args.hospitals,
        )?
    } else {
        LocalCluster::write(
            &cluster_dir,
            DEMO_MAX_BODY,
            PrivacyMode::Dp,
            hdg_mpc::Security::Malicious,
            args.hospitals,
        )?
    };
    // The plaintext reference, with pseudonyms and record handles as each home node derives
    // them (its keys): read before the nodes open their stores.
    let mut plain = plaintext(&layout, &homes, args.consent)?;
    let mut cluster = LocalCluster::start(&cluster_dir, layout)?;
    cluster.wait_ready(Duration::from_secs(60))?;
    println!(
        "\n== cluster: {} node processes ({} hospitals, three computing parties), linked by QUIC with mutual TLS (pinned keys)",
        roles.len(),
        args.hospitals
    );
    for (i, r) in roles.iter().enumerate() {
        println!(
            "node{i} ({}): HTTP {}  QUIC {}  log {}",
            describe(*r),
            cluster.layout.http[i],
            cluster.layout.quic[i],
            cluster.log(i).display()
        );
    }

    println!(
        "\n== ingest: each file to its home hospital, then secret-shared to the three parties"
    );
    let t = Instant::now();
    let stored = cluster.post_files(&homes)?;
    let ingest_s = t.elapsed().as_secs_f64();
    wait_all_shared(&mut cluster)?;
    let total_s = t.elapsed().as_secs_f64();
    if args.consent {
        println!(
            "{stored} records validated, sealed and anchored at their home nodes in {ingest_s:.1} s; \
             every value held there until its patient consents"
        );
    } else {
        println!(
            "{stored} records validated, sealed and anchored at their home nodes in {ingest_s:.1} s; \
             every value shared to all three parties after {total_s:.1} s ({:.0} observations/s)",
            stored as f64 / total_s
        );
    }
    let patients = if args.consent {
        println!("\n== consent: patients enrolled with their own keys decide");
        let patients = demo_patients(&cluster.layout, args.patients)?;
        let t = Instant::now();
        let grants = post_grants(&cluster, &patients)?;
        let granted_s = t.elapsed().as_secs_f64();
        wait_all_shared(&mut cluster)?;
        println!(
            "{} of {} patients granted research use in {granted_s:.1} s (each grant signed by \
             the patient, stored and anchored at the three nodes); their held values shared to \
             the parties after {:.1} s",
            grants.len(),
            patients.len(),
            t.elapsed().as_secs_f64()
        );
        plain = consented_rows(&plain, &patients);
        Some((patients, grants))
    } else {
        None
    };

    println!(
        "\n== statistics by three-party computation, asked as a signed researcher, sealed to them"
    );
    let researcher = researcher_key(&cluster.layout.researcher_key())?;
    let pins = cluster.layout.pins()?;
    let mut all_agree =
        run_sample_queries(&cluster.url(0)?, &pins, &researcher, &plain, args.epsilon)?;

    if let Some((patients, grants)) = &patients {
        println!("\n== a revocation and its effect, as the patient audits it");
        // The first granting patient with a heart rate among their values.
        let with_values: HashSet<_> = plain
            .get(REVOCATION_INDICATOR)
            .into_iter()
            .flatten()
            .map(|r| r.patient())
            .collect();
        let (index, consent_id) = grants
            .iter()
            .find(|(i, _)| with_values.contains(&patients[**i].pseudonym))
            .context("no granting patient has a heart rate")?;
        all_agree &= show_revocation(
            &cluster,
            &pins,
            &researcher,
            &patients[*index],
            consent_id,
            with_values.len(),
            args.epsilon,
        )?;
    }

    println!("\n== witnessing: each node's ledger head cosigned by the other nodes");
    let witnessed = check_witnessing(&cluster)?;

    println!("\n== shutdown (SIGTERM) and ledger verification");
    cluster.stop(Duration::from_secs(30))?;
    let verified = verify_nodes(&cluster)? && witnessed;
    println!("\ndone in {:.1} s", started.elapsed().as_secs_f64());
    if !all_agree || !verified {
        eprintln!("demo failed: a result or a ledger did not check out (see above)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits (bounded) until every node's outbox is empty, showing what is left.
fn wait_all_shared(cluster: &mut LocalCluster) -> anyhow::Result<()> {
    let bar = ProgressBar::new_spinner();
    bar.set_message("sharing");
    cluster.wait_shared(Duration::from_secs(600), &mut |left| {
        bar.set_message(format!("{left} observations still to share"));
        bar.tick();
    })?;
    bar.finish_and_clear();
    Ok(())
}

/// The cohort's values read from the files, each node's files with its own pseudonym key (and,
/// with `enrolled`, its enrolled patients under their keys' pseudonyms).
fn plaintext(
    layout: &ClusterLayout,
    homes: &[Vec<PathBuf>],
    enrolled: bool,
) -> anyhow::Result<Rows> {
    let mut rows = Rows::new();
    for (i, files) in homes.iter().enumerate() {
        let store = layout.open_store(i)?;
        let enrolments = if enrolled {
            let key = PseudonymKey::derive(&store.pseudonym_key());
            Some(load_enrolments(&layout.enrolments(), &key)?)
        } else {
            None
        };
        read_rows(files, &store, enrolments.as_ref(), &mut rows)?;
    }
    Ok(rows)
}

/// `hdg verify --cluster` on the running cluster, waiting (bounded) for the first cosignatures
/// of a cluster that has just started; prints one line per node. Returns whether all passed.
fn check_witnessing(cluster: &LocalCluster) -> anyhow::Result<bool> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = check_cluster(&cluster.layout.configs)?;
        if lines.iter().all(Result::is_ok) || Instant::now() > deadline {
            return Ok(print_checks(lines));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Opens each stopped node's store and verifies it (all in parallel); prints one line per node
/// and an inclusion proof checked offline. Returns whether all verified.
fn verify_nodes(cluster: &LocalCluster) -> anyhow::Result<bool> {
    let t = Instant::now();
    let results: Vec<anyhow::Result<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cluster.nodes())
            .map(|i| s.spawn(move || verify_node(&cluster.layout, i)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut all_ok = true;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(text) => println!("node{i}: {text}"),
            Err(e) => {
                all_ok = false;
                println!("node{i}: VERIFY FAILED: {e:#}");
            }
        }
    }
    println!("(verified in {:.1} s)", t.elapsed().as_secs_f64());
    Ok(all_ok)
}

/// Verifies one stopped node's store; with `proof`, also checks one inclusion proof offline.
fn verify_node(layout: &ClusterLayout, i: usize) -> anyhow::Result<String> {
    let proof = i == 0;
    let store = layout.open_store(i)?;
    let verifier = NoteVerifier::from_vkey(&store.vkey())?;
    let s = store.verify(&verifier)?;
    let mut text = format!(
        "ledger of {} entries verified: {} records, {} share rows against their receipts, {} \
         signed heads",
        s.leaves, s.records, s.shares, s.heads
    );
    if proof && let Some(handle) = store.scan_indicator("4548-4", Default::default())?.first() {
        let first = store.get_handle(handle)?.id();
        let p = store.inclusion_proof(&first)?;
        p.verify(&verifier)?;
        text.push_str(&format!(
            "\n       inclusion proof of HbA1c record {first}: leaf {} of {}, {} hashes, \
             verified offline with the vkey {}",
            p.leaf_index,
            p.tree_size,
            p.audit_path.len(),
            store.vkey()
        ));
    }
    Ok(text)
}
