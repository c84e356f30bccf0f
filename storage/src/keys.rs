//! Key material: 256-bit secret keys, and per-patient data keys wrapped by the master key.
//!
//! The master key wraps every patient's data key (XChaCha20-Poly1305, the patient pseudonym as
//! associated data); destroying a data key crypto-shreds that patient's records. The master key
//! itself is kept sealed in the data folder's keyring ([`crate::keyring`]).

use std::fs;
use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hdg_schema::Pseudonym;
use rand::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::StoreError;

const NONCE_LEN: usize = 24;
const WRAP_CONTEXT: &[u8] = b"hdg data key v1";

/// A 256-bit symmetric key, wiped from memory on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        SecretKey(k)
    }

    /// The key bytes; callers must not copy them anywhere that outlives the key.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// A subkey of `master` for one purpose, named by `context` (BLAKE3 key derivation).
    pub fn derived(master: &SecretKey, context: &str) -> Self {
        SecretKey(blake3::derive_key(context, master.expose()))
    }

    /// A key from its 32 bytes (the caller wipes its own copy).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey(bytes)
    }
}

/// Fills `out` with fresh random bytes (nonces).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

/// Wraps a patient's data key under the master key; the pseudonym is bound as associated data.
pub fn wrap_data_key(master: &SecretKey, patient: &Pseudonym, data_key: &SecretKey) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(&(*master.expose()).into());
    let nonce = random_bytes::<NONCE_LEN>();
    let aad = wrap_aad(patient);
    let ct = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: data_key.expose(),
                aad: &aad,
            },
        )
        .expect("XChaCha20-Poly1305 encryption of 32 bytes cannot fail");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Unwraps a data key; fails when the wrapping was made for another patient or another master key.
pub fn unwrap_data_key(
    master: &SecretKey,
    patient: &Pseudonym,
    wrapped: &[u8],
) -> Result<SecretKey, StoreError> {
    let corrupt = || StoreError::Corrupt {
        what: format!("data key of patient {patient}"),
        reason: "does not unwrap under the master key".into(),
    };
    if wrapped.len() <= NONCE_LEN {
        return Err(corrupt());
    }
    let (nonce, ct) = wrapped.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
    let cipher = XChaCha20Poly1305::new(&(*master.expose()).into());
    let aad = wrap_aad(patient);
    let plain = Zeroizing::new(
        cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| corrupt())?,
    );
    let key: [u8; 32] = plain.as_slice().try_into().map_err(|_| corrupt())?;
    Ok(SecretKey(key))
}

fn wrap_aad(patient: &Pseudonym) -> Vec<u8> {
    let mut aad = WRAP_CONTEXT.to_vec();
    aad.extend_from_slice(&patient.0);
    aad
}

/// Writes a new file readable only by its owner (mode 0600 on Unix), all or nothing: the bytes go
/// to a temporary file that is synced and then renamed into place, so a crash never leaves a
/// truncated key behind. Refuses to overwrite an existing file.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "refusing to overwrite an existing key file",
        ));
    }
    let tmp = path.with_extension("tmp");
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_key_unwraps_only_for_its_patient_and_master() {
        let master = SecretKey::random();
        let p = Pseudonym([1; 32]);
        let q = Pseudonym([2; 32]);
        let dk = SecretKey::random();
        let wrapped = wrap_data_key(&master, &p, &dk);
        assert_eq!(
            unwrap_data_key(&master, &p, &wrapped).unwrap().expose(),
            dk.expose()
        );
        assert!(unwrap_data_key(&master, &q, &wrapped).is_err());
        assert!(unwrap_data_key(&SecretKey::random(), &p, &wrapped).is_err());
        assert!(unwrap_data_key(&master, &p, &wrapped[..10]).is_err());
    }

    #[test]
    fn private_files_are_owner_only_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write_private_file(&path, b"one").unwrap();
        assert!(write_private_file(&path, b"two").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
