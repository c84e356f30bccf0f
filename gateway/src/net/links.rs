//! One node's QUIC links to the other nodes of its cluster ([`Consortium`]): one endpoint, one
//! connection per pair of nodes (the lower node id dials the higher), requests on bidirectional
//! streams ([`super::rpc`]), and, between the three computing parties only, per MPC session one
//! unidirectional stream per direction.
//!
//! A session stream starts with the 32-byte session id, then carries frames ([`super::frame`]).
//! Incoming streams are matched to sessions as they arrive, whether or not this party has
//! opened the session yet; one from a node that is not a computing party, or sent to a node that
//! is not one, is stopped and recorded. A handshake from a key the cluster does not pin is
//! refused by TLS and recorded ([`PeerLinks::refused`]); a bad frame ends its stream only, never
//! the connection or the node.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hdg_mpc::{PartyId, SessionId};
use hdg_wire::consortium::{Consortium, NodeId};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Connection, Endpoint, TransportConfig, VarInt};
use rustls::pki_types::CertificateDer;
use thiserror::Error;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::frame::DEFAULT_FRAME_CAP;
use super::identity::{CERT_NAME, IdentityError, NodeKey, TlsIdentity, peer_key};
use super::peer::Peer;
use super::pinning::{client_config, server_config};
use super::quic_channel::{DEFAULT_MESSAGE_CAP, Incoming, QuicChannel};
use super::rpc::{
    INBOX_DEPTH, InboxSlot, Request, Response, RpcCall, RpcError, call, serve_requests,
};
use super::sessions::{BAD_FRAME, SessionQueues, lock, read_session, write_session};
use super::tap::{Reception, WireTap};

/// Largest UDP payload an endpoint accepts (the UDP maximum; loopback carries it).
const MAX_UDP_PAYLOAD: u16 = 65_527;
/// A connection silent this long (keep-alives included) is gone: its peer stopped.
const IDLE_TIMEOUT_MS: u32 = 10_000;
/// Refusals kept for [`PeerLinks::refused`].
const REFUSALS_KEPT: usize = 64;

/// Tunables of the links.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// Largest frame payload accepted or sent, bytes.
    pub frame_cap: usize,
    /// Largest message (all its frames) accepted or sent, bytes.
    pub message_cap: usize,
    /// How long a channel's `recv` waits for a message.
    pub recv_timeout: Duration,
    /// How long [`PeerLinks::connect`] tries to reach the peers.
    pub connect_timeout: Duration,
    /// Largest UDP payload path-MTU discovery tries (it starts at 1200). Larger values did
    /// not speed up loopback (GSO already batches) and slowed fresh connections (lost probes).
    pub max_mtu: u16,
    /// Where every message received from the peers is recorded (tests only; see [`super::tap`]).
    pub tap: Option<Arc<WireTap>>,
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig {
            frame_cap: DEFAULT_FRAME_CAP,
            message_cap: DEFAULT_MESSAGE_CAP,
            recv_timeout: hdg_mpc::memory::DEFAULT_TIMEOUT,
            connect_timeout: Duration::from_secs(10),
            max_mtu: 1452,
            tap: None,
        }
    }
}

