//! The wall clock as the schema's timestamp: what the node stamps on its ledger entries and
//! checks signed requests against, and what the commands sign with.

use hdg_schema::Timestamp;

/// The current time, as the schema's timestamp.
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Timestamp(ms)
}
