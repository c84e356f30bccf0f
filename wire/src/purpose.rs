//! What data may be used for: the purpose a query names and a patient's consent grants.

use serde::{Deserialize, Serialize};

/// What data may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Research studies (researcher queries ask for this by default).
    Research,
    /// Aggregate statistics (public health, quality reports).
    Statistics,
    /// The patient's own treatment.
    Treatment,
}
