//! One module per `hdg` subcommand, plus the input-file plumbing they share.

pub mod access;
pub mod audit;
pub mod bench;
pub mod bench_cluster;
pub mod bench_party;
pub mod budget;
pub mod consent;
pub mod demo;
pub mod demo_queries;
pub mod erase;
pub mod files;
pub mod history;
pub mod http;
pub mod identity;
pub mod import;
pub mod ingest;
pub mod init;
pub mod key;
pub mod local_cluster;
pub mod node;
pub mod proof;
pub mod query;
pub mod registry;
pub mod synth;
pub mod verify;
pub mod verify_cluster;
