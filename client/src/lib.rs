//! A researcher's side of the cluster, without a node and without RocksDB: what the `hdg`
//! commands and the Python package (`clients/python`) share.
//!
//! - [`cluster_file`]: `cluster.toml`, the node keys a client pins and the nodes' APIs; loading
//!   it makes the cluster's catalog ([`catalog_extension`]) this process's catalog.
//! - [`http`]: the HTTP client of a node's API, accepting only the pinned node key.
//! - [`request`]: a question in words and units (`mean of 4548-4 where value > 6.5 %`), read
//!   into the wire's fixed-point [`query::Question`].
//! - [`query`]: sign a question, post it, check the three parties' signed answers against the
//!   pins and open the sealed result ([`hdg_wire::answer`] holds the checks).
//! - [`figures`] and [`report`]: the answer as named figures in the indicator's units, as a
//!   table, CSV or one JSON object.
//! - [`researcher`]: all of it behind one call, for a cluster file and a key file.
#![forbid(unsafe_code)]

pub mod catalog_extension;
pub mod cluster_file;
pub mod figures;
pub mod http;
pub mod key;
pub mod query;
pub mod report;
pub mod request;
pub mod researcher;
