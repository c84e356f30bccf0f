//! One party's QUIC links to the two others: one endpoint, one connection per pair of parties
//! (the lower id dials the higher), and per session one unidirectional stream per direction.
//!
//! A session stream starts with the 32-byte session id, then carries frames ([`super::frame`]).
//! Incoming streams are matched to sessions as they arrive, whether or not this party has
//! opened the session yet. A handshake from an unpinned key is refused by TLS and recorded
//! ([`PeerLinks::refused`]); a bad frame ends its stream only, never the connection or the node.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hdg_mpc::{PartyId, SessionId};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Connection, Endpoint, TransportConfig, VarInt};
use rustls::pki_types::CertificateDer;
use thiserror::Error;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::frame::DEFAULT_FRAME_CAP;
use super::identity::{CERT_NAME, IdentityError, NodeKey, TlsIdentity, peer_key};
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
        peer: PartyId,
        /// The last failure.
        reason: String,
    },
    /// The node at a peer's address holds another pinned key than that peer's.
    #[error("the node at {peer}'s address holds key {got}, not {peer}'s")]
    WrongPeer {
        /// The peer that was dialled.
        peer: PartyId,
        /// The key found there, hex.
        got: String,
    },
    /// There is no connection to a peer (it never connected, or the link is gone).
    #[error("no connection to {peer}")]
    NotConnected {
        /// The peer.
        peer: PartyId,
    },
    /// A session stream could not be opened.
    #[error("cannot open a session stream to {peer}: {reason}")]
    Stream {
        /// The peer.
        peer: PartyId,
        /// What QUIC reported.
        reason: String,
    },
}

/// State shared by the endpoint's background tasks.
struct Shared {
    me: PartyId,
    pins: [NodeKey; 3],
    reception: Reception,
    /// Per peer, the connections admitted, newest last (closed ones pruned on the next admit):
    /// a link is the newest one still open, so a connection that closes after a newer one was
    /// admitted (a dial abandoned half-way) never hides the newer one.
    peers: Mutex<[Vec<Connection>; 3]>,
    /// Per peer, held while dialing it: one dial at a time, so concurrent callers (the
    /// reconnect loop, requests, sessions) never open duplicate connections.
    dialing: [tokio::sync::Mutex<()>; 3],
    changed: Notify,
    sessions: SessionQueues,
    refused: Mutex<Vec<String>>,
    rpc_inbox: InboxSlot,
}

/// One party's endpoint and connections to the other two.
pub struct PeerLinks {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    config: LinkConfig,
    addrs: Mutex<Option<[SocketAddr; 3]>>,
}

