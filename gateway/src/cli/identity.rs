//! `hdg identity new --role patient --out FILE` and `hdg identity show FILE`: a person's or a
//! feed's key without tools from outside the project. `new` writes a fresh ed25519 seed (mode
//! 0600, never over an existing file) and prints what the registry needs of it; `show` prints
//! the same for a key that exists. A patient's pseudonym is printed too: it is derived from the
//! public key, the same at every hospital, and it is what their audit and an erasure name.

use std::path::PathBuf;
use std::process::ExitCode;

use ed25519_dalek::SigningKey;
use hdg_client::key::{read_seed, write_new_seed};
use hdg_schema::Pseudonym;
use hdg_wire::registry::Role;

/// Arguments of `hdg identity`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

/// Make a key, or show one.
#[derive(clap::Subcommand)]
enum Action {
    /// Make a new key: the seed goes to FILE (readable only by you), the public key to the
    /// screen, with the registry entry that registers it.
    New {
        /// What it will be registered as: patient, clinician, researcher, admin or source.
        #[arg(long)]
        role: Role,
        /// Where to write the seed (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The name in the registry entry (default: the file's name without its extension;
        /// never a patient's real name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Show the public key (and a patient's pseudonym) of an existing key file.
    Show {
        /// The seed file.
        file: PathBuf,
        /// Print the registry entry for this role too.
        #[arg(long)]
        role: Option<Role>,
    },
}

/// What a key is known by: its public key, and the pseudonym its records carry if it is a
/// patient's.
fn describe(key: &SigningKey, role: Option<Role>, name: &str) -> String {
    let public = hex::encode(key.verifying_key().to_bytes());
    let mut out = format!("public key: {public}\n");
    if role.is_none_or(|r| r == Role::Patient) {
        let pseudonym = Pseudonym::from_public_key(&key.verifying_key().to_bytes());
        out.push_str(&format!(
            "pseudonym (when enrolled as a patient): {}\n",
            hex::encode(pseudonym.0)
        ));
    }
    if let Some(role) = role {
        out.push_str(&format!(
            "registry entry (identities/registry.toml, or `hdg registry add --name {name} --role {role} --key {public}` with the admins' approvals):\n\
             [[identity]]\nname = \"{name}\"\nrole = \"{role}\"\npublic_key = \"{public}\"\n"
        ));
    }
    out
}

/// The registry name a key file suggests: its file name without the extension.
fn name_of(file: &std::path::Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "identity".into())
}

/// Runs `hdg identity`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::New { role, out, name } => {
            let key = write_new_seed(&out)?;
            let name = name.unwrap_or_else(|| name_of(&out));
            println!("wrote a new {role} key to {}", out.display());
            print!("{}", describe(&key, Some(role), &name));
        }
        Action::Show { file, role } => {
            let key = read_seed(&file)?;
            print!("{}", describe(&key, role, &name_of(&file)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patient_is_shown_with_the_pseudonym_their_records_carry() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let public = key.verifying_key().to_bytes();
        let text = describe(&key, Some(Role::Patient), "patient-9");
        assert!(text.contains(&format!("public key: {}", hex::encode(public))));
        let pseudonym = hex::encode(Pseudonym::from_public_key(&public).0);
        assert!(text.contains(&pseudonym), "{text}");
        // The registry entry reads as the registry file a node loads.
        let entry = &text[text.find("[[identity]]").unwrap()..];
        let parsed: crate::node::registry::RegistryFile = toml::from_str(entry).unwrap();
        let identity = &parsed.identities[0];
        assert_eq!(
            (identity.name.as_str(), identity.role),
            ("patient-9", Role::Patient)
        );
        assert_eq!(identity.public_key, hex::encode(public));
        // A clinician has no pseudonym to show.
        let text = describe(&key, Some(Role::Clinician), "dr-9");
        assert!(!text.contains("pseudonym"), "{text}");
        assert_eq!(name_of(std::path::Path::new("keys/dr-who.key")), "dr-who");
    }
}
