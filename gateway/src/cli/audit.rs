//! `hdg audit --node URL --key PATIENT_KEY`: a patient asks every node what its ledger holds
//! about them, and checks the answer: each node's head is signed by the key it publishes and,
//! when marked cosigned, cosigned by the two other nodes under their own published keys; each
//! entry's bytes are the leaf that its inclusion proof places under that head. One node alone
//! cannot forge the other two's cosignatures.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use hdg_ledger::{
    Checkpoint, CosignatureVerifier, LedgerEntry, NoteVerifier, leaf_hash, verify_inclusion,
};
use hdg_schema::Timestamp;
use serde_json::{Value, json};

use super::http::{NodeArgs, post};
use super::ingest::now;
use super::query::read_seed;
use super::verify_cluster::hash_hex;
use crate::node::audit::{audit_body, report_context};
use crate::node::sealed_reply::{ReplyKey, SealedReply};
use crate::node::signed::{Kind, request_digest, sign};

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

/// Checks one node's report against the three published keys; the number of entries proven.
fn check_report(nodes: &[Value], i: usize) -> anyhow::Result<usize> {
    let r = &nodes[i];
    let name = r["node"].as_str().unwrap_or("?");
    let verifier = NoteVerifier::from_vkey(r["vkey"].as_str().context("no vkey")?)?;
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
            let witness = NoteVerifier::from_vkey(other["vkey"].as_str().unwrap_or_default())
                .with_context(|| format!("node {j}'s vkey"))?;
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

/// Opens party `i`'s sealed report (to our reply key, for this request, from party `i`).
fn open_report(
    reply_key: &ReplyKey,
    digest: &[u8; 32],
    sealed: &Value,
    i: usize,
) -> anyhow::Result<Value> {
    if sealed["party"].as_u64() != Some(i as u64) {
        bail!(
            "the report in place {i} says it is party {}",
            sealed["party"]
        );
    }
    let sealed: SealedReply = serde_json::from_value(sealed["sealed"].clone())
        .context("the report is not sealed to this request")?;
    let plain = reply_key.open(&sealed, &report_context(digest, i))?;
    let report: Value = serde_json::from_slice(&plain).context("the opened report")?;
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
                "query: {} of {} for {} by {}",
                q["statistic"]["kind"].as_str().unwrap_or("?"),
                q["indicator"].as_str().unwrap_or("?"),
                q["purpose"].as_str().unwrap_or("?"),
                q["institution"]
                    .as_str()
                    .map_or_else(|| q["institution_key"].to_string(), str::to_string)
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
        other => other.to_string(),
    };
    format!("#{:<8} {}  {what}", e["leaf_index"], time)
}

/// Signs the audit request, posts it, checks every node's answer and prints it.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let node = args.node.open()?;
    let key = read_seed(&args.key)?;
    let reply_key = ReplyKey::new();
    let signed = sign(&key, Kind::Audit, &audit_body(&reply_key.public()), now());
    let digest = request_digest(Kind::Audit, &signed).context("our own request")?;
    let request = serde_json::to_vec(&signed)?;
    let (status, answer) = post(
        &node,
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
        return Ok(ExitCode::FAILURE);
    }
    let mut ok = true;
    let mut lines = Vec::new();
    let mut nodes = Vec::with_capacity(3);
    for (i, sealed) in answer["nodes"]
        .as_array()
        .context("no nodes")?
        .iter()
        .enumerate()
    {
        if sealed.is_null() {
            nodes.push(Value::Null);
            continue;
        }
        match open_report(&reply_key, &digest, sealed, i) {
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
        match check_report(&nodes, i) {
            Ok(_) if r["signed_head"].is_null() => lines.push(format!(
                "{}: its ledger is still empty, nothing about you",
                r["node"].as_str().unwrap_or("?")
            )),
            Ok(n) => {
                let cosigned = if r["cosigned"].as_bool() == Some(true) {
                    "cosigned by the two other nodes"
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
    if args.json {
        println!(
            "{}",
            json!({ "nodes": nodes, "missing": answer["missing"] })
        );
    } else {
        for l in lines {
            println!("{l}");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VKEY: &str =
        "hdg.local/node-f8983490+c401e85d+AfiYNJDKvLlrcvHDgrz98WzVKnIQXnm92jBPL6+BYt0C";

    #[test]
    fn an_empty_ledger_proves_nothing_and_may_list_nothing() {
        let empty = serde_json::json!({
            "node": "node0", "vkey": VKEY, "signed_head": null, "tree_size": 0, "entries": []
        });
        assert_eq!(check_report(std::slice::from_ref(&empty), 0).unwrap(), 0);
        let mut listing = empty.clone();
        listing["entries"] = serde_json::json!([{ "leaf_index": 0 }]);
        assert!(check_report(&[listing], 0).is_err());
        let mut sized = empty;
        sized["tree_size"] = serde_json::json!(5);
        assert!(check_report(&[sized], 0).is_err());
    }
}
