//! `hdg verify --cluster DIR`: checks, over the nodes' HTTP APIs, that every node's newest
//! cosigned head is signed by its pinned key and cosigned by at least two other nodes (every
//! other node in a cluster of three), that its
//! current head is consistent with what each peer last witnessed (a consistency proof fetched
//! from the node and verified here), and that no peer holds evidence of a fork of its ledger.
//!
//! Keys come from the cluster's config files (node i's key as the others pin it), never from
//! the nodes themselves; the nodes only supply notes and proofs, which are checked.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use ed25519_dalek::VerifyingKey;
use hdg_ledger::{
    Checkpoint, CosignatureVerifier, Hash, NoteVerifier, SignedNote, verify_consistency,
};
use serde_json::Value;

use super::http::{NodeUrl, get};
use super::init::config_path;
use crate::node::config::NodeConfig;

/// Other nodes whose cosignature a head needs (fewer only when fewer others exist).
const WITNESSES: usize = 2;
const TIMEOUT: Duration = Duration::from_secs(10);

/// One node as the cluster's configs describe it.
struct Member {
    name: String,
    url: NodeUrl,
    key: VerifyingKey,
}

/// Reads the nodes' config files: each node's HTTP address, and its key as every other node
/// pins it.
fn members(files: &[PathBuf]) -> anyhow::Result<Vec<Member>> {
    let configs = files
        .iter()
        .map(|f| NodeConfig::load(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for c in &configs {
        let (id, name) = (c.node_id(), &c.config.name);
        let pinned: Vec<[u8; 32]> = configs
            .iter()
            .filter(|other| other.node_id() != id)
            .flat_map(|other| &other.peers)
            .filter(|(m, _)| m.id == id)
            .map(|(m, _)| m.key)
            .collect();
        if pinned.len() + 1 != configs.len() {
            bail!("{name} is not pinned by every other node's config");
        }
        let raw = pinned[0];
        if let Some(other) = pinned.iter().find(|k| **k != raw) {
            bail!(
                "the other nodes pin different keys for {name}: {} and {}",
                hex::encode(raw),
                hex::encode(other)
            );
        }
        out.push(Member {
            name: c.config.name.clone(),
            url: if c.config.insecure_http {
                NodeUrl::open(&format!("http://{}", c.config.http_listen), None, true)?
            } else {
                NodeUrl::open(
                    &format!("https://{}", c.config.http_listen),
                    Some(&[raw]),
                    false,
                )?
            },
            key: VerifyingKey::from_bytes(&raw).with_context(|| format!("{name}'s pinned key"))?,
        });
    }
    Ok(out)
}

fn fetch(m: &Member, path: &str) -> anyhow::Result<Value> {
    let (status, body) =
        get(&m.url, path, TIMEOUT).with_context(|| format!("{}: GET {path}", m.name))?;
    if status != 200 {
        bail!(
            "{}: GET {path} answered {status}: {}",
            m.name,
            body["error"]
        );
    }
    Ok(body)
}

/// The checkpoint of `note`, verified under `m`'s pinned key.
fn open_head(m: &Member, note: &str) -> anyhow::Result<(Checkpoint, SignedNote)> {
    let origin = note.lines().next().unwrap_or_default();
    let verifier = NoteVerifier::new(origin, m.key)?;
    Checkpoint::open(note, &verifier)
        .with_context(|| format!("{}'s head does not verify under its pinned key", m.name))
}

/// A hash sent as 64 hex digits.
pub fn hash_hex(s: &str) -> anyhow::Result<Hash> {
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h).with_context(|| format!("{s:?} is not a hex hash"))?;
    Ok(h)
}

/// Checks node `i`; `Ok` is the line to print, `Err` the first problem found.
fn check_node(
    ms: &[Member],
    heads: &[Value],
    witness: &[Value],
    i: usize,
) -> anyhow::Result<String> {
    let m = &ms[i];
    let head = &heads[i];
    let current = head["signed_head"]
        .as_str()
        .context("has no signed head yet")?;
    let (current, _) = open_head(m, current)?;
    let cosigned = head["cosigned_head"]
        .as_str()
        .context("no head of its ledger is cosigned by both peers")?;
    let (cosigned_cp, note) = open_head(m, cosigned)?;
    let mut parts = Vec::new();
    let mut cosigners = 0;
    let mut missing = Vec::new();
    for (j, peer) in ms.iter().enumerate().filter(|(j, _)| *j != i) {
        // The peer's witness name is its log origin (the first line of its own head).
        let peer_head = heads[j]["signed_head"]
            .as_str()
            .context("peer has no head")?;
        let name = peer_head.lines().next().unwrap_or_default();
        match CosignatureVerifier::new(name, peer.key)?.verify(&note) {
            Ok(_) => cosigners += 1,
            Err(_) => missing.push(peer.name.as_str()),
        }
        let log_key = hex::encode(m.key.as_bytes());
        let forks = witness[j]["forks"].as_array().cloned().unwrap_or_default();
        if let Some(f) = forks.iter().find(|f| f["log_key"] == log_key.as_str()) {
            bail!(
                "{} holds evidence of a fork of this ledger: {} (both signed heads kept at {})",
                peer.name,
                f["reason"].as_str().unwrap_or("?"),
                peer.name
            );
        }
        let seen = witness[j]["witnessed"]
            .as_array()
            .and_then(|w| w.iter().find(|e| e["log_key"] == log_key.as_str()))
            .with_context(|| format!("{} has witnessed nothing of it", peer.name))?;
        let size = seen["size"].as_u64().context("witnessed size")?;
        let root = hash_hex(seen["root"].as_str().context("witnessed root")?)?;
        if size > current.size {
            bail!(
                "{} witnessed {size} entries but the ledger now has {}: rolled back",
                peer.name,
                current.size
            );
        }
        let proof = fetch(
            m,
            &format!("/v1/consistency?old={size}&new={}", current.size),
        )?;
        let proof = proof["proof"]
            .as_array()
            .context("consistency proof")?
            .iter()
            .map(|h| hash_hex(h.as_str().unwrap_or_default()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        verify_consistency(size, current.size, &root, &current.root, &proof).with_context(
            || {
                format!(
                    "the head of size {} is not consistent with the size {size} {} witnessed",
                    current.size, peer.name
                )
            },
        )?;
        parts.push(format!("{} (witnessed {size})", peer.name));
    }
    let needed = WITNESSES.min(ms.len() - 1);
    if cosigners < needed {
        bail!(
            "head of size {} is cosigned by {cosigners} other nodes, not {needed}: no valid cosignature by {}",
            cosigned_cp.size,
            missing.join(", ")
        );
    }
    Ok(format!(
        "{}: size {}, cosigned at size {}, consistent with {}",
        m.name,
        current.size,
        cosigned_cp.size,
        parts.join(" and ")
    ))
}

/// Checks every node of the cluster whose config files are `configs` (node i's at i): per
/// node, `Ok` with a summary line or `Err` with the first problem found.
pub fn check_cluster(configs: &[PathBuf]) -> anyhow::Result<Vec<Result<String, String>>> {
    let ms = members(configs)?;
    let heads = ms
        .iter()
        .map(|m| fetch(m, "/v1/head"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let witness = ms
        .iter()
        .map(|m| fetch(m, "/v1/witness"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((0..ms.len())
        .map(|i| check_node(&ms, &heads, &witness, i).map_err(|e| format!("{}: {e:#}", ms[i].name)))
        .collect())
}

/// Prints the lines of [`check_cluster`]; returns whether every node passed.
pub fn print_checks(lines: Vec<Result<String, String>>) -> bool {
    let mut ok = true;
    for line in lines {
        match line {
            Ok(line) => println!("ok: {line}"),
            Err(e) => {
                ok = false;
                println!("FAILED: {e}");
            }
        }
    }
    ok
}

/// Prints one line per node of the cluster in `dir`; exit failure when any node fails.
pub fn run(dir: &Path) -> anyhow::Result<ExitCode> {
    // node0.toml, node1.toml, ... as `hdg init` writes them, up to the first missing one.
    let configs: Vec<PathBuf> = (0..)
        .map(|i| config_path(dir, i))
        .take_while(|p| p.exists())
        .collect();
    if configs.len() < 3 {
        bail!(
            "{} holds {} node configs (node0.toml, node1.toml, ...); a cluster has at least three",
            dir.display(),
            configs.len()
        );
    }
    let ok = print_checks(check_cluster(&configs)?);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
