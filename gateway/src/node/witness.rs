//! Witnessing between the nodes of a cluster: each node is a log whose heads every other node
//! cosigns, and a witness of every other node's log.
//!
//! As a **log**, [`run_witnessing`] offers the node's newest signed head to each peer that has
//! not cosigned it yet, with a consistency proof from the size that peer last witnessed
//! ([`Request::AddCheckpoint`]); a cosignature that verifies under the peer's pinned key is kept
//! with the head ([`Store::add_cosignature`]). As a **witness**, [`answer_checkpoint`] checks
//! the head is signed by the peer's pinned key and extends the last head it cosigned for that
//! peer ([`check_extension`]); it records the new head durably before cosigning, and refuses a
//! fork — a rolled-back or rewritten log — keeping both signed heads as evidence
//! ([`Store::record_fork`]) and logging it. `hdg verify --cluster` reads both sides.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::VerifyingKey;
use hdg_ledger::{
    Checkpoint, CosignatureVerifier, Hash, NoteVerifier, SignedNote, WitnessRefusal,
    check_extension, consistency_proof,
};
use hdg_storage::{ForkEvidence, Store, StoreError};
use hdg_wire::consortium::{Consortium, Member};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::state::{NodeState, pause, with_store};
use crate::clock::now;
use crate::net::identity::NodeKey;
use crate::net::peer::Peer;
use crate::net::rpc::{Request, Response};

/// How often a node offers its newest head to the peers that have not cosigned it.
pub const WITNESS_EVERY: Duration = Duration::from_millis(500);
/// How long a peer may take to answer an offer.
const OFFER_TIMEOUT: Duration = Duration::from_secs(5);

/// The note verifier of a peer's heads: the origin named in the note, the key TLS proved.
fn log_verifier(note: &str, key: &NodeKey) -> Result<NoteVerifier, String> {
    let text = SignedNote::parse(note)
        .map_err(|e| format!("the checkpoint is not a signed note: {e}"))?
        .text;
    let origin = text.lines().next().unwrap_or_default();
    let key = VerifyingKey::from_bytes(key).map_err(|e| format!("pinned key: {e}"))?;
    NoteVerifier::new(origin, key).map_err(|e| format!("the checkpoint's origin: {e}"))
}

/// Decodes a proof sent as hex hashes.
fn decode_proof(proof: &[String]) -> Result<Vec<Hash>, String> {
    proof
        .iter()
        .map(|h| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h, &mut out)
                .map(|()| out)
                .map_err(|_| format!("proof hash {h:?} is not 64 hex digits"))
        })
        .collect()
}

