//! The store's secret keys at rest: the master key (it wraps every patient's data key and seals
//! share rows) and the node's ed25519 identity seed, kept together in one file `keyring` in the
//! data folder, sealed under a key the operator keeps *outside* that folder — a key file at a
//! configured path, or a passphrase stretched with Argon2id. A copy of the data folder (a backup,
//! a stolen disk) therefore opens nothing without the operator's key. The node's public key is
//! kept in the clear beside it (`node.pub`), so tools that only need it never unlock anything.
//!
//! Layout (version 1), integers big-endian:
//!
//! ```text
//! "hdg keyring\n" (12 bytes) | version u8 = 1 | kind u8 (1 = key file, 2 = passphrase)
//! | Argon2id m_cost KiB u32 | t_cost u32 | p_cost u32 | salt (16)     (zeros for a key file)
//! | nonce (24) | XChaCha20-Poly1305 ciphertext of master (32) || node seed (32), with its tag
//! ```
//!
//! Everything before the nonce is the associated data, so the kind and the KDF parameters cannot
//! be changed without the open failing. A key file's 32 bytes are turned into the wrapping key by
//! BLAKE3 key derivation (a domain of its own); a passphrase by Argon2id with the stored salt and
//! parameters (RFC 9106's second recommended option, 64 MiB, 3 passes).

use std::fs;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::SigningKey;
use zeroize::Zeroizing;

use crate::error::StoreError;
use crate::keys::{SecretKey, random_bytes, write_private_file};

/// File name of the sealed keys inside the data folder.
pub const KEYRING_FILE: &str = "keyring";
/// File name of the node's ed25519 public key (64 hex digits) inside the data folder.
pub const NODE_PUB_FILE: &str = "node.pub";
/// Names of the plaintext key files of stores made before keys were sealed; a folder that has one
/// is refused (its layout is an older one too).
pub const LEGACY_KEY_FILES: [&str; 2] = ["master.key", "node.key"];

const MAGIC: &[u8; 12] = b"hdg keyring\n";
const VERSION: u8 = 1;
const KIND_KEY: u8 = 1;
const KIND_PASSPHRASE: u8 = 2;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = MAGIC.len() + 2 + 12 + SALT_LEN;
const SECRETS_LEN: usize = 64;
const FILE_LEN: usize = HEADER_LEN + NONCE_LEN + SECRETS_LEN + 16;
const KEY_FILE_CONTEXT: &str = "hdg 2026-11 keyring wrapping key from an operator key file v1";

/// Argon2id cost of a new passphrase-wrapped keyring: 64 MiB, 3 passes, one lane.
const ARGON2_M_KIB: u32 = 64 * 1024;
const ARGON2_T: u32 = 3;
const ARGON2_P: u32 = 1;
/// The most a keyring may ask of Argon2id (1 GiB, 16 passes, 8 lanes): the parameters come from
/// the file, and a tampered file must not make opening it exhaust the machine.
const ARGON2_MAX: (u32, u32, u32) = (1 << 20, 16, 8);

/// Where the key that unlocks a data folder's keyring comes from. Always from outside the folder.
pub enum KeySource {
    /// A file holding 32 random bytes as 64 hex digits (mode 0600), at a path outside the data
    /// folder. With `create`, a missing file is made.
    File(PathBuf),
    /// A passphrase, stretched with Argon2id.
    Passphrase(Zeroizing<String>),
    /// A 32-byte key the caller already holds (from a key-management service, or a test).
    Key(SecretKey),
}

impl KeySource {
    /// What this source is, for error messages (never the key itself).
    pub fn describe(&self) -> String {
        match self {
            KeySource::File(p) => format!("key file {}", p.display()),
            KeySource::Passphrase(_) => "passphrase".into(),
            KeySource::Key(_) => "key".into(),
        }
    }

    fn kind(&self) -> u8 {
        match self {
            KeySource::File(_) | KeySource::Key(_) => KIND_KEY,
            KeySource::Passphrase(_) => KIND_PASSPHRASE,
        }
    }
}

/// A fixed key source for tests of this crate.
#[cfg(test)]
pub(crate) fn test_keys() -> KeySource {
    KeySource::Key(SecretKey::from_bytes([0x42; 32]))
}

/// The store's secrets, unlocked.
pub struct Keyring {
    /// The master key.
    pub master: SecretKey,
    /// The node's ed25519 identity seed.
    pub node_seed: SecretKey,
}

impl Keyring {
    /// The node's ed25519 signing key.
    pub fn node_key(&self) -> SigningKey {
        SigningKey::from_bytes(self.node_seed.expose())
    }
}

