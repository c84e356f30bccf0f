//! `hdg audit --node URL --key PATIENT_KEY`: a patient asks every node what its ledger holds
//! about them, and checks the answer: each node's head is signed by the key it publishes and,
//! when marked cosigned, cosigned by the other nodes under their own published keys; each
//! entry's bytes are the leaf that its inclusion proof places under that head. One node alone
//! cannot forge the other two's cosignatures.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use hdg_ledger::{
    Checkpoint, CosignatureVerifier, LedgerEntry, NoteVerifier, leaf_hash, verify_inclusion,
};
use hdg_schema::Timestamp;
use serde_json::{Value, json};

use super::http::{NodeArgs, post};
use super::verify_cluster::hash_hex;
use crate::clock::now;
use crate::net::identity::NodeKey;
use hdg_client::cluster_file::ClusterFile;
use hdg_client::key::read_seed;
use hdg_wire::audit::{audit_body, report_context, report_signed_message};
use hdg_wire::sealed_reply::{ReplyKey, SealedReply};
use hdg_wire::signed::{Kind, request_digest, sign};

/// Arguments of `hdg audit`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    node: NodeArgs,
    /// The patient's ed25519 seed file (64 hex digits).
    #[arg(long)]
    key: PathBuf,
    /// Print the nodes' JSON answer (after checking it) instead of text.
    #[arg(long)]
    json: bool,
}

/// The verifier of a report's `vkey`, which must carry the node key the cluster file pins.
fn pinned_verifier(report: &Value, pin: &NodeKey) -> anyhow::Result<NoteVerifier> {
    let name = report["node"].as_str().unwrap_or("?");
    let verifier = NoteVerifier::from_vkey(report["vkey"].as_str().context("no vkey")?)?;
    if verifier.public_key().as_bytes() != pin {
        bail!("{name}'s ledger key is not the node key the cluster file pins");
    }
    Ok(verifier)
}