/// The parsed checkpoint of a stored note (verified when it was stored).
pub(crate) fn stored_checkpoint(note: &str) -> Result<Checkpoint, StoreError> {
    let bad = |e: &dyn std::fmt::Display| StoreError::Corrupt {
        what: "witnessed head".into(),
        reason: e.to_string(),
    };
    let text = SignedNote::parse(note).map_err(|e| bad(&e))?.text;
    Checkpoint::parse(&text).map_err(|e| bad(&e))
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The witness's answer to `from`'s offer of `note` with a consistency `proof` from
/// `old_size` (see the module doc).
pub async fn answer_checkpoint(
    state: &Arc<NodeState>,
    from: &Peer,
    old_size: u64,
    proof: &[String],
    note: String,
) -> Response {
    let Some(log) = state.consortium.member(from.node).map(|m| m.key) else {
        let reason = format!("{from} is not a node of this cluster");
        return Response::Error { reason };
    };
    let opened = log_verifier(&note, &log).and_then(|verifier| {
        Checkpoint::open(&note, &verifier)
            .map(|(cp, _)| cp)
            .map_err(|e| format!("the checkpoint does not verify under {from}'s key: {e}"))
    });
    let (presented, proof) = match opened.and_then(|cp| Ok((cp, decode_proof(proof)?))) {
        Ok(p) => p,
        Err(reason) => {
            warn!(peer = %from, %reason, "checkpoint refused");
            return Response::Error { reason };
        }
    };
    let witness = state.clone();
    let from = from.clone();
    let outcome = with_store(state, move |store| {
        let witnessed = store.witnessed(&log)?;
        let old = witnessed.as_deref().map(stored_checkpoint).transpose()?;
        match check_extension(old.as_ref(), &presented, old_size, &proof) {
            Ok(()) => {
                // Remember before vouching: a crash after cosigning must not forget the head.
                store.set_witnessed(&log, &note)?;
                let line = witness
                    .cosigner
                    .cosign(&presented.to_text(), unix_seconds())
                    .map_err(|e| StoreError::Corrupt {
                        what: "cosignature".into(),
                        reason: e.to_string(),
                    })?
                    .to_line();
                Ok(Response::Cosigned { cosignature: line })
            }
            Err(WitnessRefusal::Conflict { witnessed, .. }) => {
                Ok(Response::WitnessConflict { witnessed })
            }
            Err(WitnessRefusal::Fork(kind)) => {
                let reason = kind.to_string();
                let evidence = ForkEvidence {
                    log,
                    detected_ms: now().0,
                    reason: reason.clone(),
                    witnessed: witnessed.unwrap_or_default(),
                    presented: note,
                };
                if store.record_fork(&evidence)? {
                    error!(peer = %from, %reason, "fork: refusing to cosign the peer's head; both signed heads kept as evidence");
                }
                Ok(Response::WitnessFork { reason })
            }
        }
    })
    .await;
    outcome.unwrap_or_else(|reason| Response::Error { reason })
}

/// The log's side: until `stop`, offers the newest head to every peer that has not cosigned
/// it (and once per run to every peer), each with a proof from the size that peer is known to
/// have witnessed.
pub async fn run_witnessing(state: Arc<NodeState>, mut stop: watch::Receiver<bool>) {
    let peers: Vec<Member> = state.consortium.others(state.node).cloned().collect();
    // What each peer last witnessed, as far as this run knows (a restart learns it again from
    // the peer's first conflict answer).
    let mut known = vec![0u64; peers.len()];
    let mut complaint: Vec<Option<String>> = vec![None; peers.len()];
    loop {
        if pause(&mut stop, WITNESS_EVERY).await {
            return;
        }
        let note = state
            .head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(note) = note else { continue };
        let head = match stored_checkpoint(&note) {
            Ok(cp) => cp,
            Err(e) => {
                warn!(reason = %e, "cannot read this node's own head");
                continue;
            }
        };
        for (i, member) in peers.iter().enumerate() {
            let peer = Peer::of(member);
            match offer(&state, member, &mut known[i], &head, &note).await {
                Ok(false) => {}
                Ok(true) => {
                    if complaint[i].take().is_some() {
                        info!(%peer, size = head.size, "the peer cosigns this node's head again");
                    }
                    debug!(%peer, size = head.size, "head cosigned");
                }
                Err(reason) => {
                    if complaint[i].as_deref() != Some(reason.as_str()) {
                        warn!(%peer, %reason, "the peer did not cosign this node's head");
                        complaint[i] = Some(reason);
                    }
                }
            }
        }
    }
}

/// Offers `note` (whose checkpoint is `head`) to `peer`; `Ok(true)` when a new cosignature was
/// kept, `Ok(false)` when the peer had cosigned it already.
async fn offer(
    state: &Arc<NodeState>,
    member: &Member,
    known: &mut u64,
    head: &Checkpoint,
    note: &str,
) -> Result<bool, String> {
    let (peer, witness) = (Peer::of(member), member.key);
    let height = head.height;
    // Offered once per run even when cosigned before: a store restored from an old copy still
    // holds its old cosignatures, and its peers must get the chance to notice the rollback.
    if *known == head.size
        && with_store(state, move |s| s.has_cosignature(height, &witness)).await?
    {
        return Ok(false);
    }
    // At most one retry: after a conflict the peer's witnessed size is known.
    for _ in 0..2 {
        if *known > head.size {
            return Err(format!(
                "{peer} already witnessed {known} entries of this node's ledger, which now has {}: \
                 this node's store was rolled back or replaced",
                head.size
            ));
        }
        let (old, size) = (*known, head.size);
        let proof = with_store(state, move |s| {
            consistency_proof(&s.nodes(), old, size).map_err(|e| StoreError::Corrupt {
                what: "ledger".into(),
                reason: e.to_string(),
            })
        })
        .await?;
        let request = Request::AddCheckpoint {
            old_size: old,
            proof: proof.iter().map(hex::encode).collect(),
            checkpoint: note.to_string(),
        };
        match state
            .links
            .request(member.id, &request, OFFER_TIMEOUT)
            .await
        {
            Ok(Response::Cosigned { cosignature }) => {
                check_cosignature(note, &cosignature, &witness)
                    .map_err(|e| format!("{peer} returned a bad cosignature: {e}"))?;
                with_store(state, move |s| {
                    s.add_cosignature(height, &witness, &cosignature)
                })
                .await?;
                *known = head.size;
                return Ok(true);
            }
            Ok(Response::WitnessConflict { witnessed }) => *known = witnessed,
            Ok(Response::WitnessFork { reason }) => {
                return Err(format!(
                    "{peer} reports a fork of this node's ledger: {reason}"
                ));
            }
            Ok(other) => return Err(format!("unexpected answer {other:?}")),
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!("{peer} kept answering with another witnessed size"))
}

/// Checks `line` is a cosignature of `note` by `witness` (any name: the key id binds it).
fn check_cosignature(note: &str, line: &str, witness: &NodeKey) -> Result<(), String> {
    let name = line
        .strip_prefix("— ")
        .and_then(|rest| rest.split_once(' '))
        .map(|(name, _)| name)
        .ok_or("not a signature line")?;
    let key = VerifyingKey::from_bytes(witness).map_err(|e| e.to_string())?;
    let verifier = CosignatureVerifier::new(name, key).map_err(|e| e.to_string())?;
    let signed = SignedNote::parse(&format!("{note}{line}")).map_err(|e| e.to_string())?;
    verifier
        .verify(&signed)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Witness state for `GET /v1/witness`: what this node last cosigned for each peer, and the
/// forks it refused.
pub fn witness_report(
    store: &Store,
    cluster: &Consortium,
) -> Result<serde_json::Value, StoreError> {
    let party_of = |key: &[u8; 32]| {
        cluster
            .by_key(key)
            .and_then(|m| m.roles.party)
            .map(|p| p.index())
    };
    let node_of = |key: &[u8; 32]| cluster.by_key(key).map(|m| m.id.0);
    let mut witnessed = Vec::new();
    for (log, note) in store.witnessed_all()? {
        let cp = stored_checkpoint(&note)?;
        witnessed.push(serde_json::json!({
            "party": party_of(&log),
            "node": node_of(&log),
            "log_key": hex::encode(log),
            "size": cp.size,
            "root": hex::encode(cp.root),
            "signed_head": note,
        }));
    }
    let forks: Vec<_> = store
        .forks()?
        .into_iter()
        .map(|f| {
            serde_json::json!({
                "party": party_of(&f.log),
                "node": node_of(&f.log),
                "log_key": hex::encode(f.log),
                "detected_ms": f.detected_ms,
                "reason": f.reason,
                "witnessed": f.witnessed,
                "presented": f.presented,
            })
        })
        .collect();
    Ok(serde_json::json!({ "witnessed": witnessed, "forks": forks }))
}
