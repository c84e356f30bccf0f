//! A person's or a feed's signing key, as `hdg init` and `hdg identity new` write it: a file of
//! 64 hex digits, the ed25519 seed, readable only by its owner. The text and the seed are
//! zeroized once the key is made.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use rand::Rng;
use zeroize::Zeroizing;

/// Makes a new signing key and writes its seed to `path` (64 hex digits), readable only by its
/// owner (mode 0600 on Unix); refuses to overwrite any file already there.
pub fn write_new_seed(path: &Path) -> anyhow::Result<SigningKey> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(seed.as_mut_slice());
    let text = Zeroizing::new(hex::encode(seed.as_slice()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
            "{} exists: a key file is never overwritten (choose another path)",
            path.display()
        ),
        _ => anyhow::anyhow!("cannot create {}: {e}", path.display()),
    })?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The signing key from its seed file (64 hex digits, white space around them ignored).
pub fn read_seed(path: &Path) -> anyhow::Result<SigningKey> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the key {}", path.display()))?,
    );
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), seed.as_mut_slice())
        .with_context(|| format!("{}: must hold 64 hex digits", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_file_is_private_reads_back_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("patient.key");
        let key = write_new_seed(&path).unwrap();
        assert_eq!(read_seed(&path).unwrap().to_bytes(), key.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        let e = write_new_seed(&path).unwrap_err().to_string();
        assert!(e.contains("never overwritten"), "{e}");
        assert_eq!(read_seed(&path).unwrap().to_bytes(), key.to_bytes());
        let other = write_new_seed(&dir.path().join("other.key")).unwrap();
        assert_ne!(other.to_bytes(), key.to_bytes());
    }

    #[test]
    fn a_seed_file_gives_its_key_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.key");
        std::fs::write(&good, format!("{}\n", "07".repeat(32))).unwrap();
        let key = read_seed(&good).unwrap();
        assert_eq!(key.to_bytes(), [7; 32]);
        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, "07".repeat(31)).unwrap();
        let e = format!("{:#}", read_seed(&bad).unwrap_err());
        assert!(e.contains("bad.key: must hold 64 hex digits"), "{e}");
        let e = format!("{:#}", read_seed(&dir.path().join("none")).unwrap_err());
        assert!(e.contains("cannot read the key"), "{e}");
    }
}
