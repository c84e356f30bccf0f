//! [`QuicChannel`]: the MPC [`Channel`] over QUIC.
//!
//! The MPC code is synchronous, the links are async: `send` cuts the vector into frames of at
//! most [`CHUNK_WORDS`] words and queues each for the session's writer task as soon as it is
//! encoded (so it never waits for the peer, and the writer sends the first chunk while the rest
//! is encoded), and `recv` blocks on the queue the session's reader task fills, up to the
//! timeout, joining a message's frames. That queue is bounded ([`INCOMING_DEPTH`] frames): a
//! peer that sends faster than this party computes is held back by QUIC's flow control instead
//! of filling this party's memory, and a message is refused beyond the message cap
//! ([`DEFAULT_MESSAGE_CAP`]), so a peer that never ends one costs at most that. `recv` must run
//! outside the runtime's worker threads (the MPC runs on blocking threads). Counters count
//! payload bytes (8 per ring element), exactly as the in-memory channel does, so protocol
//! costs compare one to one.

use std::time::Duration;

use bytes::Bytes;
use hdg_mpc::{Channel, ChannelError, ChannelStats, PartyId};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::frame::{CHUNK_WORDS, Frame, chunks, encode};

/// The queue a session's reader task fills with one peer's frames (or the error that ended
/// the stream).
pub type Incoming = mpsc::Receiver<Result<Frame, ChannelError>>;

/// The reader task's end of [`Incoming`].
pub type IncomingSender = mpsc::Sender<Result<Frame, ChannelError>>;

/// Default cap on one message (all its frames): 1 GiB, 2^27 ring elements (a vector of 10^8
/// values is 800 MB).
pub const DEFAULT_MESSAGE_CAP: usize = 1 << 30;

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
    message_cap: usize,
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
        (frame_cap, message_cap): (usize, usize),
        timeout: Duration,
    ) -> QuicChannel {
        QuicChannel {
            me,
            to,
            from,
            frame_cap,
            message_cap,
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
        if 8 * msg.len() > self.message_cap {
            return Err(ChannelError::Transport {
                peer: to,
                reason: too_long(8 * msg.len() as u64, self.message_cap),
            });
        }
        for (piece, more) in chunks(msg, CHUNK_WORDS.min(self.frame_cap / 8).max(1)) {
            let frame =
                encode(piece, more, self.frame_cap).map_err(|e| ChannelError::Transport {
                    peer: to,
                    reason: e.to_string(),
                })?;
            tx.send(frame)
                .map_err(|_| ChannelError::Closed { peer: to })?;
        }
        self.stats.bytes_sent += 8 * msg.len() as u64;
        self.stats.messages_sent += 1;
        Ok(())
    }

    fn recv(&mut self, from: PartyId) -> Result<Vec<u64>, ChannelError> {
        let first = self.next_frame(from)?;
        let mut more = first.more;
        let mut frames = vec![first.words];
        let mut total = 8 * frames[0].len();
        while more {
            let frame = self.next_frame(from)?;
            total += 8 * frame.words.len();
            if total > self.message_cap {
                // The rest of the message must not be taken for messages: the peer's stream
                // is closed to this channel.
                self.from[from.index()] = Some(incoming_queue().1);
                return Err(ChannelError::Transport {
                    peer: from,
                    reason: too_long(total as u64, self.message_cap),
                });
            }
            frames.push(frame.words);
            more = frame.more;
        }
        // One allocation of the message's size, one copy of each frame.
        let msg = if frames.len() == 1 {
            frames.pop().unwrap_or_default()
        } else {
            frames.concat()
        };
        self.stats.bytes_received += 8 * msg.len() as u64;
        self.stats.messages_received += 1;
        Ok(msg)
    }

    fn stats(&self) -> ChannelStats {
        self.stats
    }
}

impl QuicChannel {
    /// The next frame from `from`, up to the timeout.
    fn next_frame(&mut self, from: PartyId) -> Result<Frame, ChannelError> {
        let rx = self.from[from.index()]
            .as_mut()
            .ok_or(ChannelError::SelfMessage { peer: self.me })?;
        let timeout = self.timeout;
        match self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, rx.recv()).await })
        {
            Ok(Some(frame)) => frame,
            Ok(None) => Err(ChannelError::Closed { peer: from }),
            Err(_) => Err(ChannelError::Timeout { peer: from }),
        }
    }
}

/// Why a message is refused: longer than the cap.
fn too_long(size: u64, cap: usize) -> String {
    format!("message of {size} bytes or more exceeds the cap of {cap} bytes")
}
