//! Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`): a peer that has
//! checked a node's new checkpoint is consistent with the last one it saw adds a signature line
//! to the checkpoint note. The line's key id uses signature type `0x04`; its signature bytes
//! are `timestamp (u64 big-endian, POSIX seconds) || Ed25519 signature` over
//!
//! ```text
//! cosignature/v1
//! time <timestamp>
//! <the whole checkpoint note text, extension lines included>
//! ```
//!
//! The cosigner vouches for the first three checkpoint lines (origin, size, root) only.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::fmt;

use crate::note::{
    ED25519_TYPE, NoteError, NoteSignature, SignedNote, check_key_name, check_note_text,
    format_vkey, key_id, parse_vkey,
};

/// Signature type byte of Ed25519 `cosignature/v1` signatures.
pub const COSIGNATURE_TYPE: u8 = 0x04;

/// The message a `cosignature/v1` signs.
fn cosigned_message(time: u64, text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{text}").into_bytes()
}

/// Splits cosignature bytes (after the key id) into timestamp and Ed25519 signature.
fn split_cosignature(sig: &[u8]) -> Option<(u64, Signature)> {
    let (time, sig) = sig.split_first_chunk::<8>()?;
    let sig: &[u8; 64] = sig.try_into().ok()?;
    Some((u64::from_be_bytes(*time), Signature::from_bytes(sig)))
}

/// A witness's cosigning key (zeroized on drop). Before cosigning, the witness must have
/// verified the checkpoint's signature and its consistency with the last head it cosigned.
pub struct Cosigner {
    name: String,
    key: SigningKey,
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cosigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id()))
            .finish_non_exhaustive()
    }
}

impl Cosigner {
    /// A cosigner named `name` (a schema-less URL identifying the witness).
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (type `0x04`).
    pub fn key_id(&self) -> u32 {
        key_id(
            &self.name,
            COSIGNATURE_TYPE,
            self.key.verifying_key().as_bytes(),
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature line for checkpoint note text `text` at `time` (POSIX seconds, at most
    /// 2^63 - 1); add it with [`SignedNote::add_signature`].
    pub fn cosign(&self, text: &str, time: u64) -> Result<NoteSignature, NoteError> {
        check_note_text(text)?;
        if time > i64::MAX as u64 {
            return Err(NoteError::Malformed("cosignature time exceeds 2^63 - 1"));
        }
        let mut signature = time.to_be_bytes().to_vec();
        signature.extend_from_slice(&self.key.sign(&cosigned_message(time, text)).to_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id(),
            signature,
        })
    }
}

/// Verifies one witness's `cosignature/v1` signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier for `key` under `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Parses a witness vkey: type `0x04` as the spec defines, or a plain Ed25519 (`0x01`)
    /// vkey, the form transparency-dev witnesses publish (the cosignature key id is then
    /// recomputed with type `0x04`).
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let v = parse_vkey(vkey)?;
        if v.key_type != COSIGNATURE_TYPE && v.key_type != ED25519_TYPE {
            return Err(NoteError::UnsupportedKeyType(v.key_type));
        }
        Ok(Self {
            name: v.name,
            key: v.key,
        })
    }

    /// The vkey with type `0x04`.
    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, COSIGNATURE_TYPE, &self.key)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (type `0x04`).
    pub fn key_id(&self) -> u32 {
        key_id(&self.name, COSIGNATURE_TYPE, self.key.as_bytes())
    }

    /// Checks that `note` carries this witness's cosignature and that every cosignature line
    /// by it verifies; returns the latest cosignature time (POSIX seconds).
    pub fn verify(&self, note: &SignedNote) -> Result<u64, NoteError> {
        let id = self.key_id();
        let bad = || NoteError::BadSignature {
            name: self.name.clone(),
            key_id: id,
        };
        let mut latest = None;
        for s in note.signatures_by(&self.name, id) {
            let (time, sig) = split_cosignature(&s.signature).ok_or_else(bad)?;
            self.key
                .verify_strict(&cosigned_message(time, &note.text), &sig)
                .map_err(|_| bad())?;
            latest = latest.max(Some(time));
        }
        latest.ok_or(NoteError::UnknownKey {
            name: self.name.clone(),
            key_id: id,
        })
    }
}

