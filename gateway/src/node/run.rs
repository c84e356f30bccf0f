//! Running a node: open the store, bind the QUIC links with the peers pinned, serve the HTTP
//! API, keep the links up, share committed values and store the peers' shares
//! ([`super::sharing`]), have the peers cosign this node's heads and cosign theirs
//! ([`super::witness`]); on SIGINT/SIGTERM stop accepting, stop the outbox worker, finish in-flight requests (within
//! a grace period), close the QUIC endpoint and close RocksDB by dropping the store.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, bail};
use hdg_ledger::Cosigner;
use hdg_schema::{Enrolments, PseudonymKey};
use hdg_storage::Store;
use hdg_wire::consortium::{Consortium, NodeId};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, Semaphore, watch};
use tracing::{debug, info, warn};

use super::api::router;
use super::config::{Checked, NodeConfig};
use super::consent_cache::ConsentCache;
use super::delivery::run_deliveries;
use super::enrolment::with_stored;
use super::query::run::QueryPolicy;
use super::rate_limit::RateLimiter;
use super::registry::{Registry, Role, load_enrolments};
use super::registry_change::replay_changes;
use super::replay::ReplayCache;
use super::sharing::{ShareSplitter, run_outbox, serve_peers};
use super::state::NodeState;
use super::tls_listener::TlsListener;
use super::witness::run_witnessing;
use crate::clock::now;
use crate::net::ca::{load_certificates, load_private_key};
use crate::net::identity::{NodeKey, TlsIdentity};
use crate::net::links::{LinkConfig, PeerLinks};
use crate::net::pinning::api_server_config;
use crate::net::tap::WireTap;

/// How long in-flight requests may take to finish after a stop signal.
const GRACE: Duration = Duration::from_secs(10);
/// How long the QUIC endpoint may take to close its connections.
const QUIC_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long the outbox worker may take to finish its round after a stop signal.
const OUTBOX_STOP_GRACE: Duration = Duration::from_secs(3);
/// Pause between attempts to (re)connect the peers.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// Runs the node configured in `config_file` until SIGINT or SIGTERM.
pub fn run(config_file: &Path) -> anyhow::Result<()> {
    let checked = NodeConfig::load(config_file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(checked))
}

