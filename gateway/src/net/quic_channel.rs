//! [`QuicChannel`]: the MPC [`Channel`] over QUIC, and [`LoopbackCluster`], three parties'
//! links on 127.0.0.1 (tests, benchmarks, the demo).
//!
//! The MPC code is synchronous, the links are async: `send` encodes the vector into one frame
//! and queues it for the session's writer task (so it never waits for the peer), and `recv`
//! blocks on the queue the session's reader task fills, up to the timeout. Counters count
//! payload bytes (8 per ring element), exactly as the in-memory channel does, so protocol
//! costs compare one to one.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use hdg_mpc::{Channel, ChannelError, ChannelStats, PartyId, SessionId};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use super::frame::encode;
use super::identity::TlsIdentity;
use super::links::{LinkConfig, LinkError, PeerLinks};

/// The queue a session's reader task fills with one peer's messages (or the error that ended
/// the stream).
pub type Incoming = std_mpsc::Receiver<Result<Vec<u64>, ChannelError>>;

/// One party's end of a session's QUIC streams to the two other parties.
pub struct QuicChannel {
    me: PartyId,
    to: [Option<mpsc::UnboundedSender<Bytes>>; 3],
    from: [Option<Incoming>; 3],
    frame_cap: usize,
    timeout: Duration,
    stats: ChannelStats,
}

impl QuicChannel {
    pub(super) fn new(
        me: PartyId,
        to: [Option<mpsc::UnboundedSender<Bytes>>; 3],
        from: [Option<Incoming>; 3],
        frame_cap: usize,
        timeout: Duration,
    ) -> QuicChannel {
        QuicChannel {
            me,
            to,
            from,
            frame_cap,
            timeout,
            stats: ChannelStats::default(),
        }
    }
}

impl Channel for QuicChannel {
    fn send(&mut self, to: PartyId, msg: &[u64]) -> Result<(), ChannelError> {
        let tx = self.to[to.index()]
            .as_ref()
            .ok_or(ChannelError::SelfMessage { peer: self.me })?;
        let frame = encode(msg, self.frame_cap).map_err(|e| ChannelError::Transport {
            peer: to,
            reason: e.to_string(),
        })?;
        tx.send(frame)
            .map_err(|_| ChannelError::Closed { peer: to })?;
        self.stats.bytes_sent += 8 * msg.len() as u64;
        self.stats.messages_sent += 1;
        Ok(())
    }

    fn recv(&mut self, from: PartyId) -> Result<Vec<u64>, ChannelError> {
        let rx = self.from[from.index()]
            .as_ref()
            .ok_or(ChannelError::SelfMessage { peer: self.me })?;
        let msg = match rx.recv_timeout(self.timeout) {
            Ok(msg) => msg?,
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                return Err(ChannelError::Timeout { peer: from });
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                return Err(ChannelError::Closed { peer: from });
            }
        };
        self.stats.bytes_received += 8 * msg.len() as u64;
        self.stats.messages_received += 1;
        Ok(msg)
    }

    fn stats(&self) -> ChannelStats {
        self.stats
    }
}

/// Three parties' links on 127.0.0.1, each with its own endpoint, connected pairwise.
pub struct LoopbackCluster {
    links: [PeerLinks; 3],
    runtime: Runtime,
}

impl LoopbackCluster {
    /// Starts the three parties with node keys `keys` and the same `config`.
    pub fn start(keys: &[SigningKey; 3], config: LinkConfig) -> Result<LoopbackCluster, LinkError> {
        LoopbackCluster::start_with(keys, [config.clone(), config.clone(), config])
    }

    /// Starts the three parties, party i with `configs[i]`.
    pub fn start_with(
        keys: &[SigningKey; 3],
        configs: [LinkConfig; 3],
    ) -> Result<LoopbackCluster, LinkError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let identities = [0, 1, 2].map(|i| TlsIdentity::from_signing_key(&keys[i]));
        let [a, b, c] = identities;
        let identities = [a?, b?, c?];
        let pins = [0, 1, 2].map(|i| identities[i].public_key());
        let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let [c0, c1, c2] = configs;
        let links = {
            let _inside = runtime.enter();
            [
                PeerLinks::bind(PartyId::P0, &identities[0], pins, bind, c0)?,
                PeerLinks::bind(PartyId::P1, &identities[1], pins, bind, c1)?,
                PeerLinks::bind(PartyId::P2, &identities[2], pins, bind, c2)?,
            ]
        };
        let addrs = [
            links[0].local_addr()?,
            links[1].local_addr()?,
            links[2].local_addr()?,
        ];
        runtime.block_on(async {
            tokio::try_join!(
                links[0].connect(addrs),
                links[1].connect(addrs),
                links[2].connect(addrs)
            )
        })?;
        Ok(LoopbackCluster { links, runtime })
    }

    /// The three parties' channels for `session`, in party order.
    pub fn open_session(&self, session: &SessionId) -> Result<[QuicChannel; 3], LinkError> {
        self.runtime.block_on(async {
            let (a, b, c) = tokio::try_join!(
                self.links[0].open_session(session),
                self.links[1].open_session(session),
                self.links[2].open_session(session)
            )?;
            Ok([a, b, c])
        })
    }

    /// Party `p`'s links.
    pub fn links(&self, p: PartyId) -> &PeerLinks {
        &self.links[p.index()]
    }

    /// The runtime the links run on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}
