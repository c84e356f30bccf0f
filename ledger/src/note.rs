//! C2SP signed notes (c2sp.org/signed-note, golang.org/x/mod/sumdb/note): a text ending in a
//! newline, a blank line, then signature lines `— <key name> base64(key id || signature)`.
//! Keys are named, identified by a 4-byte key id `SHA-256(name || "\n" || type || public key)[:4]`,
//! and exchanged as verifier keys (`vkey`) `<name>+<hex key id>+base64(type || public key)`.
//! Ed25519 note signatures use type `0x01` and sign the note text itself.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::fmt;
use zeroize::Zeroizing;

use crate::hash::sha256;

/// Signature type byte of plain Ed25519 note signatures.
pub const ED25519_TYPE: u8 = 0x01;
/// Most signature lines a note may carry (the spec requires accepting at least 16; Go's
/// reference rejects more than 100).
pub const MAX_SIGNATURES: usize = 100;
/// The prefix of every signature line: em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, a key or a signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note text or signature block breaks the signed-note format.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A key name is empty or contains a space or `+`.
    #[error("invalid key name: must be non-empty without spaces or '+'")]
    InvalidKeyName,
    /// A vkey or skey string is not well formed.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// A key's stated key id does not match its name and public key.
    #[error("key id in the key string does not match its name and public key")]
    KeyIdMismatch,
    /// A key has a signature type this code does not support here.
    #[error("unsupported key type {0:#04x}")]
    UnsupportedKeyType(u8),
    /// The note carries no signature by the expected key.
    #[error("no signature by key {name}+{key_id:08x}")]
    UnknownKey {
        /// Expected key name.
        name: String,
        /// Expected key id.
        key_id: u32,
    },
    /// A signature by the expected key does not verify.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    BadSignature {
        /// Key name of the failing signature.
        name: String,
        /// Key id of the failing signature.
        key_id: u32,
    },
}

/// The key id of a key: `SHA-256(name || 0x0A || type || public key)[:4]`, big-endian.
pub fn key_id(name: &str, key_type: u8, public_key: &[u8]) -> u32 {
    let mut data = Vec::with_capacity(name.len() + 2 + public_key.len());
    data.extend_from_slice(name.as_bytes());
    data.push(b'\n');
    data.push(key_type);
    data.extend_from_slice(public_key);
    let h = sha256(&data);
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// Checks a key name: non-empty, no Unicode spaces, no `+`.
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::InvalidKeyName);
    }
    Ok(())
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key id (first four bytes of the decoded signature).
    pub key_id: u32,
    /// The signature bytes after the key id (64 for Ed25519, 72 for a cosignature).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line `— <name> base64(key id || signature)\n`.
    pub fn to_line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, BASE64.encode(raw))
    }

    fn parse_line(line: &str) -> Result<Self, NoteError> {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
            "signature line does not start with '— '",
        ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("signature line has no signature"))?;
        check_key_name(name).map_err(|_| NoteError::Malformed("signature key name invalid"))?;
        let raw = BASE64
            .decode(b64)
            .map_err(|_| NoteError::Malformed("signature is not standard base64"))?;
        if raw.len() < 5 {
            return Err(NoteError::Malformed("signature shorter than 5 bytes"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            signature: raw[4..].to_vec(),
        })
    }
}

/// A parsed note: its text (ending in a newline) and signatures, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, including its final newline.
    pub text: String,
    /// The signature lines.
    pub signatures: Vec<NoteSignature>,
}

/// Rejects ASCII control characters other than newline (the format forbids them).
fn check_characters(s: &str) -> Result<(), NoteError> {
    if s.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character other than newline"));
    }
    Ok(())
}