/// True when `dir` holds a keyring.
pub fn exists(dir: &Path) -> bool {
    dir.join(KEYRING_FILE).exists()
}

/// Refuses plaintext key files left by an older store, naming the first found.
pub fn refuse_plaintext_keys(dir: &Path) -> Result<(), StoreError> {
    match LEGACY_KEY_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
    {
        Some(path) => Err(StoreError::PlaintextKeys(path)),
        None => Ok(()),
    }
}

/// Makes fresh secrets, seals them under `source` into `dir/keyring` and writes `dir/node.pub`.
pub fn create(dir: &Path, source: &KeySource) -> Result<Keyring, StoreError> {
    let ring = Keyring {
        master: SecretKey::random(),
        node_seed: SecretKey::random(),
    };
    write(dir, source, &ring)?;
    Ok(ring)
}

/// Opens `dir/keyring` with `source`. A wrong key, or a source of the other kind, is refused
/// with [`StoreError::WrongKey`].
pub fn open(dir: &Path, source: &KeySource) -> Result<Keyring, StoreError> {
    let path = dir.join(KEYRING_FILE);
    let bytes = fs::read(&path).map_err(|e| StoreError::KeyFile {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let malformed = |reason: &str| StoreError::KeyFile {
        path: path.clone(),
        reason: reason.into(),
    };
    if bytes.len() != FILE_LEN || &bytes[..MAGIC.len()] != MAGIC {
        return Err(malformed("not a keyring"));
    }
    let header = &bytes[..HEADER_LEN];
    if header[MAGIC.len()] != VERSION {
        return Err(malformed("unknown keyring version"));
    }
    let kind = header[MAGIC.len() + 1];
    if kind != source.kind() {
        let wanted = if kind == KIND_PASSPHRASE {
            "a passphrase"
        } else {
            "a key file"
        };
        return Err(StoreError::WrongKey(format!(
            "the keys of {} are sealed under {wanted}, not a {}",
            dir.display(),
            source.describe()
        )));
    }
    let params = KdfParams::decode(&header[MAGIC.len() + 2..]);
    let wrapping = wrapping_key(source, &params, dir, false)?;
    let (nonce, ct) = bytes[HEADER_LEN..].split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
    let plain = Zeroizing::new(
        XChaCha20Poly1305::new(&(*wrapping.expose()).into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: header,
                },
            )
            .map_err(|_| {
                StoreError::WrongKey(format!(
                    "the keys of {} do not open with this {}: wrong key",
                    dir.display(),
                    source.describe()
                ))
            })?,
    );
    let half = |r: std::ops::Range<usize>| {
        SecretKey::from_bytes(plain[r].try_into().expect("32 of the 64 opened bytes"))
    };
    Ok(Keyring {
        master: half(0..32),
        node_seed: half(32..64),
    })
}

/// The node's ed25519 public key from `dir/node.pub` (no unlocking).
pub fn node_public_key(dir: &Path) -> Result<[u8; 32], StoreError> {
    let path = dir.join(NODE_PUB_FILE);
    let text = fs::read_to_string(&path).map_err(|e| StoreError::KeyFile {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key).map_err(|_| StoreError::KeyFile {
        path,
        reason: "must hold 64 hex digits".into(),
    })?;
    Ok(key)
}

/// Writes `dir/node.pub` when it is missing (a creation interrupted between the keyring and it).
pub fn restore_public_key(dir: &Path, key: &SigningKey) -> Result<(), StoreError> {
    let path = dir.join(NODE_PUB_FILE);
    if path.exists() {
        return Ok(());
    }
    let public = hex::encode(key.verifying_key().to_bytes());
    write_private_file(&path, public.as_bytes()).map_err(|e| StoreError::KeyFile {
        path,
        reason: e.to_string(),
    })
}

fn write(dir: &Path, source: &KeySource, ring: &Keyring) -> Result<(), StoreError> {
    let params = match source {
        KeySource::Passphrase(_) => KdfParams {
            m_kib: ARGON2_M_KIB,
            t: ARGON2_T,
            p: ARGON2_P,
            salt: random_bytes::<SALT_LEN>(),
        },
        _ => KdfParams::none(),
    };
    let wrapping = wrapping_key(source, &params, dir, true)?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.push(VERSION);
    header.push(source.kind());
    params.encode(&mut header);
    let mut secrets = Zeroizing::new([0u8; SECRETS_LEN]);
    secrets[..32].copy_from_slice(ring.master.expose());
    secrets[32..].copy_from_slice(ring.node_seed.expose());
    let nonce = random_bytes::<NONCE_LEN>();
    let ct = XChaCha20Poly1305::new(&(*wrapping.expose()).into())
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: secrets.as_slice(),
                aad: &header,
            },
        )
        .expect("XChaCha20-Poly1305 encryption of 64 bytes cannot fail");
    let mut file = header;
    file.extend_from_slice(&nonce);
    file.extend_from_slice(&ct);
    let key_error = |path: PathBuf| {
        move |e: std::io::Error| StoreError::KeyFile {
            path,
            reason: e.to_string(),
        }
    };
    let ring_path = dir.join(KEYRING_FILE);
    write_private_file(&ring_path, &file).map_err(key_error(ring_path.clone()))?;
    restore_public_key(dir, &ring.node_key())
}

