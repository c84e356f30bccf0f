//! [`QuicChannel`]: the MPC [`Channel`] over QUIC.
//!
//! The MPC code is synchronous, the links are async: `send` encodes the vector into one frame
//! and queues it for the session's writer task (so it never waits for the peer), and `recv`
//! blocks on the queue the session's reader task fills, up to the timeout. That queue is bounded
//! ([`INCOMING_DEPTH`] frames): a peer that sends faster than this party computes is held back
//! by QUIC's flow control instead of filling this party's memory. `recv` must run outside the
//! runtime's worker threads (the MPC runs on blocking threads). Counters count
//! payload bytes (8 per ring element), exactly as the in-memory channel does, so protocol
//! costs compare one to one.

use std::time::Duration;

use bytes::Bytes;
use hdg_mpc::{Channel, ChannelError, ChannelStats, PartyId};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::frame::encode;

/// The queue a session's reader task fills with one peer's messages (or the error that ended
/// the stream).
pub type Incoming = mpsc::Receiver<Result<Vec<u64>, ChannelError>>;

/// The reader task's end of [`Incoming`].
pub type IncomingSender = mpsc::Sender<Result<Vec<u64>, ChannelError>>;

/// Frames a session's reader may queue from one peer before it stops reading that stream.
pub const INCOMING_DEPTH: usize = 8;

/// A bounded queue for one peer's frames of one session.
pub fn incoming_queue() -> (IncomingSender, Incoming) {
    mpsc::channel(INCOMING_DEPTH)
}

/// One party's end of a session's QUIC streams to the two other parties.
pub struct QuicChannel {
    me: PartyId,
    to: [Option<mpsc::UnboundedSender<Bytes>>; 3],
    from: [Option<Incoming>; 3],
    frame_cap: usize,
    timeout: Duration,
    stats: ChannelStats,
    runtime: Handle,
}

impl QuicChannel {
    /// A channel on the current runtime (call from inside it, as `open_session` does).
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
            runtime: Handle::current(),
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
            .as_mut()
            .ok_or(ChannelError::SelfMessage { peer: self.me })?;
        let timeout = self.timeout;
        let msg = match self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, rx.recv()).await })
        {
            Ok(Some(msg)) => msg?,
            Ok(None) => return Err(ChannelError::Closed { peer: from }),
            Err(_) => return Err(ChannelError::Timeout { peer: from }),
        };
        self.stats.bytes_received += 8 * msg.len() as u64;
        self.stats.messages_received += 1;
        Ok(msg)
    }

    fn stats(&self) -> ChannelStats {
        self.stats
    }
}
