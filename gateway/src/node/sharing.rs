//! Ingest into shares: the outbox worker that secret-shares a hospital's committed numeric
//! observations to the three computing parties, and the handler of every request peers send
//! (share batches stored here, the rest handed to their endpoints), each admitted by the roles
//! of its sender and of this node ([`super::peer_rules`]).
//!
//! Every numeric observation to be shared is queued in the store's outbox in the same write as
//! its record ([`hdg_storage::Store::commit_sharing`]; with consent required, only once a consent
//! covers it — until then it is held, and a grant releases it, see
//! [`super::consent_endpoint`]). The worker takes pending observations in
//! batches, splits each value x (its fixed-point integer, as a ring element mod 2^64) into
//! x = x0 + x1 + x2 and gives party i the pair (x_i, x_{i+1}): one [`Request::ShareBatch`] per
//! computing party per batch over QUIC (its own rows committed locally when this node is one of
//! them). Only when all three parties have acknowledged does it remove the batch from the outbox; a peer that is down is retried with
//! backoff while the observations stay committed here and queued.
//!
//! An idle worker woken by an ingest lingers until ingests are quiet for a moment (bounded) or
//! a full batch is waiting, so bursts of small requests share in few batches while a large
//! ingest is shared as it arrives; a busy or retrying worker never lingers.
//!
//! What a row carries besides the pair: the record's handle (never its id, which is a hash of
//! low-entropy content), the indicator, the UTC day of the effective time (never the instant)
//! and the patient's pseudonym — the least the query rules need (see SECURITY.md).
//!
//! Consistency of retries: the split is deterministic. x1 and x2 are the output of BLAKE3 keyed
//! with this node's split key (derived from its master key, sealed at rest) and the record's
//! handle, so a retry — after a crash, a restart or a peer outage — sends exactly the shares the
//! first attempt sent. Receivers keep the first rows they get per record
//! ([`hdg_storage::Store::commit_shares`] is idempotent), so the three parties always hold
//! pairs of one and the same split, never a mix of two. x1 and x2 are pseudorandom to anyone
//! without the node's key, so any two of the three shares a party sees reveal nothing of x.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hdg_mpc::PartyId;
use hdg_schema::{Observation, RecordHandle, Timestamp, Value};
use hdg_storage::{Pending, SecretKey, ShareRow};
use hdg_wire::consortium::Roles;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use super::audit::answer_audit;
use super::consent_endpoint::answer_consent;
use super::erasure_endpoint::{answer_erasure, answer_probe};
use super::peer_rules::admits;
use super::query_party::answer_query;
use super::registry_change::answer_registry_change;
use super::state::{NodeState, pause, with_store};
use super::witness::answer_checkpoint;
use crate::clock::now;
use crate::net::identity::NodeKey;
use crate::net::peer::Peer;
use crate::net::rpc::{Request, Response, RpcCall};
use crate::net::share_batch::WireShare;

/// Observations shared per batch (one message per peer per batch).
pub const SHARE_BATCH: usize = 8192;
/// How long a peer may take to store and acknowledge one batch.
const ACK_TIMEOUT: Duration = Duration::from_secs(20);
/// First pause after a failed round; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// After an idle worker is woken by an ingest, it waits until no ingest has woken it for this
/// long (or [`MAX_LINGER`] passed) before sharing, so a burst of small ingests is shared in one
/// batch: one message per peer and one receipt in each party's ledger instead of one per request.
const LINGER: Duration = Duration::from_secs(2);
/// Longest an idle worker lingers after the first wake-up.
const MAX_LINGER: Duration = Duration::from_secs(10);
/// How often an idle worker looks at the outbox even without a wake-up.
const IDLE_POLL: Duration = Duration::from_secs(2);
/// Splits values into replicated shares deterministically per record (see the module doc).
pub struct ShareSplitter {
    key: SecretKey,
}

impl ShareSplitter {
    /// The splitter keyed with `key` (the store's [`hdg_storage::Store::share_split_key`]).
    pub fn new(key: SecretKey) -> ShareSplitter {
        ShareSplitter { key }
    }