/// The key that seals the keyring, from `source`.
fn wrapping_key(
    source: &KeySource,
    params: &KdfParams,
    dir: &Path,
    create: bool,
) -> Result<SecretKey, StoreError> {
    match source {
        KeySource::Key(k) => Ok(SecretKey::derived(k, KEY_FILE_CONTEXT)),
        KeySource::File(path) => {
            refuse_inside(path, dir)?;
            let key = if create && !path.exists() {
                let k = SecretKey::random();
                write_private_file(path, hex::encode(k.expose()).as_bytes()).map_err(|e| {
                    StoreError::KeyFile {
                        path: path.clone(),
                        reason: e.to_string(),
                    }
                })?;
                k
            } else {
                read_key_file(path)?
            };
            Ok(SecretKey::derived(&key, KEY_FILE_CONTEXT))
        }
        KeySource::Passphrase(text) => {
            if text.is_empty() {
                return Err(StoreError::WrongKey("the passphrase is empty".into()));
            }
            let (m, t, p) = ARGON2_MAX;
            if params.m_kib > m || params.t > t || params.p > p {
                return Err(StoreError::WrongKey(
                    "the keyring's Argon2id parameters exceed the bounds (1 GiB, 16 passes, 8 lanes): not a keyring this store wrote".into(),
                ));
            }
            let argon = Params::new(params.m_kib, params.t, params.p, Some(32))
                .map_err(|e| StoreError::WrongKey(format!("Argon2id parameters: {e}")))?;
            let mut out = Zeroizing::new([0u8; 32]);
            Argon2::new(Algorithm::Argon2id, Version::V0x13, argon)
                .hash_password_into(text.as_bytes(), &params.salt, out.as_mut_slice())
                .map_err(|e| StoreError::WrongKey(format!("Argon2id: {e}")))?;
            Ok(SecretKey::from_bytes(*out))
        }
    }
}

/// Reads a 64-hex-digit key file.
fn read_key_file(path: &Path) -> Result<SecretKey, StoreError> {
    let err = |reason: String| StoreError::KeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), key.as_mut_slice())
        .map_err(|_| err("must hold 64 hex digits".into()))?;
    Ok(SecretKey::from_bytes(*key))
}

/// A key file inside the data folder would travel with every copy of it: refused.
fn refuse_inside(key_file: &Path, dir: &Path) -> Result<(), StoreError> {
    let absolute = |p: &Path| {
        std::path::absolute(p)
            .map(|a| a.components().collect::<PathBuf>())
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let canonical = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| absolute(p));
    let folder = canonical(dir);
    let parent = key_file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = canonical(parent).join(key_file.file_name().unwrap_or_default());
    if file.starts_with(&folder) {
        return Err(StoreError::KeyFile {
            path: key_file.to_path_buf(),
            reason: format!(
                "lies inside the data folder {}: keep it outside, or every copy of the folder opens it",
                dir.display()
            ),
        });
    }
    Ok(())
}

/// Argon2id parameters and salt as stored (all zero for a key file).
struct KdfParams {
    m_kib: u32,
    t: u32,
    p: u32,
    salt: [u8; SALT_LEN],
}

impl KdfParams {
    fn none() -> KdfParams {
        KdfParams {
            m_kib: 0,
            t: 0,
            p: 0,
            salt: [0; SALT_LEN],
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.m_kib.to_be_bytes());
        out.extend_from_slice(&self.t.to_be_bytes());
        out.extend_from_slice(&self.p.to_be_bytes());
        out.extend_from_slice(&self.salt);
    }

