//! The gateway node and the `hdg` command-line tool as a library: the node's HTTP API and its
//! rules (`node`), the QUIC links between the three parties (`net`), and the commands (`cli`).
//! `main.rs` is only the command-line parser; the fuzz targets (`fuzz/`) and the corpus replay
//! test call the parsers through [`fuzzing`].
#![forbid(unsafe_code)]

pub mod cli;
pub mod clock;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest_path;
pub mod net;
pub mod node;
pub mod unlock;
