//! What a researcher's client and the nodes say to each other about queries, and the checks a
//! client runs on the answers, as types and pure rules without I/O: the query a researcher signs
//! ([`query::Query`], [`query::Statistic`]), the answer each party signs ([`query::PartyAnswer`]),
//! what data may be used for ([`purpose::Purpose`]), parameters in an indicator's unit turned
//! into its fixed point ([`filter`]), the answer checks ([`answer`]) and the envelope every
//! request that acts for someone travels in ([`signed`]).
//!
//! The node's query path and the `hdg` client both build on this crate, so neither imports the
//! other; it needs no database and no network, so a client library (the Python client, a
//! browser portal's test vectors) can take it without the node.

#![forbid(unsafe_code)]

pub mod answer;
pub mod filter;
pub mod purpose;
pub mod query;
pub mod signed;

pub use purpose::Purpose;