    fn decode(b: &[u8]) -> KdfParams {
        let word = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        KdfParams {
            m_kib: word(0),
            t: word(4),
            p: word(8),
            salt: b[12..12 + SALT_LEN].try_into().expect("16 bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> (tempfile::TempDir, tempfile::TempDir) {
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap())
    }

    #[test]
    fn a_key_file_outside_the_folder_seals_and_opens_the_keys() {
        let (data, outside) = folder();
        let source = KeySource::File(outside.path().join("node.key"));
        let made = create(data.path(), &source).unwrap();
        let opened = open(data.path(), &source).unwrap();
        assert_eq!(opened.master.expose(), made.master.expose());
        assert_eq!(opened.node_seed.expose(), made.node_seed.expose());
        assert_eq!(
            node_public_key(data.path()).unwrap(),
            made.node_key().verifying_key().to_bytes()
        );
        // Neither secret is anywhere in the folder in the clear.
        for entry in fs::read_dir(data.path()).unwrap() {
            let bytes = fs::read(entry.unwrap().path()).unwrap();
            for secret in [made.master.expose(), made.node_seed.expose()] {
                assert!(!bytes.windows(32).any(|w| w == secret));
                let hex = hex::encode(secret);
                assert!(!bytes.windows(64).any(|w| w == hex.as_bytes()));
            }
        }
    }

    #[test]
    fn a_wrong_key_or_the_wrong_kind_of_key_is_refused_by_name() {
        let (data, outside) = folder();
        create(data.path(), &KeySource::File(outside.path().join("a.key"))).unwrap();
        let other = outside.path().join("b.key");
        write_private_file(&other, hex::encode([7u8; 32]).as_bytes()).unwrap();
        let e = open(data.path(), &KeySource::File(other)).err().unwrap();
        assert!(
            matches!(&e, StoreError::WrongKey(m) if m.contains("wrong key")),
            "{e}"
        );
        let e = open(
            data.path(),
            &KeySource::Passphrase(Zeroizing::new("x".into())),
        )
        .err()
        .unwrap();
        assert!(
            matches!(&e, StoreError::WrongKey(m) if m.contains("key file")),
            "{e}"
        );
    }

    #[test]
    fn a_passphrase_seals_with_argon2id_and_only_it_opens() {
        let (data, _) = folder();
        let pass = |s: &str| KeySource::Passphrase(Zeroizing::new(s.into()));
        let made = create(data.path(), &pass("correct horse battery staple")).unwrap();
        let opened = open(data.path(), &pass("correct horse battery staple")).unwrap();
        assert_eq!(opened.master.expose(), made.master.expose());
        assert!(matches!(
            open(data.path(), &pass("correct horse battery stapler")),
            Err(StoreError::WrongKey(_))
        ));
        let bytes = fs::read(data.path().join(KEYRING_FILE)).unwrap();
        let params = KdfParams::decode(&bytes[MAGIC.len() + 2..]);
        assert_eq!((params.m_kib, params.t, params.p), (65536, 3, 1));
    }

    #[test]
    fn a_changed_header_or_body_does_not_open() {
        let (data, outside) = folder();
        let source = KeySource::File(outside.path().join("k"));
        create(data.path(), &source).unwrap();
        let path = data.path().join(KEYRING_FILE);
        let good = fs::read(&path).unwrap();
        for i in [MAGIC.len() + 2, HEADER_LEN + 3, FILE_LEN - 1] {
            let mut bad = good.clone();
            bad[i] ^= 1;
            fs::write(&path, &bad).unwrap();
            assert!(open(data.path(), &source).is_err(), "byte {i} changed");
        }
    }

    #[test]
    fn a_key_file_inside_the_data_folder_is_refused() {
        let (data, _) = folder();
        let inside = data.path().join("sub").join("node.key");
        fs::create_dir_all(inside.parent().unwrap()).unwrap();
        let e = create(data.path(), &KeySource::File(inside)).err().unwrap();
        assert!(e.to_string().contains("inside the data folder"), "{e}");
        assert!(!exists(data.path()));
    }

    #[test]
    fn plaintext_keys_of_an_older_store_are_refused() {
        let (data, _) = folder();
        fs::write(data.path().join("master.key"), hex::encode([1u8; 32])).unwrap();
        let e = refuse_plaintext_keys(data.path()).unwrap_err();
        assert!(matches!(e, StoreError::PlaintextKeys(_)), "{e}");
        assert!(e.to_string().contains("older hdg"), "{e}");
    }

    #[test]
    fn argon2_parameters_beyond_the_bounds_are_refused_before_any_work() {
        let (data, _) = folder();
        let pass = KeySource::Passphrase(Zeroizing::new("p".into()));
        create(data.path(), &pass).unwrap();
        let path = data.path().join(KEYRING_FILE);
        let mut bytes = fs::read(&path).unwrap();
        // m_cost: 16 TiB of memory, a tampered keyring's denial of service.
        bytes[MAGIC.len() + 2..MAGIC.len() + 6].copy_from_slice(&u32::MAX.to_be_bytes());
        fs::write(&path, &bytes).unwrap();
        let e = open(data.path(), &pass).err().unwrap();
        assert!(e.to_string().contains("parameters"), "{e}");
    }
}