    /// The three parties' pairs of `value` for the record `handle`: party i gets
    /// (x_i, x_{i+1 mod 3}), with x0 + x1 + x2 = value (mod 2^64).
    pub fn split(&self, handle: &RecordHandle, value: u64) -> [(u64, u64); 3] {
        let mut mask = Zeroizing::new([0u8; 16]);
        blake3::Hasher::new_keyed(self.key.expose())
            .update(&handle.0)
            .finalize_xof()
            .fill(mask.as_mut_slice());
        let x1 = u64::from_le_bytes(mask[..8].try_into().expect("8 bytes"));
        let x2 = u64::from_le_bytes(mask[8..].try_into().expect("8 bytes"));
        let x0 = value.wrapping_sub(x1).wrapping_sub(x2);
        [(x0, x1), (x1, x2), (x2, x0)]
    }
}

/// An observation's value as a ring element: its fixed-point integer mod 2^64; `None` when
/// it is not numeric.
pub fn ring_value(obs: &Observation) -> Option<u64> {
    match obs.value {
        Value::Quantity(v) => Some(v as u64),
        _ => None,
    }
}

/// Each party's rows of `batch` (the outbox's pending observations; a non-numeric one, which
/// the outbox never holds, is simply not shared).
pub fn rows_for(splitter: &ShareSplitter, batch: &[Pending]) -> [Vec<WireShare>; 3] {
    let mut rows: [Vec<WireShare>; 3] = Default::default();
    for Pending {
        handle,
        observation: obs,
        ..
    } in batch
    {
        let Some(x) = ring_value(obs) else { continue };
        let pairs = splitter.split(handle, x);
        for (party, pair) in pairs.into_iter().enumerate() {
            rows[party].push(WireShare {
                handle: *handle,
                indicator: obs.indicator.clone(),
                day: obs.effective.utc_day().0,
                patient: obs.patient,
                party: party as u8,
                pair,
            });
        }
    }
    rows
}

/// Stores `rows` (all this party's) received from the node with key `from_node`, updates the
/// cached ledger figures and answers with the acknowledgement.
async fn store_rows(state: &Arc<NodeState>, rows: Vec<ShareRow>, from_node: NodeKey) -> Response {
    let cached = state.clone();
    let outcome = with_store(state, move |store| {
        let receipt = store.commit_shares(&rows, from_node, now())?;
        cached.ledger_written(store, receipt.checkpoint.clone());
        Ok(receipt)
    })
    .await;
    match outcome {
        Ok(r) => Response::ShareAck {
            stored: r.stored.len() as u64,
            duplicates: r.duplicates.len() as u64,
            dropped: r.dropped.len() as u64,
            leaf_index: r.leaf_index,
            signed_head: r.checkpoint,
        },
        Err(reason) => Response::Error {
            reason: format!("cannot store the shares: {reason}"),
        },
    }
}

fn to_row(w: &WireShare) -> ShareRow {
    ShareRow {
        handle: w.handle,
        indicator: w.indicator.clone(),
        day: Timestamp(w.day),
        patient: w.patient,
        party: w.party,
        pair: w.pair,
    }
}

