//! `hdg`: the Healthcare Data Gateway command-line tool.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use hdg_gateway::cli;

/// mimalloc keeps freed pages for reuse. With the system allocator every multi-MiB buffer (an
/// MPC message, a frame, a part's shares) went back to the OS when freed and came back as
/// fresh pages the kernel had to fault in and zero: about 30% of the CPU time of a QUIC
/// message under `perf`. Built with `no_thp`: asking for transparent huge pages made the
/// kernel compact memory on allocation, and single runs stalled for up to a second.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Healthcare Data Gateway: health records under an indicator-centric schema, anchored in a
/// verifiable ledger, with statistics computed by three-party secure computation.
#[derive(Parser)]
#[command(name = "hdg", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a three-node cluster on this machine: keys, node configs, demo identities.
    Init(cli::init::Args),
    /// Run one node: its store, QUIC links to the pinned peers and the HTTP JSON API.
    Node(cli::node::Args),
    /// Run the end-to-end demo on a synthetic cohort (embedded defaults, temporary folder).
    Demo(cli::demo::Args),
    /// Validate FHIR JSON / NDJSON / CSV files and print the import report (stores nothing).
    Import(cli::import::Args),
    /// Write a deterministic synthetic cohort as FHIR transaction bundles.
    Synth(cli::synth::Args),
    /// Import files into a node's embedded store, anchoring every record in its ledger.
    Ingest(cli::ingest::Args),
    /// Re-derive every hash and signature of a store and name the first bad entry.
    Verify(cli::verify::Args),
    /// Print a record's inclusion proof, or check one offline with only the node's key.
    Proof(cli::proof::Args),
    /// Show a record's correction chain.
    History(cli::history::Args),
    /// Print the node's ledger verifier key (name+keyhash+base64).
    Key(cli::key::Args),
    /// Make a person's or a feed's signing key, or show the public key of one.
    Identity(cli::identity::Args),
    /// Ask the cluster a researcher query (signed; answered in sealed secret shares).
    Query(cli::query::Args),
    /// As a researcher: what is left of your privacy budget at each node this period.
    Budget(cli::budget::Args),
    /// As a hospital's staff with a patient: link the hospital's reference of the patient to
    /// the patient's key (both sign), or undo it.
    Enrol(cli::enrol::Args),
    /// As node administrators: add or remove an identity (k of the admins approve).
    Registry(cli::registry::Args),
    /// As a clinician: a patient's raw records, with the approvals their policy needs.
    Access(cli::access::Args),
    /// As a patient: every ledger entry about you at every node, each proof checked.
    Audit(cli::audit::Args),
    /// Grant or revoke consent as a patient (signed with the patient's key).
    Consent(cli::consent::Args),
    /// Erase a patient at every node: records crypto-shredded, share rows deleted, anchored.
    Erase(cli::erase::Args),
    /// Measure ingest or MPC throughput against a baseline measured in the same run.
    Bench(cli::bench::Args),
    /// Wait until every node of a cluster has both peers linked and every share delivered.
    Wait(cli::wait::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(a) => cli::init::run(a),
        Command::Node(a) => cli::node::run(a),
        Command::Demo(a) => cli::demo::run(a),
        Command::Import(a) => cli::import::run(a),
        Command::Synth(a) => cli::synth::run(a),
        Command::Ingest(a) => cli::ingest::run(a),
        Command::Verify(a) => cli::verify::run(a),
        Command::Proof(a) => cli::proof::run(a),
        Command::History(a) => cli::history::run(a),
        Command::Key(a) => cli::key::run(a),
        Command::Identity(a) => cli::identity::run(a),
        Command::Query(a) => cli::query::run(a),
        Command::Budget(a) => cli::budget::run(a),
        Command::Erase(a) => cli::erase::run(a),
        Command::Consent(a) => cli::consent::run(a),
        Command::Audit(a) => cli::audit::run(a),
        Command::Access(a) => cli::access::run(a),
        Command::Enrol(a) => cli::enrol::run(a),
        Command::Registry(a) => cli::registry::run(a),
        Command::Bench(a) => cli::bench::run(a),
        Command::Wait(a) => cli::wait::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