impl PeerLinks {
    /// Binds party `me`'s endpoint at `bind` and starts accepting the pinned peers.
    /// `pins[i]` is party i's ed25519 key; must be called within a tokio runtime.
    pub fn bind(
        me: PartyId,
        identity: &TlsIdentity,
        pins: [NodeKey; 3],
        bind: SocketAddr,
        config: LinkConfig,
    ) -> Result<PeerLinks, LinkError> {
        let peers: Vec<NodeKey> = PartyId::ALL
            .into_iter()
            .filter(|p| *p != me)
            .map(|p| pins[p.index()])
            .collect();
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
            pins,
            reception: Reception {
                cap: config.frame_cap,
                tap: config.tap.clone(),
            },
            peers: Mutex::new([Vec::new(), Vec::new(), Vec::new()]),
            dialing: Default::default(),
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
            addrs: Mutex::new(None),
        })
    }

    /// The address the endpoint listens on (tests and benches bind port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, LinkError> {
        Ok(self.endpoint.local_addr()?)
    }

    /// Dials the peers with a higher id at `addrs` and waits for those with a lower id to
    /// connect, retrying until the connect timeout. Both peers at once: one that is down does
    /// not keep this node from the other; the error names the first peer not connected.
    pub async fn connect(&self, addrs: [SocketAddr; 3]) -> Result<(), LinkError> {
        *lock(&self.addrs) = Some(addrs);
        let deadline = Instant::now() + self.config.connect_timeout;
        let me = self.shared.me;
        let (next, prev) = tokio::join!(
            self.reconnect(me.next(), deadline),
            self.reconnect(me.prev(), deadline)
        );
        next.and(prev).map(|_| ())
    }

    /// The connection to `peer`; when it is gone, dials it again (higher id) or waits for it
    /// to dial again (lower id, e.g. a restarted node), until `deadline`.
    async fn reconnect(&self, peer: PartyId, deadline: Instant) -> Result<Connection, LinkError> {
        if let Some(conn) = self.shared.connection(peer) {
            return Ok(conn);
        }
        if peer.index() < self.shared.me.index() {
            return self.wait_for(peer, deadline).await;
        }
        let addr = lock(&self.addrs).ok_or(LinkError::NotConnected { peer })?[peer.index()];
        let _dialing = tokio::time::timeout_at(deadline, self.shared.dialing[peer.index()].lock())
            .await
            .map_err(|_| LinkError::Connect {
                peer,
                reason: "another dial did not finish within the connect timeout".to_string(),
            })?;
        // Whoever held the lock may have connected meanwhile.
        if let Some(conn) = self.shared.connection(peer) {
            return Ok(conn);
        }
        let conn = self.dial(peer, addr, deadline).await?;
        self.shared.admit(conn.clone(), peer);
        Ok(conn)
    }

    async fn dial(
        &self,
        peer: PartyId,
        addr: SocketAddr,
        deadline: Instant,
    ) -> Result<Connection, LinkError> {
        let failed = |reason: String| LinkError::Connect { peer, reason };
        loop {
            let attempt = self
                .endpoint
                .connect(addr, CERT_NAME)
                .map_err(|e| failed(e.to_string()))?;
            let reason = match tokio::time::timeout_at(deadline, attempt).await {
                Ok(Ok(conn)) => {
                    let got = connection_key(&conn).map_err(|e| failed(e.to_string()))?;
                    if got != self.shared.pins[peer.index()] {
                        conn.close(VarInt::from_u32(0), b"wrong peer");
                        return Err(LinkError::WrongPeer {
                            peer,
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

    async fn wait_for(&self, peer: PartyId, deadline: Instant) -> Result<Connection, LinkError> {
        loop {
            let changed = self.shared.changed.notified();
            if let Some(conn) = self.shared.connection(peer) {
                return Ok(conn);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(LinkError::Connect {
                    peer,
                    reason: "it did not connect within the connect timeout".to_string(),
                });
            }
        }
    }

    /// Opens this party's channel for `session`: a stream to each peer, and the streams the
    /// peers open for the same session. A lost connection is re-established first (within
    /// the connect timeout).
    pub async fn open_session(&self, session: &SessionId) -> Result<QuicChannel, LinkError> {
        let me = self.shared.me;
        let mut to: [Option<mpsc::UnboundedSender<Bytes>>; 3] = [None, None, None];
        let mut from: [Option<Incoming>; 3] = [None, None, None];
        for peer in PartyId::ALL.into_iter().filter(|p| *p != me) {
            let deadline = Instant::now() + self.config.connect_timeout;
            let conn = self.reconnect(peer, deadline).await?;
            let stream = conn.open_uni().await.map_err(|e| LinkError::Stream {
                peer,
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
    pub fn connected(&self) -> Vec<PartyId> {
        PartyId::ALL
            .into_iter()
            .filter(|p| *p != self.shared.me && self.shared.connection(*p).is_some())
            .collect()
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
        peer: PartyId,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, RpcError> {
        let deadline = Instant::now() + self.config.connect_timeout.min(timeout);
        let conn = self
            .reconnect(peer, deadline)
            .await
            .map_err(|e| RpcError::Link {
                peer,
                reason: e.to_string(),
            })?;
        call(&conn, peer, request, &self.shared.reception, timeout).await
    }

    /// The connection to `peer`, if any (tests write raw bytes on it).
    #[cfg(test)]
    pub fn connection(&self, peer: PartyId) -> Option<Connection> {
        self.shared.connection(peer)
    }
}

impl Drop for PeerLinks {
    fn drop(&mut self) {
        self.endpoint.close(VarInt::from_u32(0), b"node stopping");
    }
}

impl Shared {
    fn connection(&self, peer: PartyId) -> Option<Connection> {
        lock(&self.peers)[peer.index()]
            .iter()
            .rev()
            .find(|c| c.close_reason().is_none())
            .cloned()
    }

    /// Records `conn` as the newest link to `peer` and starts taking its session streams.
    fn admit(self: &Arc<Self>, conn: Connection, peer: PartyId) {
        {
            let mut peers = lock(&self.peers);
            let links = &mut peers[peer.index()];
            links.retain(|c| c.close_reason().is_none());
            links.push(conn.clone());
        }
        self.changed.notify_waiters();
        tokio::spawn(accept_streams(conn.clone(), peer, self.clone()));
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
            let peer = PartyId::ALL
                .into_iter()
                .find(|p| *p != shared.me && shared.pins[p.index()] == key);
            match peer {
                Some(peer) if peer.index() < shared.me.index() => shared.admit(conn, peer),
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

/// Takes the session streams `peer` opens on `conn`, each routed to its session's queue.
async fn accept_streams(conn: Connection, peer: PartyId, shared: Arc<Shared>) {
    while let Ok(mut stream) = conn.accept_uni().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut session = [0u8; 32];
            if stream.read_exact(&mut session).await.is_err() {
                let _ = stream.stop(BAD_FRAME);
                return;
            }
            if let Some(tx) = shared.sessions.take_sender(session, peer) {
                read_session(stream, tx, peer, &shared.reception).await;
            }
        });
    }
}
