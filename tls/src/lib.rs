//! Who a TLS connection trusts, for nodes and clients alike.
//!
//! Nodes and their clients pin each other by ed25519 public key, not by a certificate
//! authority: [`identity`] wraps a node key in a certificate and reads a peer's key back out of
//! one; [`pinning`] gives rustls configurations that accept exactly the pinned keys, between
//! nodes (mutual TLS over QUIC) and from a client to a node's API. A hospital that runs its own
//! CA may serve the API with a chain from it instead; [`ca`] loads its PEM roots and gives the
//! WebPKI-checking client configuration.
//!
//! This crate has no I/O beyond reading PEM files, and no RocksDB: the node (`hdg-gateway`) and
//! the client (`hdg-client`) both build on it, so both sides apply one rule.

pub mod ca;
pub mod identity;
pub mod pinning;