impl SignedNote {
    /// Parses a signed note: the text runs to the last blank line, every following line is a
    /// signature line, and there is at least one and at most [`MAX_SIGNATURES`].
    pub fn parse(msg: &str) -> Result<Self, NoteError> {
        check_characters(msg)?;
        let split = msg
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::Malformed(
                "signature block empty or not newline-terminated",
            ));
        }
        let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        let signatures = lines
            .into_iter()
            .map(NoteSignature::parse_line)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Adds a signature, replacing any earlier one by the same key (name and key id).
    pub fn add_signature(&mut self, sig: NoteSignature) {
        self.signatures
            .retain(|s| !(s.name == sig.name && s.key_id == sig.key_id));
        self.signatures.push(sig);
    }

    /// The signatures whose name and key id match, in order.
    pub fn signatures_by<'a>(
        &'a self,
        name: &'a str,
        key_id: u32,
    ) -> impl Iterator<Item = &'a NoteSignature> + 'a {
        self.signatures
            .iter()
            .filter(move |s| s.name == name && s.key_id == key_id)
    }
}

impl fmt::Display for SignedNote {
    /// The encoded note: text, blank line, signature lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.signatures {
            f.write_str(&s.to_line())?;
        }
        Ok(())
    }
}

/// Checks that `text` can be signed as a note text: ends in a newline, no control characters.
pub(crate) fn check_note_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text does not end with a newline"));
    }
    check_characters(text)
}

/// A vkey split into its parts, its key id already checked against name, type and key.
pub(crate) struct ParsedVkey {
    pub name: String,
    pub key_type: u8,
    pub key: VerifyingKey,
}

/// Parses `<name>+<8 hex key id>+base64(type || 32-byte Ed25519 key)` (the base64 may itself
/// contain `+`, so only the first two `+` separate fields).
pub(crate) fn parse_vkey(vkey: &str) -> Result<ParsedVkey, NoteError> {
    let mut parts = vkey.splitn(3, '+');
    let (name, id_hex, b64) = match (parts.next(), parts.next(), parts.next()) {
        (Some(n), Some(h), Some(k)) => (n, h, k),
        _ => return Err(NoteError::MalformedKey("vkey needs name+keyid+key")),
    };
    check_key_name(name)?;
    let stated_id = parse_key_id(id_hex)?;
    let raw = BASE64
        .decode(b64)
        .map_err(|_| NoteError::MalformedKey("key is not standard base64"))?;
    let (&key_type, key) = raw
        .split_first()
        .ok_or(NoteError::MalformedKey("key is empty"))?;
    if stated_id != key_id(name, key_type, key) {
        return Err(NoteError::KeyIdMismatch);
    }
    let key: &[u8; 32] = key
        .try_into()
        .map_err(|_| NoteError::MalformedKey("Ed25519 public key is not 32 bytes"))?;
    let key = VerifyingKey::from_bytes(key)
        .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
    if key.is_weak() {
        return Err(NoteError::MalformedKey("weak Ed25519 public key"));
    }
    Ok(ParsedVkey {
        name: name.to_owned(),
        key_type,
        key,
    })
}

/// Formats a vkey for `key` under `name` and `key_type`.
pub(crate) fn format_vkey(name: &str, key_type: u8, key: &VerifyingKey) -> String {
    let mut raw = vec![key_type];
    raw.extend_from_slice(key.as_bytes());
    let id = key_id(name, key_type, key.as_bytes());
    format!("{name}+{id:08x}+{}", BASE64.encode(raw))
}

fn parse_key_id(hex8: &str) -> Result<u32, NoteError> {
    if hex8.len() != 8 || !hex8.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::MalformedKey("key id is not 8 hex digits"));
    }
    u32::from_str_radix(hex8, 16).map_err(|_| NoteError::MalformedKey("key id is not hex"))
}

