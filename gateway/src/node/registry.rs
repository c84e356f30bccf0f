//! The identity registry: the public keys of the research institutions and patients a cluster
//! knows (`identities/registry.toml`, written by `hdg init`, loaded by every node). Only public
//! keys live here; each identity's ed25519 seed is in its own 0600 file beside it.

use std::path::Path;

use ed25519_dalek::VerifyingKey;
use hdg_schema::Enrolments;
use serde::{Deserialize, Serialize};

use super::config::{ConfigError, parse_key};

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

/// One registered identity, as written in the registry file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdentityEntry {
    /// A name for people (never a patient's real name: demo identities are `patient-1`, ...).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Its ed25519 public key, 64 hex digits.
    pub public_key: String,
}

/// The registry file's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    /// Every identity.
    #[serde(default, rename = "identity")]
    pub identities: Vec<IdentityEntry>,
}

/// A loaded registry: names, roles and checked keys.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// `(name, role, key)` of every identity.
    pub identities: Vec<(String, Role, VerifyingKey)>,
}

impl Registry {
    /// Reads `file`, checking every key is a valid ed25519 public key.
    pub fn load(file: &Path) -> Result<Registry, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Read {
            file: file.to_path_buf(),
            reason: e.to_string(),
        })?;
        let parsed: RegistryFile = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            file: file.to_path_buf(),
            reason: e.to_string().trim_end().to_string(),
        })?;
        let mut identities = Vec::with_capacity(parsed.identities.len());
        for (i, entry) in parsed.identities.into_iter().enumerate() {
            let key = parse_key(&entry.public_key)
                .and_then(|k| VerifyingKey::from_bytes(&k).ok())
                .ok_or_else(|| ConfigError::Field {
                    file: file.to_path_buf(),
                    field: format!("identity[{i}].public_key"),
                    reason: "must be an ed25519 public key in 64 hex digits".to_string(),
                })?;
            identities.push((entry.name, entry.role, key));
        }
        Ok(Registry { identities })
    }

    /// Whether `key` is registered with `role`.
    pub fn has(&self, role: Role, key: &[u8; 32]) -> bool {
        self.identities
            .iter()
            .any(|(_, r, k)| *r == role && k.as_bytes() == key)
    }

    /// The name registered for `key`, if any.
    pub fn name_of(&self, key: &[u8; 32]) -> Option<&str> {
        self.identities
            .iter()
            .find(|(_, _, k)| k.as_bytes() == key)
            .map(|(n, _, _)| n.as_str())
    }

    /// How many identities have `role`.
    pub fn count(&self, role: Role) -> usize {
        self.identities
            .iter()
            .filter(|(_, r, _)| *r == role)
            .count()
    }
}

/// One enrolled patient, as written in the enrolments file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentEntry {
    /// The hospital's local reference, normalised as the importer does (`Patient/<id>`).
    pub reference: String,
    /// The patient's ed25519 public key, 64 hex digits.
    pub public_key: String,
}

/// The enrolments file's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentsFile {
    /// Every enrolled patient.
    #[serde(default, rename = "patient")]
    pub patients: Vec<EnrolmentEntry>,
}

/// Reads an enrolments file, checking every key and that no reference is enrolled twice.
pub fn load_enrolments(file: &Path) -> Result<Enrolments, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Read {
        file: file.to_path_buf(),
        reason: e.to_string(),
    })?;
    let parsed: EnrolmentsFile = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
        file: file.to_path_buf(),
        reason: e.to_string().trim_end().to_string(),
    })?;
    let mut out = Enrolments::default();
    for (i, p) in parsed.patients.into_iter().enumerate() {
        let bad = |field: &str, reason: &str| ConfigError::Field {
            file: file.to_path_buf(),
            field: format!("patient[{i}].{field}"),
            reason: reason.to_string(),
        };
        let key = parse_key(&p.public_key)
            .filter(|k| VerifyingKey::from_bytes(k).is_ok())
            .ok_or_else(|| {
                bad(
                    "public_key",
                    "must be an ed25519 public key in 64 hex digits",
                )
            })?;
        if out.0.insert(p.reference, key).is_some() {
            return Err(bad("reference", "is enrolled twice"));
        }
    }
    Ok(out)
}