/// Decodes the timestamp of a base64 cosignature (key id || timestamp || signature) without
/// verifying it, e.g. to show when a witness claims to have seen a head.
pub fn cosignature_time(signature_b64: &str) -> Option<u64> {
    let raw = BASE64.decode(signature_b64).ok()?;
    split_cosignature(raw.get(4..)?).map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::note::NoteSigner;

    fn setup() -> (NoteSigner, Cosigner, SignedNote) {
        let log = NoteSigner::new("hdg.example/a", SigningKey::from_bytes(&[1; 32])).unwrap();
        let witness = Cosigner::new("hdg.example/b", SigningKey::from_bytes(&[2; 32])).unwrap();
        let cp = Checkpoint {
            origin: "hdg.example/a".into(),
            size: 3,
            root: [9; 32],
            height: 1,
            time: 5,
            prev: None,
        };
        let note = SignedNote::parse(&cp.sign(&log).unwrap()).unwrap();
        (log, witness, note)
    }

    #[test]
    fn the_spec_example_cosignature_has_the_documented_layout() {
        // The cosignature line of the c2sp.org/tlog-cosignature example: key id, then the
        // big-endian timestamp its example message shows ("time 1679315147").
        let b64 = "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
        assert_eq!(cosignature_time(b64), Some(1679315147));
        assert_eq!(
            cosigned_message(1679315147, "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"),
            b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn cosignatures_verify_beside_the_log_signature() {
        let (log, witness, mut note) = setup();
        note.add_signature(witness.cosign(&note.text, 1_700_000_000).unwrap());
        let reparsed = SignedNote::parse(&note.to_string()).unwrap();
        assert_eq!(witness.verifier().verify(&reparsed), Ok(1_700_000_000));
        assert_eq!(log.verifier().verify(&reparsed), Ok(()));
        let sig = &reparsed.signatures[1];
        assert_eq!(sig.key_id, witness.key_id());
        assert_eq!(sig.signature.len(), 72);
        // The cosignature key id differs from the same key's plain note key id.
        let plain = NoteSigner::new("hdg.example/b", SigningKey::from_bytes(&[2; 32])).unwrap();
        assert_ne!(plain.key_id(), witness.key_id());
    }

    #[test]
    fn vkeys_of_both_forms_parse() {
        let (_, witness, _) = setup();
        let v = witness.verifier();
        assert_eq!(CosignatureVerifier::from_vkey(&v.to_vkey()), Ok(v.clone()));
        let plain = NoteSigner::new("hdg.example/b", SigningKey::from_bytes(&[2; 32])).unwrap();
        assert_eq!(
            CosignatureVerifier::from_vkey(&plain.verifier().to_vkey()),
            Ok(v)
        );
    }

    #[test]
    fn tampering_is_caught() {
        let (_, witness, mut note) = setup();
        let v = witness.verifier();
        assert!(matches!(v.verify(&note), Err(NoteError::UnknownKey { .. })));
        note.add_signature(witness.cosign(&note.text, 1000).unwrap());
        // A changed timestamp, a changed extension line, a truncated signature.
        let mut later = note.clone();
        later.signatures[1].signature[7] ^= 1;
        assert!(matches!(
            v.verify(&later),
            Err(NoteError::BadSignature { .. })
        ));
        let mut ext = note.clone();
        ext.text = ext.text.replace("time 5", "time 6");
        assert!(matches!(
            v.verify(&ext),
            Err(NoteError::BadSignature { .. })
        ));
        let mut short = note.clone();
        short.signatures[1].signature.pop();
        assert!(matches!(
            v.verify(&short),
            Err(NoteError::BadSignature { .. })
        ));
        assert!(witness.cosign(&note.text, 1 << 63).is_err());
    }
}
