//! The gateway node's embedded store, on RocksDB.
//!
//! Records are kept sealed under per-patient data keys, indexed by indicator and time and by patient,
//! and anchored in the node's append-only ledger ([`hdg_ledger`]). Every commit is one atomic,
//! WAL-synced `WriteBatch` holding the records, their index entries, their ledger leaves and the new
//! signed head, so an acknowledged write survives a crash and a half-written one never shows.
//! [`Store::verify`] re-derives every hash and signature from disk and names the first bad entry.
//!
//! As an MPC party the store also keeps this party's secret-share pairs of values shared by any
//! node ([`Store::commit_shares`], [`Store::scan_shares`]), sealed at rest and anchored by share
//! receipts; as a home node it keeps an outbox of committed values still to be shared
//! ([`Store::commit_with_outbox`], [`Store::outbox_pending`], [`Store::outbox_done`]). As a
//! witness it keeps the last head it cosigned for each peer and the evidence of forks it refused;
//! as a log, its peers' cosignatures on its own heads ([`Store::latest_cosigned_head`]).
#![forbid(unsafe_code)]

mod abort_log;
pub mod baseline;
mod consents;
mod enrolment_log;
mod erasure;
mod error;
pub mod keyring;
mod keys;
pub mod layout;
mod ledger_state;
mod migrate;
mod outbox;
mod patient_log;
mod privacy_spent;
mod read;
mod record;
mod registry_log;
mod replay_log;
mod seal;
mod share_manifest;
mod share_value;
mod shares;
mod store;
mod verify;
mod verify_shares;
mod witness;

pub use consents::StoredConsent;
pub use enrolment_log::{EnrolmentChange, StoredEnrolment};
pub use erasure::{Compaction, Erasure, ErasureOrder, ErasureReceipt, Holding, PendingErasure};
pub use error::StoreError;
pub use keyring::KeySource;
pub use keys::SecretKey;
pub use ledger_state::DbNodes;
pub use outbox::{Pending, Sharing};
pub use privacy_spent::PrivacySpend;
pub use read::TimeRange;
pub use replay_log::{ReplayEntry, ReplayLog};
pub use shares::{PARTIES, ShareReceipt, ShareRow};
pub use store::{Anchored, CommitReceipt, Store};
pub use verify::{VerifyError, VerifySummary};
pub use witness::{ForkEvidence, PeerKey};
