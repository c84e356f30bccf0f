//! Aborted computations. When a party deviates from the protocol and the others find it, each
//! party that stops anchors an abort entry: the query's session as subject (the same subject
//! as the query's own entry), the reason stored beside it and committed by the content hash.
//! The reason names the parties concerned and the protocol step, never a value.

use hdg_ledger::EntryKind;
use hdg_schema::Timestamp;

use crate::error::StoreError;
use crate::store::Store;

impl Store {
    /// Anchors the abort of the computation of session `session`, asked by `actor`, for
    /// `reason`, in one synced write; returns the entry's leaf index and the new signed head.
    pub fn anchor_abort(
        &mut self,
        session: [u8; 32],
        reason: &str,
        actor: [u8; 32],
        now: Timestamp,
    ) -> Result<(u64, String), StoreError> {
        self.anchor_with_text(EntryKind::Abort, session, reason, actor, now, |_, _, _| {
            Ok(())
        })
    }
}
