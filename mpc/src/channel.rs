//! The link between parties: one message per round carries a whole vector of ring elements.
//!
//! Implementations: [`crate::memory::MemoryChannel`] here (threads in one process); the QUIC one
//! lives in the gateway. A protocol round has every party send before it receives, so `send`
//! must not wait for the peer's `recv` (buffer it). Every channel counts what it sends, so tests
//! and benches can compare communication with the protocols' formulas. Messages must be
//! delivered in order, confidentially and authenticated (the semi-honest model's private links).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::PartyId;

/// Counters of what a channel has sent and received since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// Payload bytes sent (8 per ring element).
    pub bytes_sent: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Messages received.
    pub messages_received: u64,
}

impl ChannelStats {
    /// Counter differences `self - earlier`, for measuring one protocol run.
    pub fn since(&self, earlier: &ChannelStats) -> ChannelStats {
        ChannelStats {
            bytes_sent: self.bytes_sent - earlier.bytes_sent,
            messages_sent: self.messages_sent - earlier.messages_sent,
            bytes_received: self.bytes_received - earlier.bytes_received,
            messages_received: self.messages_received - earlier.messages_received,
        }
    }
}

/// Why a message could not be sent or received.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ChannelError {
    /// No message arrived from the peer within the channel's timeout.
    #[error("timed out waiting for a message from {peer}")]
    Timeout {
        /// The peer that stayed silent.
        peer: PartyId,
    },
    /// The peer's end is gone (its process or thread stopped).
    #[error("link to {peer} is closed")]
    Closed {
        /// The peer whose end closed.
        peer: PartyId,
    },
    /// A party tried to message itself.
    #[error("a party cannot message itself ({peer})")]
    SelfMessage {
        /// This party.
        peer: PartyId,
    },
    /// Transport failure reported by the implementation.
    #[error("transport error with {peer}: {reason}")]
    Transport {
        /// The peer concerned.
        peer: PartyId,
        /// What the transport reported.
        reason: String,
    },
}

/// A party's links to the two other parties. Object-safe so a party can hold `Box<dyn Channel>`.
pub trait Channel: Send {
    /// Sends one message (a whole vector) to `to`, without waiting for it to be received.
    fn send(&mut self, to: PartyId, msg: &[u64]) -> Result<(), ChannelError>;
    /// Receives the next message from `from`, in order; fails after the channel's timeout.
    fn recv(&mut self, from: PartyId) -> Result<Vec<u64>, ChannelError>;
    /// What this channel has sent and received so far.
    fn stats(&self) -> ChannelStats;
}
