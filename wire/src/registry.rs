//! The identity registry as clients name it: the roles an identity may have, and a change to
//! the registry as k administrators approve it ([`crate::approvals`]). The registry itself and
//! the rule a node applies to a change are the node's.

use serde::{Deserialize, Serialize};

use crate::purpose::Purpose;

/// What an identity may do.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A research institution: may run statistics.
    Researcher,
    /// A patient: grants consents, reads their records.
    Patient,
    /// A treating clinician: requests raw records, with the patient's approval.
    Clinician,
    /// A node administrator: approves changes to this registry (k of the admins).
    Admin,
    /// A hospital's feed of records (an EHR interface): signs the records it posts.
    Source,
}

/// What a registry change does (the approved body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
pub enum RegistryChange {
    /// Register a new identity.
    Add {
        /// Its name (never a patient's real name).
        name: String,
        /// What it may do.
        role: Role,
        /// Its ed25519 public key, hex.
        public_key: String,
        /// A researcher's allowed purposes (none: research only).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        purposes: Vec<Purpose>,
    },
    /// Set the purposes a registered researcher may query for.
    Purposes {
        /// The researcher's ed25519 public key, hex.
        public_key: String,
        /// Its allowed purposes (at least one).
        purposes: Vec<Purpose>,
    },
    /// Remove an identity (every role it has).
    Remove {
        /// Its ed25519 public key, hex.
        public_key: String,
    },
}
