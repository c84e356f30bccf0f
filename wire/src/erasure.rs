//! An erasure request as a patient or the administrators post it (`POST /v1/erasure`): the
//! patient's own signed request with the fixed body [`ERASE_BODY`], or the administrators'
//! approved request naming the patient's pseudonym ([`AdminErasure`]). The rule each node
//! applies before it erases anything is the node's.

use hdg_schema::Pseudonym;
use serde::{Deserialize, Serialize};

use crate::approvals::ApprovedRequest;
use crate::signed::SignedRequest;

/// The body of a patient's erasure request.
pub const ERASE_BODY: &str = r#"{"action":"erase"}"#;

/// An erasure request as posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "lowercase", deny_unknown_fields)]
pub enum ErasureRequest {
    /// The patient's own signed request.
    Patient {
        /// Signed by the patient, body [`ERASE_BODY`].
        signed: SignedRequest,
    },
    /// The administrators' approved request.
    Admins {
        /// Body [`AdminErasure`], approved by k registered admins.
        request: ApprovedRequest,
    },
}

/// The body administrators approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminErasure {
    /// Always `"erase"`.
    pub action: String,
    /// The patient's pseudonym (64 lowercase hex digits).
    pub patient: Pseudonym,
}
