//! The wall clock as the schema's timestamp: what the node stamps on its ledger entries and
//! checks signed requests against, and what the commands sign with.

use hdg_schema::Timestamp;

/// The current time, as the schema's timestamp ([`Timestamp::now`]).
pub fn now() -> Timestamp {
    Timestamp::now()
}