/// Why the links could not be set up or a session opened.
#[derive(Debug, Error)]
pub enum LinkError {
    /// The node identity could not be made.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The TLS configuration was refused.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The QUIC configuration was refused.
    #[error("QUIC configuration: {0}")]
    Quic(String),
    /// The endpoint could not be bound.
    #[error("cannot bind the QUIC endpoint: {0}")]
    Bind(#[from] std::io::Error),
    /// A peer could not be reached within the connect timeout.
    #[error("cannot connect to {peer}: {reason}")]
    Connect {
        /// The peer.
        peer: Peer,
        /// The last failure.
        reason: String,
    },
    /// The node at a peer's address holds another pinned key than that peer's.
    #[error("the node at {peer}'s address holds key {got}, not {peer}'s")]
    WrongPeer {
        /// The peer that was dialled.
        peer: Peer,
        /// The key found there, hex.
        got: String,
    },
    /// There is no connection to a peer (it never connected, or the link is gone).
    #[error("no connection to {peer}")]
    NotConnected {
        /// The peer.
        peer: Peer,
    },
    /// This node is not one of the three computing parties: it opens no MPC session.
    #[error("this node is not a computing party: it takes part in no MPC session")]
    NotAParty,
    /// A session stream could not be opened.
    #[error("cannot open a session stream to {peer}: {reason}")]
    Stream {
        /// The peer.
        peer: Peer,
        /// What QUIC reported.
        reason: String,
    },
}

/// State shared by the endpoint's background tasks.
struct Shared {
    me: NodeId,
    cluster: Arc<Consortium>,
    reception: Reception,
    /// Per peer, the connections admitted, newest last (closed ones pruned on the next admit):
    /// a link is the newest one still open, so a connection that closes after a newer one was
    /// admitted (a dial abandoned half-way) never hides the newer one.
    peers: Mutex<BTreeMap<NodeId, Vec<Connection>>>,
    /// Per peer, held while dialing it: one dial at a time, so concurrent callers (the
    /// reconnect loop, requests, sessions) never open duplicate connections.
    dialing: BTreeMap<NodeId, tokio::sync::Mutex<()>>,
    changed: Notify,
    sessions: SessionQueues,
    refused: Mutex<Vec<String>>,
    rpc_inbox: InboxSlot,
}

/// One node's endpoint and connections to the other nodes of its cluster.
pub struct PeerLinks {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    config: LinkConfig,
    addrs: Mutex<BTreeMap<NodeId, SocketAddr>>,
}

impl PeerLinks {
    /// Binds node `me`'s endpoint at `bind` and starts accepting the other nodes of `cluster`,
    /// each pinned by its key; must be called within a tokio runtime.
    pub fn bind(
        me: NodeId,
        identity: &TlsIdentity,
        cluster: Arc<Consortium>,
        bind: SocketAddr,
        config: LinkConfig,
    ) -> Result<PeerLinks, LinkError> {
        let peers: Vec<NodeKey> = cluster.others(me).map(|m| m.key).collect();
        let transport = Arc::new(transport_config(&config));
        let server_tls = QuicServerConfig::try_from(server_config(identity, &peers)?)
            .map_err(|e| LinkError::Quic(e.to_string()))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_tls));
        server.transport_config(transport.clone());
        let client_tls = QuicClientConfig::try_from(client_config(identity, &peers)?)
            .map_err(|e| LinkError::Quic(e.to_string()))?;
        let mut client = quinn::ClientConfig::new(Arc::new(client_tls));
        client.transport_config(transport);
        let mut endpoint_config = quinn::EndpointConfig::default();
        endpoint_config
            .max_udp_payload_size(MAX_UDP_PAYLOAD)
            .map_err(|e| LinkError::Quic(e.to_string()))?;
        let socket = std::net::UdpSocket::bind(bind)?;
        let runtime = Arc::new(quinn::TokioRuntime);
        let mut endpoint = Endpoint::new(endpoint_config, Some(server), socket, runtime)?;
        endpoint.set_default_client_config(client);
        let shared = Arc::new(Shared {
            me,
            reception: Reception {
                cap: config.frame_cap,
                tap: config.tap.clone(),
            },
            peers: Mutex::new(BTreeMap::new()),
            dialing: cluster
                .others(me)
                .map(|m| (m.id, tokio::sync::Mutex::new(())))
                .collect(),
            cluster,
            changed: Notify::new(),
            sessions: SessionQueues::new(config.recv_timeout + config.connect_timeout),
            refused: Mutex::new(Vec::new()),
            rpc_inbox: Arc::new(Mutex::new(None)),
        });
        tokio::spawn(accept_loop(endpoint.clone(), shared.clone()));
        Ok(PeerLinks {
            shared,
            endpoint,
            config,
            addrs: Mutex::new(BTreeMap::new()),
        })
    }

    /// The address the endpoint listens on (tests and benches bind port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, LinkError> {
        Ok(self.endpoint.local_addr()?)
    }

    /// Dials the peers with a higher id at `addrs` (each node's QUIC address) and waits for those
    /// with a lower id to connect, retrying until the connect timeout. All peers at once: one
    /// that is down does not keep this node from the others; the error names the first peer
    /// (by id) not connected.
    pub async fn connect(&self, addrs: BTreeMap<NodeId, SocketAddr>) -> Result<(), LinkError> {
        *lock(&self.addrs) = addrs;
        let deadline = Instant::now() + self.config.connect_timeout;
        let peers: Vec<NodeId> = self.shared.dialing.keys().copied().collect();
        let results =
            futures_util::future::join_all(peers.into_iter().map(|p| self.reconnect(p, deadline)))
                .await;
        results.into_iter().try_for_each(|r| r.map(|_| ()))
    }

    /// The connection to `peer`; when it is gone, dials it again (higher id) or waits for it
    /// to dial again (lower id, e.g. a restarted node), until `deadline`.
    async fn reconnect(&self, peer: NodeId, deadline: Instant) -> Result<Connection, LinkError> {
        if let Some(conn) = self.shared.connection(peer) {
            return Ok(conn);
        }
        let (name, dialing) = match (self.shared.peer(peer), self.shared.dialing.get(&peer)) {
            (Some(name), Some(dialing)) => (name, dialing),
            _ => {
                return Err(LinkError::Connect {
                    peer: self.shared.unknown(peer),
                    reason: "not a node of this cluster".to_string(),
                });
            }
        };
        if peer < self.shared.me {
            return self.wait_for(peer, deadline).await;
        }
        let addr = lock(&self.addrs)
            .get(&peer)
            .copied()
            .ok_or_else(|| LinkError::NotConnected { peer: name.clone() })?;
        let _dialing = tokio::time::timeout_at(deadline, dialing.lock())
            .await
            .map_err(|_| LinkError::Connect {
                peer: name.clone(),
                reason: "another dial did not finish within the connect timeout".to_string(),
            })?;
        // Whoever held the lock may have connected meanwhile.
        if let Some(conn) = self.shared.connection(peer) {
            return Ok(conn);
        }
        let conn = self.dial(peer, addr, deadline).await?;
        self.shared.admit(conn.clone(), name);
        Ok(conn)
    }

    async fn dial(
        &self,
        peer: NodeId,
        addr: SocketAddr,
        deadline: Instant,
    ) -> Result<Connection, LinkError> {
        let name = self
            .shared
            .peer(peer)
            .unwrap_or_else(|| self.shared.unknown(peer));
        let failed = |reason: String| LinkError::Connect {
            peer: name.clone(),
            reason,
        };
        let pinned = self.shared.cluster.member(peer).map(|m| m.key);
        loop {
            let attempt = self
                .endpoint
                .connect(addr, CERT_NAME)
                .map_err(|e| failed(e.to_string()))?;
            let reason = match tokio::time::timeout_at(deadline, attempt).await {
                Ok(Ok(conn)) => {
                    let got = connection_key(&conn).map_err(|e| failed(e.to_string()))?;
                    if Some(got) != pinned {
                        conn.close(VarInt::from_u32(0), b"wrong peer");
                        return Err(LinkError::WrongPeer {
                            peer: name,
                            got: hex::encode(got),
                        });
                    }
                    return Ok(conn);
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".to_string(),
            };
            if Instant::now() + Duration::from_millis(100) >= deadline {
                return Err(failed(reason));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_for(&self, peer: NodeId, deadline: Instant) -> Result<Connection, LinkError> {
        loop {
            let changed = self.shared.changed.notified();
            if let Some(conn) = self.shared.connection(peer) {
                return Ok(conn);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(LinkError::Connect {
                    peer: self
                        .shared
                        .peer(peer)
                        .unwrap_or_else(|| self.shared.unknown(peer)),
                    reason: "it did not connect within the connect timeout".to_string(),
                });
            }
        }
    }

    /// Opens this party's channel for `session`: a stream to each other computing party, and
    /// the streams they open for the same session. A lost connection is re-established first
    /// (within the connect timeout). A node that is not a computing party opens none.
    pub async fn open_session(&self, session: &SessionId) -> Result<QuicChannel, LinkError> {
        let me = self.shared.party().ok_or(LinkError::NotAParty)?;
        let mut to: [Option<mpsc::UnboundedSender<Bytes>>; 3] = [None, None, None];
        let mut from: [Option<Incoming>; 3] = [None, None, None];
        for peer in PartyId::ALL.into_iter().filter(|p| *p != me) {
            let node = self.shared.cluster.party(peer);
            let deadline = Instant::now() + self.config.connect_timeout;
            let conn = self.reconnect(node.id, deadline).await?;
            let stream = conn.open_uni().await.map_err(|e| LinkError::Stream {
                peer: Peer::of(node),
                reason: e.to_string(),
            })?;
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(write_session(stream, session.0, rx));
            to[peer.index()] = Some(tx);
            from[peer.index()] = Some(self.shared.sessions.take_receiver(session.0, peer));
        }
        Ok(QuicChannel::new(
            me,
            to,
            from,
            (self.config.frame_cap, self.config.message_cap),
            self.config.recv_timeout,
        ))
    }

    /// The peers with a live connection now (the node's health report).
    pub fn connected(&self) -> Vec<NodeId> {
        self.shared
            .dialing
            .keys()
            .copied()
            .filter(|p| self.shared.connection(*p).is_some())
            .collect()
    }

    /// The node that is computing party `party` (its requests go to it).
    pub fn node_of(&self, party: PartyId) -> NodeId {
        self.shared.cluster.party(party).id
    }

    /// Closes the endpoint (peers see the links end at once) and waits, at most `grace`, for
    /// the connections to finish closing.
    pub async fn shutdown(&self, grace: Duration) {
        self.endpoint.close(VarInt::from_u32(0), b"node stopping");
        let _ = tokio::time::timeout(grace, self.endpoint.wait_idle()).await;
    }

    /// Handshakes refused so far (most recent last, at most 64), each naming the reason (each is
    /// also logged as it happens).
    #[cfg(test)]
    pub fn refused(&self) -> Vec<String> {
        lock(&self.shared.refused).clone()
    }

    /// The requests the pinned peers send from now on ([`super::rpc`]); before this is called
    /// (or after the receiver is dropped) they are answered with an error.
    pub fn serve_requests(&self) -> mpsc::Receiver<RpcCall> {
        let (tx, rx) = mpsc::channel(INBOX_DEPTH);
        *lock(&self.shared.rpc_inbox) = Some(tx);
        rx
    }

    /// Sends `request` to `peer` on a new stream and waits at most `timeout` for its answer,
    /// re-establishing a lost connection first (within the connect timeout).
    pub async fn request(
        &self,
        peer: NodeId,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, RpcError> {
        let name = self
            .shared
            .peer(peer)
            .unwrap_or_else(|| self.shared.unknown(peer));
        let deadline = Instant::now() + self.config.connect_timeout.min(timeout);
        let conn = self
            .reconnect(peer, deadline)
            .await
            .map_err(|e| RpcError::Link {
                peer: name.clone(),
                reason: e.to_string(),
            })?;
        call(&conn, &name, request, &self.shared.reception, timeout).await
    }

    /// The connection to `peer`, if any (tests write raw bytes on it).
    #[cfg(test)]
    pub fn connection(&self, peer: NodeId) -> Option<Connection> {
        self.shared.connection(peer)
    }
}

impl Drop for PeerLinks {
    fn drop(&mut self) {
        self.endpoint.close(VarInt::from_u32(0), b"node stopping");
    }
}

impl Shared {
    fn connection(&self, peer: NodeId) -> Option<Connection> {
        lock(&self.peers)
            .get(&peer)?
            .iter()
            .rev()
            .find(|c| c.close_reason().is_none())
            .cloned()
    }

    /// The computing party this node is, if any.
    fn party(&self) -> Option<PartyId> {
        self.cluster.member(self.me).and_then(|m| m.roles.party)
    }

    /// `id` as a peer, if it is another node of the cluster.
    fn peer(&self, id: NodeId) -> Option<Peer> {
        (id != self.me)
            .then(|| self.cluster.member(id))
            .flatten()
            .map(Peer::of)
    }

    /// A node id the cluster does not have, named for an error.
    fn unknown(&self, id: NodeId) -> Peer {
        Peer {
            node: id,
            party: None,
            name: id.to_string().into(),
        }
    }

    /// Records `conn` as the newest link to `peer` and starts taking its requests, and its
    /// session streams when both are computing parties.
    fn admit(self: &Arc<Self>, conn: Connection, peer: Peer) {
        {
            let mut peers = lock(&self.peers);
            let links = peers.entry(peer.node).or_default();
            links.retain(|c| c.close_reason().is_none());
            links.push(conn.clone());
        }
        self.changed.notify_waiters();
        tokio::spawn(accept_streams(conn.clone(), peer.clone(), self.clone()));
        tokio::spawn(serve_requests(
            conn,
            peer,
            self.rpc_inbox.clone(),
            self.reception.clone(),
        ));
    }

    fn refuse(&self, reason: String) {
        let mut refused = lock(&self.refused);
        if refused.len() == REFUSALS_KEPT {
            refused.remove(0);
        }
        refused.push(reason);
    }
}

fn transport_config(config: &LinkConfig) -> TransportConfig {
    let mut mtu_discovery = quinn::MtuDiscoveryConfig::default();
    mtu_discovery.upper_bound(config.max_mtu.max(1200));
    let mut t = TransportConfig::default();
    t.max_concurrent_uni_streams(VarInt::from_u32(1024))
        .max_concurrent_bidi_streams(VarInt::from_u32(256))
        .stream_receive_window(VarInt::from_u32(32 << 20))
        .receive_window(VarInt::from_u32(128 << 20))
        .send_window(128 << 20)
        .mtu_discovery_config(Some(mtu_discovery))
        .keep_alive_interval(Some(Duration::from_secs(2)))
        .max_idle_timeout(Some(VarInt::from_u32(IDLE_TIMEOUT_MS).into()));
    t
}

/// The ed25519 key in the certificate the peer of `conn` presented.
fn connection_key(conn: &Connection) -> Result<NodeKey, IdentityError> {
    let certs = conn
        .peer_identity()
        .and_then(|id| id.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or_else(|| IdentityError::BadCertificate("no peer certificate".to_string()))?;
    let first = certs
        .first()
        .ok_or_else(|| IdentityError::BadCertificate("no peer certificate".to_string()))?;
    peer_key(first)
}

/// Accepts connections from lower-id peers; records refused handshakes.
async fn accept_loop(endpoint: Endpoint, shared: Arc<Shared>) {
    while let Some(incoming) = endpoint.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let from = incoming.remote_address();
            let conn = match incoming.await {
                Ok(conn) => conn,
                Err(e) => return shared.refuse(format!("handshake from {from} refused: {e}")),
            };
            let key = match connection_key(&conn) {
                Ok(key) => key,
                Err(e) => return shared.refuse(format!("connection from {from}: {e}")),
            };
            let peer = shared
                .cluster
                .by_key(&key)
                .filter(|m| m.id != shared.me)
                .map(Peer::of);
            match peer {
                Some(peer) if peer.node < shared.me => shared.admit(conn, peer),
                _ => {
                    conn.close(VarInt::from_u32(0), b"unexpected peer");
                    shared.refuse(format!(
                        "connection from {from} with key {} refused: not a lower-id peer",
                        hex::encode(key)
                    ));
                }
            }
        });
    }
}

/// Takes the session streams `peer` opens on `conn`, each routed to its session's queue; when
/// this node or `peer` is not a computing party, stops each one and records why.
async fn accept_streams(conn: Connection, peer: Peer, shared: Arc<Shared>) {
    while let Ok(mut stream) = conn.accept_uni().await {
        let (Some(party), Some(_)) = (peer.party, shared.party()) else {
            let _ = stream.stop(BAD_FRAME);
            shared.refuse(format!(
                "session stream from {peer} refused: sessions run between computing parties only"
            ));
            continue;
        };
        let (shared, node) = (shared.clone(), peer.node);
        tokio::spawn(async move {
            let mut session = [0u8; 32];
            if stream.read_exact(&mut session).await.is_err() {
                let _ = stream.stop(BAD_FRAME);
                return;
            }
            if let Some(tx) = shared.sessions.take_sender(session, party) {
                read_session(stream, tx, party, node, &shared.reception).await;
            }
        });
    }
}
