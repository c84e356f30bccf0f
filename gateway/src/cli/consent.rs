//! `hdg consent`: a patient grants or revokes consent, signed with their own key, at any node;
//! the node stores it and has both peers store it (see `node::consent_endpoint`). A grant can
//! also be read from a FHIR R4 Consent (`grant --fhir FILE`, see `hdg_wire::consent_fhir`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use ed25519_dalek::SigningKey;

use super::http::{NodeArgs, NodeUrl, post};
use crate::clock::now;
use hdg_client::key::read_seed;
use hdg_client::request::parse_time;
use hdg_wire::Purpose;
use hdg_wire::consent::ConsentBody;
use hdg_wire::consent_fhir::from_fhir;
use hdg_wire::signed::{Kind, sign};

/// Arguments of `hdg consent`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    node: NodeArgs,
    /// The patient's ed25519 seed file (64 hex digits).
    #[arg(long)]
    key: PathBuf,
    /// Print the node's JSON answer instead of text.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    action: Action,
}

/// Grant or revoke.
#[derive(clap::Subcommand)]
enum Action {
    /// Permit the use of your data for a purpose.
    Grant {
        /// research, statistics or treatment (repeat for several).
        #[arg(long = "purpose", required_unless_present = "fhir")]
        purposes: Vec<Purpose>,
        /// Read the grant from a FHIR R4 Consent resource (JSON) instead of the options.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["purposes", "indicators", "from", "to", "institution", "expires"])]
        fhir: Option<PathBuf>,
        /// Only this indicator's data (LOINC code; repeat for several). Default: all.
        #[arg(long = "indicator")]
        indicators: Vec<String>,
        /// Only data effective from this date (FHIR date or dateTime).
        #[arg(long)]
        from: Option<String>,
        /// Only data effective before this date.
        #[arg(long)]
        to: Option<String>,
        /// Only this research institution (its public key, 64 hex digits).
        #[arg(long)]
        institution: Option<String>,
        /// The grant lapses at this date.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Set who must approve a raw access to your records (replaces your earlier policy).
    AccessPolicy {
        /// A clinician's public key (64 hex digits); repeat for each.
        #[arg(long = "clinician", required = true)]
        clinicians: Vec<String>,
        /// How many distinct approvals, among yours and the clinicians', a raw access needs.
        #[arg(long)]
        required: usize,
    },
    /// Withdraw an earlier grant (its consent id, as `grant` printed it).
    Revoke {
        /// The consent id.
        #[arg(long)]
        id: String,
    },
}

/// Signs `body` as the patient with `key` and posts it to `node`: the node's status and answer
/// (200 stored at the three parties, 202 stored and queued for a party, or the refusal).
pub fn post_consent(
    node: &NodeUrl,
    key: &SigningKey,
    body: &ConsentBody,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let signed = sign(key, Kind::Consent, &serde_json::to_string(body)?, now());
    let request = serde_json::to_vec(&signed).context("encoding the signed request")?;
    post(
        node,
        "/v1/consent",
        "application/json",
        &request,
        Duration::from_secs(30),
    )
}

/// Signs and posts the consent; exit failure when the node refuses it.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let node = args.node.open()?;
    let key = read_seed(&args.key)?;
    let time = |t: Option<String>| t.as_deref().map(parse_time).transpose();
    let body = match args.action {
        Action::Grant {
            fhir: Some(file), ..
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let resource: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not JSON", file.display()))?;
            from_fhir(&resource)
                .map_err(|e| anyhow::anyhow!("{}: cannot map the Consent: {e}", file.display()))?
        }
        Action::Grant {
            purposes,
            indicators,
            from,
            to,
            institution,
            expires,
            fhir: None,
        } => ConsentBody::Grant {
            purposes,
            indicators,
            from: time(from)?,
            to: time(to)?,
            institution,
            expires: time(expires)?,
        },
        Action::AccessPolicy {
            clinicians,
            required,
        } => ConsentBody::AccessPolicy {
            clinicians,
            required,
        },
        Action::Revoke { id } => ConsentBody::Revoke { consent: id },
    };
    let (status, answer) = post_consent(&node, &key, &body)?;
    let stored = status == 200 || status == 202;
    if args.json {
        println!("{answer}");
    } else if status == 200 {
        println!(
            "consent {} stored at the three parties (ledger entries {})",
            answer["consent_id"].as_str().unwrap_or("?"),
            answer["ledger_index"]
        );
    } else if status == 202 {
        println!(
            "consent {} stored (ledger entries {}); queued for: {}",
            answer["consent_id"].as_str().unwrap_or("?"),
            answer["ledger_index"],
            answer["pending"]
        );
    } else {
        eprintln!(
            "consent refused ({status}): {}",
            answer["error"].as_str().unwrap_or("?")
        );
    }
    Ok(if stored {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
