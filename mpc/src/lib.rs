//! Three-party replicated secret sharing over Z_2^64 (honest majority; semi-honest, with the
//! checks against one malicious party growing in [`security`]), with SIMD
//! share arithmetic and a statistics library.
//!
//! A value x is split as x = x0 + x1 + x2 (mod 2^64) and party i holds (x_i, x_{i+1}); any two
//! parties can reconstruct, any single party sees only uniformly random-looking values.
//! Correlated randomness comes from pairwise PRF keys agreed per session ([`session`]), so
//! additions are free, a multiplication costs one ring element per party and one round, and a
//! dot product one element per result. Comparisons go through a bit-sliced adder ([`protocols::a2b`]).
//! Statistics ([`stats`]) compute exact integer aggregates in the ring, refuse inputs whose
//! documented bound could overflow, and reveal (or seal to a recipient) only those aggregates.
//!
//! Layout: [`kernels`] (SIMD slices, the only `unsafe`), [`ring`], [`share`], [`prf`],
//! [`session`], [`channel`] and [`memory`] (links), [`party`], [`protocols`], [`stats`],
//! [`stream`] (computing in parts), [`workloads`] (the W1-W5 benchmark workloads).
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod channel;
pub mod dp;
pub mod fault;
pub mod kernels;
pub mod memory;
pub mod party;
mod party_id;
pub mod prf;
pub mod ring;
pub mod security;
pub mod session;
pub mod share;
pub mod verdict;
pub mod verify;
pub mod words;

pub use channel::{Channel, ChannelError, ChannelStats};
pub use memory::{run_three, run_three_with, run_three_with_keys};
pub use party::{Party, ProtocolError, SetupError};
pub use party_id::PartyId;
pub use prf::PrfKind;
pub use security::Security;
pub use session::{PartyKeys, SessionId, SessionSecret};
pub use share::{ArithShares, BoolShares};
pub use verdict::VerdictKeys;
pub use x25519_dalek::{PublicKey, StaticSecret};
pub mod protocols;
pub mod stats;
pub mod stream;
pub mod workloads;
