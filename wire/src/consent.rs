//! A patient's consent request as the patient signs it (`POST /v1/consent`): a grant for
//! purposes, indicators and a window, the raw-access policy, or the withdrawal of a grant. The
//! rules a node applies to it (what a grant must hold, which grants are in force) are the
//! node's; the same body read from a FHIR R4 Consent is [`crate::consent_fhir`].

use serde::{Deserialize, Serialize};

use crate::purpose::Purpose;

/// The body of a patient's signed consent request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
pub enum ConsentBody {
    /// Permit the use of the patient's data.
    Grant {
        /// For which purposes (at least one).
        purposes: Vec<Purpose>,
        /// Which indicators (LOINC codes); empty: all.
        #[serde(default)]
        indicators: Vec<String>,
        /// Earliest effective time of the data covered, unix ms.
        #[serde(default)]
        from: Option<i64>,
        /// First effective time not covered, unix ms.
        #[serde(default)]
        to: Option<i64>,
        /// Only this research institution (its ed25519 key, hex); `None`: any registered one.
        #[serde(default)]
        institution: Option<String>,
        /// When the grant lapses, unix ms; `None`: until revoked.
        #[serde(default)]
        expires: Option<i64>,
    },
    /// Who must approve a raw access to the patient's records: `required` distinct keys among
    /// the patient's own and `clinicians` (e.g. 2 of 3 with a second clinician). The latest
    /// policy a patient signed applies; without one, the patient and the requesting clinician.
    AccessPolicy {
        /// The clinicians' keys (hex) who may request and approve.
        clinicians: Vec<String>,
        /// How many distinct approvals a raw access needs (at least 2).
        required: usize,
    },
    /// Withdraw an earlier grant by the same patient.
    Revoke {
        /// The grant's consent id (hex).
        consent: String,
    },
}
