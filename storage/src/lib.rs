//! The gateway node's embedded store, on RocksDB.
//!
//! Records are kept sealed under per-patient data keys, indexed by indicator and time and by patient,
//! and anchored in the node's append-only ledger ([`hdg_ledger`]). Every commit is one atomic,
//! WAL-synced `WriteBatch` holding the records, their index entries, their ledger leaves and the new
//! signed head, so an acknowledged write survives a crash and a half-written one never shows.
//! [`Store::verify`] re-derives every hash and signature from disk and names the first bad entry.
#![forbid(unsafe_code)]

pub mod baseline;
mod error;
mod keys;
pub mod layout;
mod ledger_state;
mod read;
mod record;
mod seal;
mod store;
mod verify;

pub use error::StoreError;
pub use keys::{MASTER_KEY_ENV, MASTER_KEY_FILE, NODE_KEY_FILE, SecretKey};
pub use ledger_state::DbNodes;
pub use read::TimeRange;
pub use store::{Anchored, CommitReceipt, ErasureReceipt, Store};
pub use verify::{VerifyError, VerifySummary};