/// Checks node `i`'s report against the node keys the cluster file pins; the number of entries
/// proven.
fn check_report(nodes: &[Value], i: usize, pins: &[NodeKey]) -> anyhow::Result<usize> {
    let r = &nodes[i];
    let name = r["node"].as_str().unwrap_or("?");
    let verifier = pinned_verifier(r, &pins[i])?;
    if r["signed_head"].is_null() {
        // A node whose ledger is still empty: nothing to prove, and nothing may be listed.
        let listed = r["entries"].as_array().map_or(0, Vec::len);
        if r["tree_size"].as_u64() != Some(0) || listed != 0 {
            bail!("{name} lists entries but no signed head to prove them under");
        }
        return Ok(0);
    }
    let note = r["signed_head"].as_str().context("no signed head")?;
    let (head, signed) = Checkpoint::open(note, &verifier)
        .with_context(|| format!("{name}'s head does not verify under its key"))?;
    if r["cosigned"].as_bool() == Some(true) {
        for (j, other) in nodes.iter().enumerate().filter(|(j, _)| *j != i) {
            let witness =
                pinned_verifier(other, &pins[j]).with_context(|| format!("node {j}'s vkey"))?;
            CosignatureVerifier::new(witness.name(), *witness.public_key())?
                .verify(&signed)
                .with_context(|| format!("{name}'s head is not cosigned by {}", other["node"]))?;
        }
    }
    let entries = r["entries"].as_array().context("no entries")?;
    for e in entries {
        let index = e["leaf_index"].as_u64().context("leaf index")?;
        let bytes = hex::decode(e["entry"].as_str().unwrap_or_default())?;
        let entry = LedgerEntry::from_bytes(&bytes)
            .map_err(|err| anyhow::anyhow!("{name} leaf {index}: {err}"))?;
        let proof = e["proof"]
            .as_array()
            .context("proof")?
            .iter()
            .map(|h| hash_hex(h.as_str().unwrap_or_default()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        verify_inclusion(&leaf_hash(&bytes), index, head.size, &proof, &head.root)
            .with_context(|| format!("{name} leaf {index} is not in its ledger"))?;
        if hex::encode(entry.subject) != e["subject"].as_str().unwrap_or_default() {
            bail!("{name} leaf {index}: the listed subject is not the entry's");
        }
    }
    Ok(entries.len())
}

/// Opens party `i`'s sealed report (to our reply key, for this request) and checks that party
/// `i` signed it with the node key `pin`.
fn open_report(
    reply_key: &ReplyKey,
    digest: &[u8; 32],
    sealed: &Value,
    i: usize,
    pin: &NodeKey,
) -> anyhow::Result<Value> {
    if sealed["party"].as_u64() != Some(i as u64) {
        bail!(
            "the report in place {i} says it is party {}",
            sealed["party"]
        );
    }
    let sealed: SealedReply = serde_json::from_value(sealed["sealed"].clone())
        .context("the report is not sealed to this request")?;
    let context = report_context(digest, i);
    let plain = reply_key.open(&sealed, &context)?;
    let (signature, report) = plain
        .split_first_chunk::<64>()
        .context("the opened report carries no signature")?;
    VerifyingKey::from_bytes(pin)
        .context("the pinned node key")?
        .verify(
            &report_signed_message(&context, report),
            &Signature::from_bytes(signature),
        )
        .map_err(|_| anyhow::anyhow!("the report of party {i} is not signed by its node key"))?;
    let report: Value = serde_json::from_slice(report).context("the opened report")?;
    if report["party"].as_u64() != Some(i as u64) {
        bail!("the opened report says it is party {}", report["party"]);
    }
    Ok(report)
}

fn describe(e: &Value) -> String {
    let time = Timestamp(e["time"].as_i64().unwrap_or(0));
    let what = match e["kind"].as_str().unwrap_or("?") {
        "query" => {
            let q = &e["query"];
            format!(
                "query: {} of {} for {} by {}{}",
                q["statistic"]["kind"].as_str().unwrap_or("?"),
                q["indicator"].as_str().unwrap_or("?"),
                q["purpose"].as_str().unwrap_or("?"),
                q["institution"]
                    .as_str()
                    .map_or_else(|| q["institution_key"].to_string(), str::to_string),
                q["epsilon"]
                    .as_f64()
                    .map_or_else(String::new, |e| format!(", privacy loss epsilon {e}"))
            )
        }
        "consent" => format!("consent {}", e["subject"].as_str().unwrap_or("?")),
        "access" => {
            let a = &e["access"];
            format!(
                "raw access ({}) approved by {}",
                a["why"].as_str().unwrap_or("?"),
                a["approvers"]
                    .as_array()
                    .map(|v| v
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            )
        }
        "record" => format!("record stored {}", e["subject"].as_str().unwrap_or("?")),
        "erasure" => {
            let by = &e["erasure"];
            match by["approvers"].as_array() {
                Some(names) => format!(
                    "your data here erased, asked by the administrators {}",
                    names
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!(
                    "your data here erased, asked by the {}",
                    by["requested_by"].as_str().unwrap_or("?")
                ),
            }
        }
        "enrolment" => {
            let by = &e["enrolment"];
            let action = match by["action"].as_str() {
                Some("unenrol") => "your key unlinked from your records",
                _ => "your key linked to your records",
            };
            format!(
                "{action} at {}, by {}",
                by["hospital"].as_str().unwrap_or("?"),
                by["by"].as_str().or(by["by_key"].as_str()).unwrap_or("?")
            )
        }
        other => other.to_string(),
    };
    format!("#{:<8} {}  {what}", e["leaf_index"], time)
}

/// A patient's audit, checked: every node's opened report, what the patient reads, and whether
/// every node answered and every report checked out.
pub struct Audit {
    /// Each node's report, in party order (`null` where none came or it failed a check).
    pub nodes: Vec<Value>,
    /// The nodes the coordinator could not ask, as it named them.
    pub missing: Value,
    /// The audit in words: a line per node, then one per entry.
    pub lines: Vec<String>,
    /// Every node answered and every report checked out.
    pub ok: bool,
}

/// Signs the audit request, posts it, checks every node's answer and prints it.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let node = args.node.open()?;
    let cluster = args.node.cluster.as_deref().context(
        "hdg audit checks every node's report against the node keys of the cluster file: give --cluster FILE",
    )?;
    let pins = ClusterFile::load(cluster)?.node_keys()?;
    let key = read_seed(&args.key)?;
    let Some(audit) = audit(&node, &pins, &key)? else {
        return Ok(ExitCode::FAILURE);
    };
    if args.json {
        println!(
            "{}",
            json!({ "nodes": audit.nodes, "missing": audit.missing })
        );
    } else {
        for l in &audit.lines {
            println!("{l}");
        }
    }
    Ok(if audit.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Asks `node` for the audit of the patient with `key`, and checks every node's report against
/// the node keys `pins` (every node's, in node order); `None` (with the reason on stderr) when
/// the node refused.
pub fn audit(
    node: &super::http::NodeUrl,
    pins: &[NodeKey],
    key: &ed25519_dalek::SigningKey,
) -> anyhow::Result<Option<Audit>> {
    let reply_key = ReplyKey::new();
    let signed = sign(key, Kind::Audit, &audit_body(&reply_key.public()), now());
    let digest = request_digest(Kind::Audit, &signed).context("our own request")?;
    let request = serde_json::to_vec(&signed)?;
    let (status, answer) = post(
        node,
        "/v1/audit",
        "application/json",
        &request,
        Duration::from_secs(60),
    )?;
    if status != 200 {
        eprintln!(
            "audit refused ({status}): {}",
            answer["error"].as_str().unwrap_or("?")
        );
        return Ok(None);
    }
    let mut ok = true;
    let mut lines = Vec::new();
    let mut nodes = Vec::with_capacity(pins.len());
    let sealed_reports = answer["nodes"].as_array().context("no nodes")?;
    if sealed_reports.len() != pins.len() {
        bail!(
            "the answer holds {} reports, not the {} nodes'",
            sealed_reports.len(),
            pins.len()
        );
    }
    for (i, sealed) in sealed_reports.iter().enumerate() {
        if sealed.is_null() {
            nodes.push(Value::Null);
            continue;
        }
        match open_report(&reply_key, &digest, sealed, i, &pins[i]) {
            Ok(report) => nodes.push(report),
            Err(e) => {
                ok = false;
                lines.push(format!("FAILED: node {i}: {e:#}"));
                nodes.push(Value::Null);
            }
        }
    }
    for (i, r) in nodes.iter().enumerate() {
        if r.is_null() {
            ok = false;
            lines.push(format!("node {i}: no answer"));
            continue;
        }
        match check_report(&nodes, i, pins) {
            Ok(_) if r["signed_head"].is_null() => lines.push(format!(
                "{}: its ledger is still empty, nothing about you",
                r["node"].as_str().unwrap_or("?")
            )),
            Ok(n) => {
                let cosigned = if r["cosigned"].as_bool() == Some(true) {
                    "cosigned by the other nodes"
                } else {
                    "not yet cosigned"
                };
                lines.push(format!(
                    "{}: {n} entries, each proven under its signed head of size {} ({cosigned})",
                    r["node"].as_str().unwrap_or("?"),
                    r["tree_size"]
                ));
                for e in r["entries"].as_array().into_iter().flatten() {
                    lines.push(format!("  {}", describe(e)));
                }
            }
            Err(e) => {
                ok = false;
                lines.push(format!("FAILED: {e:#}"));
            }
        }
    }
    for m in answer["missing"].as_array().into_iter().flatten() {
        ok = false;
        lines.push(format!("missing: {}", m.as_str().unwrap_or("?")));
    }
    Ok(Some(Audit {
        nodes,
        missing: answer["missing"].clone(),
        lines,
        ok,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VKEY: &str =
        "hdg.local/node-f8983490+c401e85d+AfiYNJDKvLlrcvHDgrz98WzVKnIQXnm92jBPL6+BYt0C";

    /// The node key inside [`VKEY`].
    fn pin() -> NodeKey {
        *NoteVerifier::from_vkey(VKEY)
            .unwrap()
            .public_key()
            .as_bytes()
    }

    #[test]
    fn an_empty_ledger_proves_nothing_and_may_list_nothing() {
        let empty = serde_json::json!({
            "node": "node0", "vkey": VKEY, "signed_head": null, "tree_size": 0, "entries": []
        });
        let pins = [pin(), [0; 32], [0; 32]];
        assert_eq!(
            check_report(std::slice::from_ref(&empty), 0, &pins).unwrap(),
            0
        );
        let mut listing = empty.clone();
        listing["entries"] = serde_json::json!([{ "leaf_index": 0 }]);
        assert!(check_report(&[listing], 0, &pins).is_err());
        let mut sized = empty;
        sized["tree_size"] = serde_json::json!(5);
        assert!(check_report(&[sized.clone()], 0, &pins).is_err());
        // A report under a ledger key other than the pinned one is refused.
        let mut empty_again = sized;
        empty_again["tree_size"] = serde_json::json!(0);
        assert!(
            check_report(
                std::slice::from_ref(&empty_again),
                0,
                &[[1; 32], [0; 32], [0; 32]]
            )
            .is_err()
        );
    }

    /// The relaying node knows the reply key and the request, so it can seal a report in a
    /// peer's place; without that peer's node key it cannot sign one.
    #[test]
    fn a_report_opens_only_when_its_own_node_signed_it() {
        use ed25519_dalek::{Signer, SigningKey};
        use hdg_wire::sealed_reply::seal;
        let (node1, relay) = (
            SigningKey::from_bytes(&[5; 32]),
            SigningKey::from_bytes(&[6; 32]),
        );
        let reply = ReplyKey::new();
        let digest = [9; 32];
        let report = br#"{"party":1,"node":"node1","entries":[]}"#;
        let sealed_by = |key: &SigningKey| {
            let context = report_context(&digest, 1);
            let mut plain = key
                .sign(&report_signed_message(&context, report))
                .to_bytes()
                .to_vec();
            plain.extend_from_slice(report);
            json!({ "party": 1, "sealed": seal(&reply.public(), &context, &plain).unwrap() })
        };
        let pin = node1.verifying_key().to_bytes();
        assert!(open_report(&reply, &digest, &sealed_by(&node1), 1, &pin).is_ok());
        let forged = open_report(&reply, &digest, &sealed_by(&relay), 1, &pin).unwrap_err();
        assert!(
            forged.to_string().contains("not signed by its node key"),
            "{forged}"
        );
        // Node 1's genuine report presented as node 2's does not open.
        assert!(open_report(&reply, &digest, &sealed_by(&node1), 2, &pin).is_err());
    }
}
