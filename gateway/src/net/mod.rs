//! Node-to-node transport: QUIC (quinn) with mutual TLS, each node pinned by its ed25519 key,
//! carrying the MPC [`hdg_mpc::Channel`] between the three parties.
//!
//! [`identity`] turns the node key into a TLS certificate and back; [`pinning`] accepts exactly
//! the pinned keys (both from `hdg-tls`, which the client shares); [`frame`] is the length-prefixed wire format with a size cap; [`links`]
//! holds a party's endpoint and connections (one per pair of parties, lower id dials higher)
//! and opens one stream per direction per session, which `sessions` pairs and pumps;
//! [`quic_channel`] adapts that to the blocking `Channel` trait (`loopback` starts three parties on
//! 127.0.0.1 for tests); [`rpc`] carries node-to-node requests (share batches, queries, consents, audits,
//! registry changes, witness offers) on bidirectional streams, share batches in the binary
//! layout of [`share_batch`]; [`tap`] is how a node takes in
//! what peers send (the frame cap, and an optional wire tap for tests of what a party sees).

pub use hdg_tls::{ca, identity, pinning};

pub mod frame;
pub mod links;
pub mod loopback;
pub mod peer;
pub mod quic_channel;
pub mod rpc;
mod sessions;
pub mod share_batch;
pub mod tap;
#[cfg(test)]
mod tests;
