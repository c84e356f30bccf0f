//! A researcher's or patient's signing key, as `hdg init` and `hdg key` write it: a file of 64
//! hex digits, the ed25519 seed. The text and the seed are zeroized once the key is made.

use std::path::Path;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use zeroize::Zeroizing;

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
