//! What the API handlers share: the store (one writer, behind a mutex, `None` once the node has
//! closed it), cached ledger figures that health and head read without touching RocksDB, the
//! peer links, the identity registry and the witness key; [`with_store`] and [`pause`] for the
//! workers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use hdg_ledger::Cosigner;
use hdg_mpc::PartyId;
use hdg_schema::{Enrolments, PseudonymKey};
use hdg_storage::{Store, StoreError};
use hdg_wire::consortium::{Consortium, NodeId};
use tokio::sync::{Notify, Semaphore, watch};

use super::consent_cache::ConsentCache;
use super::query::run::QueryPolicy;
use super::rate_limit::RateLimiter;
use super::registry::{Registry, Role};
use super::replay::ReplayCache;
use super::signed::{Kind, RequestError, SignedRequest, VerifiedRequest, registered, verify};
use crate::clock::now;
use crate::net::identity::NodeKey;
use crate::net::links::PeerLinks;
use crate::net::peer::Peer;
use crate::net::rpc::{Request, Response, RpcError};

/// A running node's shared state.
pub struct NodeState {
    /// The node's name.
    pub name: String,
    /// Its id in the cluster.
    pub node: NodeId,
    /// The computing party it is, if it computes.
    pub party: Option<PartyId>,
    /// Whether it holds records (ingest, enrolment, raw access, sharing).
    pub hospital: bool,
    /// The cluster: every node, its roles and its key.
    pub consortium: Arc<Consortium>,
    /// The store; taken (and so closed) at shutdown.
    pub store: Mutex<Option<Store>>,
    /// Ledger size, updated after every commit.
    pub tree_size: AtomicU64,
    /// The latest signed head, updated after every commit.
    pub head: Mutex<Option<String>>,
    /// The verifier key of the node's signed heads.
    pub vkey: String,
    /// The node-to-node QUIC links.
    pub links: Arc<PeerLinks>,
    /// The registered identities (the file's, with the approved changes applied).
    pub registry: RwLock<Registry>,
    /// How many node administrators must approve a registry change.
    pub registry_quorum: usize,
    /// Largest request body accepted, bytes.
    pub max_body: usize,
    /// Observations still to be shared (the outbox), updated after every ingest and share round.
    pub outbox_len: AtomicU64,
    /// Wakes the outbox worker after an ingest queued new observations.
    pub outbox_wake: Notify,
    /// The (signer, nonce) pairs of the signed requests this node accepted (its own cache:
    /// a request forwarded by a coordinator is checked against this node's cache, not theirs).
    pub replay: Mutex<ReplayCache>,
    /// Longest a query may take end to end at the coordinator before it answers 504.
    pub query_timeout: Duration,
    /// The cluster's rules for queries (the minimum cohort).
    pub policy: QueryPolicy,
    /// How far a signed request's time may be from this node's clock.
    pub clock_skew: Duration,
    /// The patients enrolled at this node (pseudonymised by their keys at ingest): the
    /// enrolments file's with the enrolments since applied; an ingest takes the links in force
    /// when it starts.
    pub enrolled: RwLock<Arc<Enrolments>>,
    /// The key of this node's pseudonyms of patient references (as the importer derives them).
    pub pseudonyms: PseudonymKey,
    /// Held while an enrolment is checked, stored and applied, so two never both pass their
    /// checks against the same links.
    pub enrolment_changes: tokio::sync::Mutex<()>,
    /// The three computing parties' node keys, in party order: they sign verdicts and
    /// answers.
    pub pins: [NodeKey; 3],
    /// This node's witness key: cosigns the peers' heads (the node key, under its origin).
    pub cosigner: Cosigner,
    /// The node's ed25519 identity: signs this party's answers to queries.
    pub node_key: SigningKey,
    /// The verified consents, rebuilt only when one was stored since.
    pub consents: ConsentCache,
    /// Each signer's allowance of signed requests per kind.
    pub limits: RateLimiter,
    /// One permit per query this party may run at once.
    pub query_slots: Semaphore,
    /// Held while a registry change is checked, stored and applied, so two changes never both
    /// pass their checks against the same registry.
    pub registry_changes: tokio::sync::Mutex<()>,
    /// Erasure requests (by digest) this node's endpoint is forwarding to its peers right now:
    /// queued for them in the same write as the erasure (so a crash loses none), and left to
    /// the endpoint until it has its answers, so the delivery worker does not send a second
    /// copy meanwhile (the peer would report the endpoint's own copy as already erased).
    pub erasures_forwarding: Mutex<std::collections::HashSet<[u8; 32]>>,
}

