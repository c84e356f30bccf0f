//! The identity registry as clients name it: the roles an identity may have, and a change to
//! the registry as k administrators approve it ([`crate::approvals`]). The registry itself and
//! the rule a node applies to a change are the node's.

use std::fmt;
use std::str::FromStr;

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

impl Role {
    /// Every role, in the order a refusal lists them.
    pub const ALL: [Role; 5] = [
        Role::Researcher,
        Role::Patient,
        Role::Clinician,
        Role::Admin,
        Role::Source,
    ];

    /// The role's name in the registry file, on the wire and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Researcher => "researcher",
            Role::Patient => "patient",
            Role::Clinician => "clinician",
            Role::Admin => "admin",
            Role::Source => "source",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A role name that is none of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: researcher, patient, clinician, admin or source")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
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
        /// The hospital (node name) a clinician, administrator or source belongs to: staff
        /// enrol patients only there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hospital: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_reads_back_from_its_name_as_serde_writes_it() {
        for r in Role::ALL {
            assert_eq!(r.name().parse::<Role>(), Ok(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
        let e = "doctor".parse::<Role>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown role \"doctor\": researcher, patient, clinician, admin or source"
        );
    }
}
