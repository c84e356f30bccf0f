//! The identity registry: the public keys of the research institutions and patients a cluster
//! knows (`identities/registry.toml`, written by `hdg init`, loaded by every node). Only public
//! keys live here; each identity's ed25519 seed is in its own 0600 file beside it.
//!
//! A researcher is registered with the purposes it may query for (admins set them, k of n, like
//! any registry change); without a list it may query for research only. A query's purpose is
//! what the consents are matched against, so it is never the researcher's own word.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use hdg_schema::{Enrolments, LinkConflict, PseudonymKey};
use serde::{Deserialize, Serialize};

use super::config::ConfigError;
use super::consent::Purpose;
use crate::net::identity::parse_key;

pub use hdg_wire::registry::Role;

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
    /// A researcher's allowed purposes (none listed: research only); only for researchers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purposes: Vec<Purpose>,
    /// The hospital (node name) a clinician, administrator or source belongs to; staff enrol
    /// patients only at their own hospital's node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hospital: Option<String>,
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
    /// The purposes of the researchers registered with a list (see the module doc).
    pub purposes: BTreeMap<[u8; 32], BTreeSet<Purpose>>,
    /// The hospital of each key registered with one (staff and sources).
    pub hospitals: BTreeMap<[u8; 32], String>,
}

/// What a researcher registered without a list of purposes may query for.
pub const DEFAULT_PURPOSE: Purpose = Purpose::Research;

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
        let mut registry = Registry::default();
        for (i, entry) in parsed.identities.into_iter().enumerate() {
            let bad = |field: &str, reason: &str| ConfigError::Field {
                file: file.to_path_buf(),
                field: format!("identity[{i}].{field}"),
                reason: reason.to_string(),
            };
            let key = parse_key(&entry.public_key)
                .and_then(|k| VerifyingKey::from_bytes(&k).ok())
                .ok_or_else(|| {
                    bad(
                        "public_key",
                        "must be an ed25519 public key in 64 hex digits",
                    )
                })?;
            registry
                .set_purposes(entry.role, key.as_bytes(), &entry.purposes)
                .map_err(|reason| bad("purposes", reason))?;
            registry
                .set_hospital(entry.role, key.as_bytes(), entry.hospital.as_deref())
                .map_err(|reason| bad("hospital", reason))?;
            registry.identities.push((entry.name, entry.role, key));
        }
        Ok(registry)
    }

    /// Sets the purposes `key`, registered as `role`, may query for; `Err` when they do not
    /// apply (not a researcher, or the same purpose twice). An empty list is the default.
    pub fn set_purposes(
        &mut self,
        role: Role,
        key: &[u8; 32],
        purposes: &[Purpose],
    ) -> Result<(), &'static str> {
        if purposes.is_empty() {
            self.purposes.remove(key);
            return Ok(());
        }
        if role != Role::Researcher {
            return Err("only a researcher has purposes");
        }
        let set: BTreeSet<Purpose> = purposes.iter().copied().collect();
        if set.len() != purposes.len() {
            return Err("lists a purpose twice");
        }
        self.purposes.insert(*key, set);
        Ok(())
    }

    /// Sets the hospital `key`, registered as `role`, belongs to (`None`: none); `Err` when a
    /// hospital does not apply (only clinicians, administrators and sources have one) or is
    /// empty.
    pub fn set_hospital(
        &mut self,
        role: Role,
        key: &[u8; 32],
        hospital: Option<&str>,
    ) -> Result<(), &'static str> {
        let Some(hospital) = hospital else {
            return Ok(());
        };
        if !matches!(role, Role::Clinician | Role::Admin | Role::Source) {
            return Err("only a clinician, an administrator or a source belongs to a hospital");
        }
        if hospital.is_empty() {
            return Err("must name the hospital's node");
        }
        self.hospitals.insert(*key, hospital.to_owned());
        Ok(())
    }

    /// Whether `key` is a clinician or administrator registered at `hospital`: who may enrol
    /// that hospital's patients.
    pub fn is_staff_of(&self, key: &[u8; 32], hospital: &str) -> bool {
        (self.has(Role::Clinician, key) || self.has(Role::Admin, key))
            && self.hospitals.get(key).is_some_and(|h| h == hospital)
    }

    /// The hospital `key` is registered at, if any.
    pub fn hospital_of(&self, key: &[u8; 32]) -> Option<&str> {
        self.hospitals.get(key).map(String::as_str)
    }

    /// Whether `key` is a registered researcher allowed to query for `purpose`.
    pub fn may_query_for(&self, key: &[u8; 32], purpose: Purpose) -> bool {
        self.has(Role::Researcher, key)
            && self
                .purposes
                .get(key)
                .map_or(purpose == DEFAULT_PURPOSE, |allowed| {
                    allowed.contains(&purpose)
                })
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

/// Reads an enrolments file, checking every key and that no reference and no key is enrolled
/// twice; the references are kept only as their pseudonyms under `pseudonyms`.
pub fn load_enrolments(file: &Path, pseudonyms: &PseudonymKey) -> Result<Enrolments, ConfigError> {
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
        match out.link(pseudonyms.pseudonym(&p.reference), key) {
            Ok(()) => {}
            Err(LinkConflict::Reference) => return Err(bad("reference", "is enrolled twice")),
            Err(LinkConflict::Key) => {
                return Err(bad("public_key", "is enrolled for another reference"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(entries: &str) -> Result<Registry, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.toml");
        std::fs::write(&path, entries).unwrap();
        Registry::load(&path)
    }

    fn key(b: u8) -> String {
        let k = ed25519_dalek::SigningKey::from_bytes(&[b; 32]);
        hex::encode(k.verifying_key().to_bytes())
    }

    /// An enrolments file links each reference once and each key once; a second link of
    /// either is refused by the field that repeats, and the references are kept only as
    /// pseudonyms.
    #[test]
    fn an_enrolments_file_links_a_reference_and_a_key_once() {
        let pseudonyms = PseudonymKey::derive(&[3; 32]);
        let load = |entries: &[(&str, u8)]| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("enrolments.toml");
            let text: String = entries
                .iter()
                .map(|(r, k)| {
                    format!(
                        "[[patient]]\nreference = \"{r}\"\npublic_key = \"{}\"\n",
                        key(*k)
                    )
                })
                .collect();
            std::fs::write(&path, text).unwrap();
            load_enrolments(&path, &pseudonyms)
        };
        let two = load(&[("Patient/1", 1), ("Patient/2", 2)]).unwrap();
        assert_eq!(two.len(), 2);
        let k2 = *ed25519_dalek::SigningKey::from_bytes(&[2; 32])
            .verifying_key()
            .as_bytes();
        assert_eq!(
            two.reference_of(&k2),
            Some(&pseudonyms.pseudonym("Patient/2"))
        );
        let field = |r: Result<Enrolments, ConfigError>| match r {
            Err(ConfigError::Field { field, reason, .. }) => format!("{field}: {reason}"),
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(
            field(load(&[("Patient/1", 1), ("Patient/1", 2)])),
            "patient[1].reference: is enrolled twice"
        );
        assert_eq!(
            field(load(&[("Patient/1", 1), ("Patient/2", 1)])),
            "patient[1].public_key: is enrolled for another reference"
        );
    }

    #[test]
    fn a_researchers_purposes_come_from_the_file_and_default_to_research() {
        let r = file_with(&format!(
            "[[identity]]\nname = \"a\"\nrole = \"researcher\"\npublic_key = \"{}\"\n\
             purposes = [\"statistics\", \"treatment\"]\n\
             [[identity]]\nname = \"b\"\nrole = \"researcher\"\npublic_key = \"{}\"\n",
            key(1),
            key(2)
        ))
        .unwrap();
        let k = |b: u8| {
            *ed25519_dalek::SigningKey::from_bytes(&[b; 32])
                .verifying_key()
                .as_bytes()
        };
        assert!(r.may_query_for(&k(1), Purpose::Treatment));
        assert!(!r.may_query_for(&k(1), Purpose::Research));
        assert!(r.may_query_for(&k(2), Purpose::Research));
        assert!(!r.may_query_for(&k(2), Purpose::Statistics));
        // Not registered at all: nothing.
        assert!(!r.may_query_for(&k(3), Purpose::Research));
    }

    #[test]
    fn purposes_on_anyone_but_a_researcher_name_the_field() {
        let e = file_with(&format!(
            "[[identity]]\nname = \"p\"\nrole = \"patient\"\npublic_key = \"{}\"\n\
             purposes = [\"research\"]\n",
            key(1)
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("identity[0].purposes") && e.contains("only a researcher"),
            "{e}"
        );
    }
}