impl NodeState {
    /// Refreshes the cached ledger figures (health, head, the witness loop read them) after a
    /// write to `store` that closed the signed head `head`, if it closed one.
    pub fn ledger_written(&self, store: &Store, head: Option<String>) {
        self.tree_size.store(store.tree_size(), Ordering::Release);
        if head.is_some() {
            *self.head.lock().unwrap_or_else(PoisonError::into_inner) = head;
        }
    }

    /// Admits `signed` as a request of `kind` from a key registered as `role`: signature,
    /// clock-skew window and replay log at this node's clock, then the signer's rate. The one
    /// door every singly signed request comes through.
    pub fn admit(
        &self,
        signed: &SignedRequest,
        kind: Kind,
        role: Role,
    ) -> Result<VerifiedRequest, RequestError> {
        // Lock order as everywhere: the replay cache, then the registry.
        let mut cache = self.replay.lock().unwrap_or_else(PoisonError::into_inner);
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        let verified = verify(
            signed,
            kind,
            now(),
            self.clock_skew,
            registered(&registry, role),
            &mut cache,
        )?;
        self.charge(kind, verified.signer.as_bytes())?;
        Ok(verified)
    }

    /// Charges one verified request of `kind` by `signer` against its rate (429 beyond it).
    pub fn charge(&self, kind: Kind, signer: &[u8; 32]) -> Result<(), RequestError> {
        self.limits
            .charge(kind, signer, now().0)
            .map_err(|retry_ms| RequestError::TooMany { retry_ms })
    }

    /// Sends `request` to every other node of the cluster at once; each answer (or why there
    /// is none) with its node, in node order.
    pub async fn ask_others(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Vec<(Peer, Result<Response, RpcError>)> {
        let asks = self.consortium.others(self.node).map(|m| async move {
            (
                Peer::of(m),
                self.links.request(m.id, request, timeout).await,
            )
        });
        futures_util::future::join_all(asks).await
    }

    /// This node's position in the cluster's node order (the index of its entry in the
    /// per-node arrays answers carry: `ledger_index`, audit reports).
    pub fn position(&self) -> usize {
        self.position_of(self.node)
    }

    /// The position of node `id` in the cluster's node order.
    pub fn position_of(&self, id: NodeId) -> usize {
        self.consortium
            .members()
            .iter()
            .position(|m| m.id == id)
            .expect("a node of the cluster")
    }

    /// The computing party this node is, or the refusal a request that only parties answer
    /// gets here (409, naming the parties to ask instead).
    pub fn computing_party(&self) -> Result<PartyId, String> {
        self.party.ok_or_else(|| {
            let parties: Vec<String> = PartyId::ALL
                .iter()
                .map(|p| self.consortium.party(*p).to_string())
                .collect();
            format!(
                "{} does not compute; the computing parties are {}",
                self.name,
                parties.join(", ")
            )
        })
    }
}

/// Runs `f` on the store on a blocking thread; `Err` names why it could not.
pub(crate) async fn with_store<T: Send + 'static>(
    state: &Arc<NodeState>,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = state
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let store = guard
            .as_mut()
            .ok_or_else(|| "the node is shutting down".to_string())?;
        f(store).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("store task failed: {e}"))?
}

/// Sleeps `d`; true when `stop` turned true meanwhile.
pub(crate) async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}