/// Signs notes with a named Ed25519 key (signature type 0x01). The key is zeroized on drop.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id()))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer named `name` (e.g. the node's origin, `hdg.example/node1`).
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Parses a Go-style signer key `PRIVATE+KEY+<name>+<hex key id>+base64(0x01 || seed)`.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey("skey must start with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (name, id_hex, b64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(h), Some(k)) => (n, h, k),
            _ => return Err(NoteError::MalformedKey("skey needs name+keyid+key")),
        };
        check_key_name(name)?;
        let stated_id = parse_key_id(id_hex)?;
        let raw = Zeroizing::new(
            BASE64
                .decode(b64)
                .map_err(|_| NoteError::MalformedKey("key is not standard base64"))?,
        );
        let (&key_type, seed) = raw
            .split_first()
            .ok_or(NoteError::MalformedKey("key is empty"))?;
        if key_type != ED25519_TYPE {
            return Err(NoteError::UnsupportedKeyType(key_type));
        }
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| NoteError::MalformedKey("Ed25519 seed is not 32 bytes"))?;
        let signer = Self::new(name, SigningKey::from_bytes(seed))?;
        if signer.key_id() != stated_id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(signer)
    }

    /// The Go-style signer key string; secret, zeroized when dropped.
    pub fn to_skey(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new(vec![ED25519_TYPE]);
        raw.extend_from_slice(self.key.as_bytes());
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id(),
            BASE64.encode(raw.as_slice())
        ))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        key_id(
            &self.name,
            ED25519_TYPE,
            self.key.verifying_key().as_bytes(),
        )
    }

    /// The matching verifier (what `hdg key` prints as a vkey).
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The signature line this key puts on `text`.
    pub fn sign_text(&self, text: &str) -> Result<NoteSignature, NoteError> {
        check_note_text(text)?;
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id(),
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }

    /// `text` signed by this key alone, encoded as a signed note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        let note = SignedNote {
            text: text.to_owned(),
            signatures: vec![self.sign_text(text)?],
        };
        Ok(note.to_string())
    }
}

