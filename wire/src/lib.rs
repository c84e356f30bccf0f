//! What clients and nodes say to each other, as types and pure rules without I/O:
//!
//! - queries: the query a researcher signs ([`query::Query`], [`query::Statistic`]), the answer
//!   each party signs ([`query::PartyAnswer`]), what data may be used for
//!   ([`purpose::Purpose`]), parameters in an indicator's unit turned into its fixed point
//!   ([`filter`]) and the checks a client runs on the answers ([`answer`]);
//! - who the nodes of a cluster are and what each does: hospitals, the three computing parties
//!   ([`consortium`]);
//! - the envelope every request that acts for someone travels in ([`signed`]), requests that k
//!   keys approve ([`approvals`]), and a source's signature of an ingest ([`ingest_signature`]);
//! - a patient's consents ([`consent`], and as FHIR R4 Consent, [`consent_fhir`]), audits
//!   ([`audit`]) and erasure ([`erasure`]); a hospital's enrolment of a patient's key
//!   ([`enrolment`]); a clinician's raw access ([`access`]); the
//!   registry's roles and changes ([`registry`]); and replies sealed to the requester
//!   ([`sealed_reply`]).
//!
//! The node and the clients (`hdg-client`, the `hdg` commands, the Python package) both build
//! on this crate, so neither imports the other; it needs no database and no network. What a
//! node alone decides (registered keys, clock skew, replay caches, consent in force, budgets)
//! stays in the node.

#![forbid(unsafe_code)]

pub mod access;
pub mod answer;
pub mod approvals;
pub mod audit;
pub mod consent;
pub mod consent_fhir;
pub mod consortium;
pub mod enrolment;
pub mod erasure;
pub mod filter;
pub mod ingest_signature;
pub mod purpose;
pub mod query;
pub mod registry;
pub mod sealed_reply;
pub mod signed;

pub use purpose::Purpose;
