//! The store's error type: each variant names what is wrong, never a health value.

use std::path::PathBuf;

use hdg_schema::{Pseudonym, RecordHandle, RecordId};

/// Everything a store operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error (I/O, corruption detected by its checksums, lock held).
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    /// No store was (completely) created in this folder: nothing was ever committed there.
    #[error("no store in {}: it was never created, or its creation was interrupted before any commit", .0.display())]
    NotInitialized(PathBuf),
    /// A key file is missing, unreadable or malformed.
    #[error("key file {}: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    /// The key given does not open the data folder's keyring (another key, or the other kind).
    #[error("{0}")]
    WrongKey(String),
    /// The data folder still holds a plaintext key file from an older store.
    #[error(
        "{} holds a key in plaintext: the folder was made by an older hdg, whose keys and layout this one does not read; import its records into a new store",
        .0.display()
    )]
    PlaintextKeys(PathBuf),
    /// The database was written in another on-disk layout.
    #[error(
        "the database was made by an older hdg (records named by id, shares by instant), whose layout this one does not read; import its records into a new store"
    )]
    OldLayout,
    /// No record with this id.
    #[error("record {0} is not in the store")]
    NotFound(RecordId),
    /// No record with this handle.
    #[error("no record has the handle {0} in this store")]
    NotFoundHandle(RecordHandle),
    /// The patient's data key was destroyed (crypto-shredded).
    #[error("patient {0} was erased: their records can no longer be read or added")]
    Erased(Pseudonym),
    /// The patient has no records here.
    #[error("patient {0} has no records in this store")]
    UnknownPatient(Pseudonym),
    /// A correction names a record that is not stored.
    #[error("record {id} corrects record {old}, which is not in the store")]
    UnknownSuperseded { id: RecordId, old: RecordId },
    /// A record may be superseded once; later corrections supersede the latest version.
    #[error("record {old} is already superseded by {by}; correct the latest version instead")]
    AlreadySuperseded { old: RecordId, by: RecordId },
    /// A correction belongs to another patient than the record it corrects.
    #[error("record {id} corrects record {old} of another patient")]
    CorrectionPatientMismatch { id: RecordId, old: RecordId },
    /// Stored bytes do not decode or do not authenticate.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt { what: String, reason: String },
    /// A share row received from a peer is malformed; the whole batch is refused.
    #[error("share row for record {record}: {reason}")]
    InvalidShareRow {
        /// The handle of the record the row shares.
        record: RecordHandle,
        /// Which rule it breaks (never the share values).
        reason: &'static str,
    },
    /// The ledger refused an operation (e.g. a proof for a size it does not have).
    #[error("ledger: {0}")]
    Ledger(String),
    /// The store was closed (the node is shutting down) while a handle to it was still in use.
    #[error("the store is closed")]
    Closed,
}