/// Answers the requests of the pinned peers until the links stop delivering them, each only
/// when the roles of its sender and of this node admit it ([`admits`]).
pub async fn serve_peers(state: Arc<NodeState>, mut inbox: mpsc::Receiver<RpcCall>) {
    let me = Roles {
        hospital: state.hospital,
        party: state.party,
    };
    while let Some(call) = inbox.recv().await {
        let from = call.from.clone();
        let Some(sender) = state.consortium.member(from.node).cloned() else {
            let reason = format!("{from} is not a node of this cluster");
            let _ = call.reply.send(Response::Error { reason });
            continue;
        };
        if let Err(rule) = admits(&call.request, sender.roles, me) {
            warn!(peer = %from, %rule, "peer request refused");
            let reason = format!("refused from {from}: {rule}");
            let _ = call.reply.send(Response::Error { reason });
            continue;
        }
        if let Request::Query { signed, session } = &call.request {
            let (signed, session) = (signed.clone(), *session);
            let state = state.clone();
            tokio::spawn(async move {
                let response = match answer_query(&state, &signed, session, true).await {
                    Ok(answer) => Response::QueryAnswer {
                        answer: Box::new(answer),
                    },
                    Err(r) => {
                        debug!(peer = %from, status = r.status, "query from coordinator refused");
                        Response::QueryRefused {
                            status: r.status,
                            reason: r.reason,
                        }
                    }
                };
                let _ = call.reply.send(response);
            });
            continue;
        }
        let response = match &call.request {
            Request::Query { .. } => unreachable!("queries are answered above"),
            Request::Consent { signed } => answer_consent(&state, signed).await,
            Request::Audit { signed } => answer_audit(&state, signed).await,
            Request::Erasure { request } => answer_erasure(&state, request).await,
            Request::ErasureProbe { request } => answer_probe(&state, request).await,
            Request::RegistryChange { request } => answer_registry_change(&state, request).await,
            Request::AddCheckpoint {
                old_size,
                proof,
                checkpoint,
            } => answer_checkpoint(&state, &from, *old_size, proof, checkpoint.clone()).await,
            Request::ShareBatch { from_node, rows } => {
                let party = state.party.expect("admitted to a computing party only");
                match check_batch(party, &from, *from_node, rows) {
                    Err(reason) => {
                        warn!(peer = %from, %reason, "share batch refused");
                        Response::Error { reason }
                    }
                    Ok(()) => {
                        let rows: Vec<ShareRow> = rows.iter().map(to_row).collect();
                        let n = rows.len();
                        let r = store_rows(&state, rows, sender.key).await;
                        debug!(peer = %from, rows = n, "share batch stored");
                        r
                    }
                }
            }
        };
        let _ = call.reply.send(response);
    }
}

/// A batch from `peer` (as TLS proved) is acceptable: it names its sender truly and every
/// row is for this party `me`. `Err` names the problem.
fn check_batch(me: PartyId, peer: &Peer, from_node: u16, rows: &[WireShare]) -> Result<(), String> {
    if from_node != peer.node.0 {
        return Err(format!(
            "batch claims to come from node {from_node} but the link is to {peer}"
        ));
    }
    if let Some(bad) = rows.iter().find(|r| usize::from(r.party) != me.index()) {
        return Err(format!(
            "row {} is for party {}, not this party {me}",
            bad.handle, bad.party
        ));
    }
    Ok(())
}

