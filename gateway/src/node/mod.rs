//! The node process (`hdg node`): one party of the three-node cluster, with its RocksDB store,
//! its QUIC links to the two pinned peers ([`crate::net`]) and the client HTTP JSON API.
//!
//! [`config`] reads a node's TOML file and [`registry`] the identity registry (both written by
//! `hdg init`); [`ingest`] turns a request body into committed records; [`api`] is the axum
//! router; [`state`] what its handlers share; [`run`] starts the node and shuts it down cleanly;
//! [`sharing`] secret-shares committed values to the three parties (the outbox worker);
//! [`coordinator`] answers `POST /v1/query` by running [`query_party`] at the three parties
//! (itself and, over [`crate::net::rpc`], the two peers) and relaying their sealed answers;
//! [`witness`] has the peers cosign this node's heads and cosigns theirs, refusing forks;
//! [`erasure`] decides who may erase a patient and [`erasure_endpoint`] erases them at the three
//! nodes; [`enrolment`] decides who may link a reference to a patient's key and
//! [`enrolment_endpoint`] links it at the hospital's node; [`delivery`] retries what a peer could not take when asked (consents, erasures).

pub use hdg_wire::{consent_fhir, sealed_reply};

pub mod access;
pub mod api;
pub mod api_roles;
pub mod approvals;
pub mod audit;
pub mod budget;
pub mod config;
pub mod consent;
pub mod consent_cache;
pub mod consent_endpoint;
pub mod coordinator;
pub mod delivery;
pub mod enrolment;
pub mod enrolment_endpoint;
pub mod erasure;
pub mod erasure_endpoint;
pub mod ingest;
pub mod ingest_auth;
pub mod openapi;
pub mod peer_rules;
pub mod query;
pub mod query_party;
pub mod rate_limit;
pub mod registry;
pub mod registry_change;
pub mod replay;
pub mod run;
pub mod sharing;
pub mod signed;
pub mod state;
pub mod tls_listener;
pub mod witness;