async fn serve(checked: Checked) -> anyhow::Result<()> {
    let mut sigterm = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let config = checked.config.clone();
    let catalog = hdg_client::catalog_extension::activate(config.catalog_extension.as_deref())?;
    info!(
        indicators = catalog.len(),
        digest = %hex::encode(&catalog.digest()[..8]),
        "catalog"
    );
    let mut registry = Registry::load(&config.identities)?;
    let data = config.data.clone();
    let keys = config.key_source()?;
    let store = tokio::task::spawn_blocking(move || Store::open(&data, false, &keys))
        .await?
        .with_context(|| format!("cannot open the store in {}", config.data.display()))?;
    let pseudonyms = PseudonymKey::derive(&store.pseudonym_key());
    let enrolled = match &config.enrolments {
        Some(file) => load_enrolments(file, &pseudonyms)?,
        None => Enrolments::default(),
    };
    let stored = tokio::task::block_in_place(|| store.enrolments())?;
    let enrolled = with_stored(enrolled, &stored);
    let node_key = store.node_signing_key();
    let splitter = ShareSplitter::new(store.share_split_key());
    let identity = TlsIdentity::from_signing_key(&node_key)?;
    let cluster = Arc::new(consortium(&checked, identity.public_key())?);
    let pins = cluster.party_keys();
    let me = checked.node_id();
    let tap = match &config.wire_tap {
        Some(path) => {
            warn!(
                file = %path.display(),
                "wire tap on: every message from the peers, shares included, is written to this file in the clear; a test instrument, never for production"
            );
            Some(
                WireTap::open(path)
                    .with_context(|| format!("cannot open the wire tap {}", path.display()))?,
            )
        }
        None => None,
    };
    let link_config = LinkConfig {
        connect_timeout: Duration::from_secs(3),
        tap,
        ..LinkConfig::default()
    };
    let links = Arc::new(
        PeerLinks::bind(
            me,
            &identity,
            cluster.clone(),
            config.quic_listen,
            link_config,
        )
        .with_context(|| format!("QUIC endpoint on {}", config.quic_listen))?,
    );
    let listener = TcpListener::bind(config.http_listen)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", config.http_listen))?;
    let head = tokio::task::block_in_place(|| store.latest_head())?;
    let changes = tokio::task::block_in_place(|| store.registry_changes())?;
    replay_changes(&mut registry, &changes, config.registry_quorum)
        .map_err(|e| anyhow::anyhow!("the registry's stored changes: {e}"))?;
    let registry_counts = [Role::Researcher, Role::Patient].map(|r| registry.count(r));
    let cosigner = Cosigner::new(store.origin(), node_key.clone())
        .context("the store's origin is not a valid witness name")?;
    let outbox_len = tokio::task::block_in_place(|| store.outbox_len())?;
    // The requests accepted before a restart stay refused as replays after it.
    let skew_ms = i64::try_from(config.clock_skew_ms).unwrap_or(i64::MAX);
    let replay = tokio::task::block_in_place(|| {
        ReplayCache::persistent(store.replay_log(), now().0.saturating_sub(skew_ms))
    })
    .context("cannot load the replay log")?;
    let state = Arc::new(NodeState {
        name: config.name.clone(),
        node: me,
        party: checked.roles.party,
        hospital: checked.roles.hospital,
        consortium: cluster.clone(),
        tree_size: AtomicU64::new(store.tree_size()),
        head: Mutex::new(head),
        vkey: store.vkey(),
        store: Mutex::new(Some(store)),
        links: links.clone(),
        registry: RwLock::new(registry),
        registry_quorum: config.registry_quorum,
        max_body: config.max_body_bytes,
        outbox_len: AtomicU64::new(outbox_len),
        outbox_wake: Notify::new(),
        replay: Mutex::new(replay),
        query_timeout: Duration::from_millis(config.query_timeout_ms),
        policy: QueryPolicy {
            min_cohort: config.min_cohort,
            consent_required: config.consent_required,
            privacy: config.privacy_rules(),
            security: config.security,
        },
        enrolled: RwLock::new(Arc::new(enrolled)),
        pseudonyms,
        enrolment_changes: tokio::sync::Mutex::new(()),
        clock_skew: Duration::from_millis(config.clock_skew_ms),
        pins,
        cosigner,
        node_key: node_key.clone(),
        consents: ConsentCache::default(),
        limits: RateLimiter::default(),
        query_slots: Semaphore::new(config.max_concurrent_queries.max(1)),
        registry_changes: tokio::sync::Mutex::new(()),
        erasures_forwarding: Default::default(),
    });
    let connector = tokio::spawn(keep_connected(links.clone(), checked.quic_addrs()));
    let peer_server = tokio::spawn(serve_peers(state.clone(), links.serve_requests()));
    let (witness_stop, witness_stopped) = watch::channel(false);
    let delivery = tokio::spawn(run_deliveries(state.clone(), witness_stopped.clone()));
    let witnessing = tokio::spawn(run_witnessing(state.clone(), witness_stopped));
    let (outbox_stop, outbox_stopped) = watch::channel(false);
    let mut outbox = tokio::spawn(run_outbox(
        state.clone(),
        splitter,
        identity.public_key(),
        outbox_stopped,
    ));
    info!(
        name = %config.name,
        node = me.0,
        party = ?checked.roles.party,
        hospital = checked.roles.hospital,
        http = %config.http_listen,
        quic = %config.quic_listen,
        ledger_size = state.tree_size.load(std::sync::atomic::Ordering::Acquire),
        researchers = registry_counts[0],
        patients = registry_counts[1],
        enrolled = state.enrolled.read().map_or(0, |e| e.len()),
        consent_required = config.consent_required,
        "node started"
    );

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let app = router(state.clone());
    let stopping = async move {
        let _ = stop_rx.changed().await;
    };
    let mut server = if config.insecure_http {
        warn!(
            http = %config.http_listen,
            "insecure_http: the client API is plain HTTP; records, ingest bodies and signed requests cross the network in the clear (local debugging only)"
        );
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await
        })
    } else {
        let (chain, key) = match (&config.api_certificate, &config.api_private_key) {
            (Some(chain), Some(key)) => (load_certificates(chain)?, load_private_key(key)?),
            _ => (vec![identity.certificate()], identity.private_key()),
        };
        let tls = api_server_config(chain, key).context("the API's TLS configuration")?;
        let listener = TlsListener::new(listener, Arc::new(tls))?;
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await
        })
    };
    let early = tokio::select! {
        _ = tokio::signal::ctrl_c() => { info!(signal = "SIGINT", "stopping"); None }
        _ = sigterm.recv() => { info!(signal = "SIGTERM", "stopping"); None }
        ended = &mut server => Some(ended),
    };
    let _ = stop_tx.send(true);
    let served = match early {
        Some(ended) => ended,
        None => match tokio::time::timeout(GRACE, &mut server).await {
            Ok(ended) => ended,
            Err(_) => {
                warn!("in-flight requests did not finish within the grace period: aborted");
                server.abort();
                Ok(Ok(()))
            }
        },
    };
    let _ = outbox_stop.send(true);
    if tokio::time::timeout(OUTBOX_STOP_GRACE, &mut outbox)
        .await
        .is_err()
    {
        warn!("the outbox worker did not stop in time: aborted (its entries stay queued)");
        outbox.abort();
    }
    let _ = witness_stop.send(true);
    let _ = witnessing.await;
    let _ = delivery.await;
    peer_server.abort();
    let _ = peer_server.await;
    connector.abort();
    let _ = connector.await;
    links.shutdown(QUIC_CLOSE_GRACE).await;
    // Waits for a commit still running (its client may have gone) and closes RocksDB.
    let closing = state.clone();
    tokio::task::spawn_blocking(move || {
        let store = closing
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(store);
    })
    .await?;
    info!("stopped: store closed");
    match served {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(anyhow::Error::from(e).context("HTTP server failed")),
        Err(e) => bail!("HTTP server task failed: {e}"),
    }
}

/// The cluster a config describes: the peers' keys from the config, this node's from its key
/// file. A config that pins a peer with this node's own key, or two peers with one key, is
/// refused.
pub(crate) fn consortium(checked: &Checked, own: NodeKey) -> anyhow::Result<Consortium> {
    checked
        .consortium(own)
        .context("the config's nodes and keys")
}

/// Keeps dialling (and waiting for) the peers at `addrs`; logs when the number connected changes.
async fn keep_connected(links: Arc<PeerLinks>, addrs: BTreeMap<NodeId, SocketAddr>) {
    let mut was = usize::MAX;
    loop {
        if let Err(e) = links.connect(addrs.clone()).await {
            debug!(reason = %e, "peers not all connected yet");
        }
        let now = links.connected().len();
        if now != was {
            info!(peers_connected = now, "peer links");
            was = now;
        }
        tokio::time::sleep(RECONNECT_EVERY).await;
    }
}