/// The outbox worker: shares pending observations until `stop` turns true (see the module doc).
pub async fn run_outbox(
    state: Arc<NodeState>,
    splitter: ShareSplitter,
    own_key: NodeKey,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        if *stop.borrow() {
            return;
        }
        let pending = match with_store(&state, |s| s.outbox_pending(SHARE_BATCH)).await {
            Ok(p) => p,
            Err(reason) => {
                warn!(%reason, "cannot read the outbox");
                if pause(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if pending.is_empty() {
            tokio::select! {
                _ = state.outbox_wake.notified() => {
                    if linger(&state, &mut stop).await {
                        return;
                    }
                }
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        let entries: Vec<u64> = pending.iter().map(|p| p.leaf_index).collect();
        let rows = rows_for(&splitter, &pending);
        match share_round(&state, rows, own_key).await {
            Ok(()) => {
                let shared = entries.len();
                match with_store(&state, move |s| {
                    s.outbox_done(&entries)?;
                    s.outbox_len()
                })
                .await
                {
                    Ok(left) => {
                        state.outbox_len.store(left, Ordering::Release);
                        info!(shared, outbox = left, "observations shared");
                        backoff = FIRST_BACKOFF;
                    }
                    Err(reason) => warn!(%reason, "cannot clear the outbox"),
                }
            }
            Err(failures) => {
                for reason in failures {
                    warn!(%reason, retry_in = ?backoff, "sharing not acknowledged");
                }
                if pause(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Waits until ingests have been quiet for [`LINGER`], at most [`MAX_LINGER`]; true when
/// `stop` turned true meanwhile.
async fn linger(state: &NodeState, stop: &mut watch::Receiver<bool>) -> bool {
    let until = tokio::time::Instant::now() + MAX_LINGER;
    loop {
        // A full batch is waiting: share it now, alongside the ingests still coming.
        if state.outbox_len.load(Ordering::Acquire) >= SHARE_BATCH as u64 {
            return *stop.borrow();
        }
        tokio::select! {
            _ = state.outbox_wake.notified() => {}
            _ = tokio::time::sleep(LINGER) => return *stop.borrow(),
            _ = tokio::time::sleep_until(until) => return *stop.borrow(),
            _ = stop.changed() => return true,
        }
    }
}

/// Sends each computing party its rows (committed here when this node is that party),
/// concurrently; `Ok` when all three acknowledged, else the failures, each naming the party.
async fn share_round(
    state: &Arc<NodeState>,
    rows: [Vec<WireShare>; 3],
    own_key: NodeKey,
) -> Result<(), Vec<String>> {
    let mut tasks = Vec::new();
    for (party, rows) in PartyId::ALL.into_iter().zip(rows) {
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            if state.party == Some(party) {
                let own: Vec<ShareRow> = rows.iter().map(to_row).collect();
                match store_rows(&state, own, own_key).await {
                    Response::Error { reason } => Err(format!("this party: {reason}")),
                    _ => Ok(()),
                }
            } else {
                let peer = party;
                let expected = rows.len() as u64;
                let request = Request::ShareBatch {
                    from_node: state.node.0,
                    rows,
                };
                let node = state.links.node_of(peer);
                match state.links.request(node, &request, ACK_TIMEOUT).await {
                    Ok(Response::ShareAck {
                        stored,
                        duplicates,
                        dropped,
                        ..
                    }) if stored + duplicates + dropped == expected => Ok(()),
                    Ok(other) => Err(format!("{peer} answered unexpectedly: {other:?}")),
                    Err(e) => Err(e.to_string()),
                }
            }
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => failures.push(reason),
            Err(e) => failures.push(format!("sharing task failed: {e}")),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn splits_reconstruct_agree_and_repeat(seed in any::<[u8; 32]>(), id in any::<[u8; 32]>(), x in any::<u64>()) {
            let s = ShareSplitter::new(SecretKey::from_bytes(seed));
            let record = RecordHandle(id);
            let pairs = s.split(&record, x);
            for i in 0..3 {
                let sum = pairs[i].0.wrapping_add(pairs[(i + 1) % 3].0).wrapping_add(pairs[(i + 2) % 3].0);
                prop_assert_eq!(sum, x);
                prop_assert_eq!(pairs[i].1, pairs[(i + 1) % 3].0);
            }
            prop_assert_eq!(s.split(&record, x), pairs);
        }
    }

    #[test]
    fn other_nodes_and_records_get_other_masks() {
        let a = ShareSplitter::new(SecretKey::from_bytes([1; 32]));
        let b = ShareSplitter::new(SecretKey::from_bytes([2; 32]));
        let r = RecordHandle([5; 32]);
        assert_ne!(a.split(&r, 7)[1], b.split(&r, 7)[1]);
        assert_ne!(a.split(&r, 7)[1], a.split(&RecordHandle([6; 32]), 7)[1]);
    }

    #[test]
    fn batches_for_another_party_or_from_a_false_sender_are_refused() {
        let row = |party| WireShare {
            handle: RecordHandle([1; 32]),
            indicator: "8867-4".into(),
            day: 0,
            patient: hdg_schema::Pseudonym([2; 32]),
            party,
            pair: (1, 2),
        };
        // node 7, a hospital that does not compute, sends party P1 its rows.
        let hospital = Peer {
            node: hdg_wire::consortium::NodeId(7),
            party: None,
            name: "node7".into(),
        };
        assert!(check_batch(PartyId::P1, &hospital, 7, &[row(1)]).is_ok());
        let e = check_batch(PartyId::P1, &hospital, 7, &[row(2)]).unwrap_err();
        assert!(e.contains("party 2"), "{e}");
        let e = check_batch(PartyId::P1, &hospital, 0, &[row(1)]).unwrap_err();
        assert!(
            e.contains("claims to come from node 0") && e.contains("node7"),
            "{e}"
        );
    }
}
