//! `hdg registry`: node administrators add or remove an identity of the cluster's registry, or
//! set the purposes a researcher may query for; the
//! change carries the signatures of the admin keys given and takes effect at every node once k
//! of the registered admins approved it (see `node::registry_change`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::http::{NodeArgs, post};
use crate::clock::now;
use hdg_client::key::read_seed;
use hdg_wire::Purpose;
use hdg_wire::approvals::ApprovedRequest;
use hdg_wire::registry::RegistryChange;
use hdg_wire::registry::Role;
use hdg_wire::signed::{Kind, NONCE_BYTES};

/// Arguments of `hdg registry`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    node: NodeArgs,
    /// An approving administrator's seed file; repeat for each approver.
    #[arg(long = "approve", required = true)]
    approvers: Vec<PathBuf>,
    #[command(subcommand)]
    change: Change,
}

/// Add, set purposes, or remove.
#[derive(clap::Subcommand)]
enum Change {
    /// Register an identity.
    Add {
        /// Its name.
        #[arg(long)]
        name: String,
        /// researcher, patient, clinician, admin or source.
        #[arg(long)]
        role: Role,
        /// Its ed25519 public key (64 hex digits).
        #[arg(long)]
        key: String,
        /// A researcher's allowed purpose (research, statistics, treatment); repeat for more.
        /// None: research only.
        #[arg(long = "purpose")]
        purposes: Vec<Purpose>,
        /// The hospital (node name) a clinician, administrator or source belongs to: staff
        /// enrol patients only at their own hospital (`hdg enrol`).
        #[arg(long)]
        hospital: Option<String>,
    },
    /// Set the purposes a registered researcher may query for.
    Purposes {
        /// The researcher's ed25519 public key (64 hex digits).
        #[arg(long)]
        key: String,
        /// An allowed purpose (research, statistics, treatment); repeat for more.
        #[arg(long = "purpose", required = true)]
        purposes: Vec<Purpose>,
    },
    /// Remove an identity.
    Remove {
        /// Its ed25519 public key (64 hex digits).
        #[arg(long)]
        key: String,
    },
}

/// Builds the change, signs it with every approver, posts it; exit failure when refused.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let node = args.node.open()?;
    let change = match args.change {
        Change::Add {
            name,
            role,
            key,
            purposes,
            hospital,
        } => RegistryChange::Add {
            name,
            role,
            public_key: key,
            purposes,
            hospital,
        },
        Change::Purposes { key, purposes } => RegistryChange::Purposes {
            public_key: key,
            purposes,
        },
        Change::Remove { key } => RegistryChange::Remove { public_key: key },
    };
    let mut req = ApprovedRequest {
        body: serde_json::to_string(&change)?,
        nonce: hex::encode(rand::random::<[u8; NONCE_BYTES]>()),
        time: now().0,
        approvals: Vec::new(),
    };
    for path in &args.approvers {
        req.approve(&read_seed(path)?, Kind::Registry);
    }
    let bytes = serde_json::to_vec(&req).context("encoding the request")?;
    let (status, answer) = post(
        &node,
        "/v1/registry",
        "application/json",
        &bytes,
        Duration::from_secs(30),
    )?;
    if status == 200 {
        println!(
            "registry changed at the three nodes (ledger entries {})",
            answer["ledger_index"]
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} ({status})", answer["error"].as_str().unwrap_or("?"));
        Ok(ExitCode::FAILURE)
    }
}