/// Verifies note signatures of one named Ed25519 key (signature type 0x01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `key` under `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Parses a vkey `<name>+<hex key id>+base64(0x01 || 32-byte key)`.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let v = parse_vkey(vkey)?;
        if v.key_type != ED25519_TYPE {
            return Err(NoteError::UnsupportedKeyType(v.key_type));
        }
        Ok(Self {
            name: v.name,
            key: v.key,
        })
    }

    /// The vkey string, as Go's `note.NewEd25519VerifierKey` prints it.
    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, ED25519_TYPE, &self.key)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        key_id(&self.name, ED25519_TYPE, self.key.as_bytes())
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks that `note` carries this key's signature and that every signature line by this
    /// key (same name and key id) verifies; signatures by other keys are ignored.
    pub fn verify(&self, note: &SignedNote) -> Result<(), NoteError> {
        let id = self.key_id();
        let mut found = false;
        for s in note.signatures_by(&self.name, id) {
            let ok = <[u8; 64]>::try_from(s.signature.as_slice())
                .map(|b| Signature::from_bytes(&b))
                .is_ok_and(|sig| self.key.verify_strict(note.text.as_bytes(), &sig).is_ok());
            if !ok {
                return Err(NoteError::BadSignature {
                    name: self.name.clone(),
                    key_id: id,
                });
            }
            found = true;
        }
        if !found {
            return Err(NoteError::UnknownKey {
                name: self.name.clone(),
                key_id: id,
            });
        }
        Ok(())
    }

    /// Parses `msg` and verifies this key's signature on it.
    pub fn open(&self, msg: &str) -> Result<SignedNote, NoteError> {
        let note = SignedNote::parse(msg)?;
        self.verify(&note)?;
        Ok(note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example keys, text and signatures of golang.org/x/mod/sumdb/note (package docs and
    // note_test.go): Ed25519 is deterministic, so signing must reproduce them byte for byte.
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn doubly_signed() -> String {
        format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}")
    }

    #[test]
    fn go_reference_key_and_signature_are_reproduced() {
        let signer = NoteSigner::from_skey(PETER_SKEY).unwrap();
        assert_eq!(signer.name(), "PeterNeumann");
        assert_eq!(signer.key_id(), 0xc74f20a3);
        assert_eq!(signer.verifier().to_vkey(), PETER_VKEY);
        assert_eq!(signer.to_skey().as_str(), PETER_SKEY);
        assert_eq!(signer.sign(TEXT).unwrap(), format!("{TEXT}\n{PETER_SIG}"));
    }

    #[test]
    fn go_reference_notes_verify_with_each_key() {
        let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
        let enoch = NoteVerifier::from_vkey(ENOCH_VKEY).unwrap();
        assert_eq!(enoch.key_id(), 0xaf0cfe78);
        let note = peter.open(&doubly_signed()).unwrap();
        assert_eq!(note.text, TEXT);
        assert_eq!(note.to_string(), doubly_signed());
        assert_eq!(enoch.open(&doubly_signed()), Ok(note));
        // A duplicated valid signature line is harmless.
        let dup = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}");
        assert!(peter.open(&dup).is_ok());
    }

    #[test]
    fn unknown_key_and_bad_signature_are_distinct_errors() {
        let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
        let enoch_only = format!("{TEXT}\n{ENOCH_SIG}");
        assert_eq!(
            peter.open(&enoch_only),
            Err(NoteError::UnknownKey {
                name: "PeterNeumann".into(),
                key_id: 0xc74f20a3
            })
        );
        // Go's corrupted-signature case: four base64 characters inserted mid-signature.
        let corrupt = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        assert_eq!(
            peter.open(&corrupt),
            Err(NoteError::BadSignature {
                name: "PeterNeumann".into(),
                key_id: 0xc74f20a3
            })
        );
        let altered_text = doubly_signed().replacen("problem,", "problem;", 1);
        assert!(matches!(
            peter.open(&altered_text),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn malformed_notes_are_rejected() {
        // The malformed-message table of Go's note_test.go, plus a too-many-signatures note.
        let bad = [
            TEXT.to_owned(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!(
                "{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
            ),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1)),
            format!("{TEXT}\n\u{2014} PeterNeumann AAAA\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann not*base64\n"),
        ];
        for msg in bad {
            assert!(
                matches!(SignedNote::parse(&msg), Err(NoteError::Malformed(_))),
                "accepted {msg:?}"
            );
        }
        let peter = NoteSigner::from_skey(PETER_SKEY).unwrap();
        assert!(peter.sign("no final newline").is_err());
        assert!(peter.sign("tab\there\n").is_err());
    }

    #[test]
    fn mangled_keys_are_rejected() {
        // As in Go's TestNewVerifier/TestNewSigner: every proper substring and every one-byte
        // increment of a valid key string must fail.
        for (valid, parse) in [
            (
                PETER_VKEY,
                (|s: &str| NoteVerifier::from_vkey(s).is_ok()) as fn(&str) -> bool,
            ),
            (PETER_SKEY, |s: &str| NoteSigner::from_skey(s).is_ok()),
        ] {
            assert!(parse(valid));
            let b = valid.as_bytes();
            for i in 0..b.len() {
                for j in i + 1..=b.len() {
                    if (i, j) != (0, b.len()) {
                        let s = std::str::from_utf8(&b[i..j]).unwrap();
                        assert!(!parse(s), "accepted {s:?}");
                    }
                }
                let mut m = b.to_vec();
                m[i] += 1;
                let s = String::from_utf8(m).unwrap();
                assert!(!parse(&s), "accepted {s:?}");
            }
        }
        // Go's "wrong length key" and "unknown algorithm" keys, each with a consistent key id.
        assert!(
            NoteVerifier::from_vkey(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            )
            .is_err()
        );
        assert_eq!(
            NoteVerifier::from_vkey(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::UnsupportedKeyType(0x65))
        );
        assert_eq!(
            NoteSigner::new("bad name", SigningKey::from_bytes(&[1; 32])).err(),
            Some(NoteError::InvalidKeyName)
        );
    }

    #[test]
    fn add_signature_replaces_the_same_keys_line() {
        let signer = NoteSigner::from_skey(PETER_SKEY).unwrap();
        let mut note = SignedNote::parse(&doubly_signed()).unwrap();
        note.add_signature(signer.sign_text(TEXT).unwrap());
        assert_eq!(note.signatures.len(), 2);
        assert_eq!(note.signatures[1].name, "PeterNeumann");
        assert!(signer.verifier().verify(&note).is_ok());
    }
}
