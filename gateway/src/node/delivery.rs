//! The delivery worker: what this node owes a peer that could not take it when it was asked —
//! consents and erasure requests, queued durably — is retried until the peer takes it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::consent_endpoint::deliver_pending_consents;
use super::erasure_endpoint::deliver_pending_erasures;
use super::state::{NodeState, pause};

/// How often queued deliveries are retried.
const DELIVERY_EVERY: Duration = Duration::from_secs(2);

/// Until `stop`, retries the queued consent and erasure deliveries every [`DELIVERY_EVERY`].
pub async fn run_deliveries(state: Arc<NodeState>, mut stop: watch::Receiver<bool>) {
    loop {
        if pause(&mut stop, DELIVERY_EVERY).await {
            return;
        }
        deliver_pending_consents(&state).await;
        deliver_pending_erasures(&state).await;
    }
}
