//! Block heads as C2SP tlog-checkpoints (c2sp.org/tlog-checkpoint): the note text
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, standard base64>
//! height <block height, decimal>
//! time <unix milliseconds, decimal>
//! prev <standard base64 SHA-256 of the previous checkpoint's note text>   (absent on the first)
//! ```
//!
//! signed as a C2SP signed note by the node's key (whose name should equal the origin). The
//! first three lines are what every checkpoint tool reads; `height`, `time` and `prev` are
//! extension lines. `prev` chains heads: besides the consistency proofs between heads (which
//! prove the tree only grew), it pins the exact sequence of heads, so a head deleted or
//! replaced in the middle of the stored chain is caught too. It hashes the note *text* (not the
//! signatures), so it is the same whatever signatures (witness cosignatures) a head collects.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::hash::{Hash, sha256};
use crate::note::{NoteError, NoteSigner, NoteVerifier, SignedNote, check_note_text};

/// One block head (see the module doc for its text form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Names the log (the node), e.g. `hdg.example/node1`.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root of the tree at `size`.
    pub root: Hash,
    /// Block height: number of blocks before this one.
    pub height: u64,
    /// When the block closed, unix milliseconds.
    pub time: i64,
    /// Hash of the previous checkpoint's text ([`Checkpoint::text_hash`]); `None` on the first.
    pub prev: Option<Hash>,
}

/// Why a checkpoint was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// A line of the checkpoint text is missing or malformed.
    #[error("checkpoint {line} line: {reason}")]
    Malformed {
        /// Which line: origin, tree size, root hash, height, time, prev or extension.
        line: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signed note around the checkpoint was rejected.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
}

fn malformed(line: &'static str, reason: &'static str) -> CheckpointError {
    CheckpointError::Malformed { line, reason }
}

/// Parses a canonical decimal (no sign, no leading zeros) via round trip.
fn canonical<T: std::str::FromStr + ToString>(
    s: &str,
    line: &'static str,
) -> Result<T, CheckpointError> {
    let v: T = s
        .parse()
        .map_err(|_| malformed(line, "not a decimal number"))?;
    if v.to_string() != s {
        return Err(malformed(line, "not in canonical decimal form"));
    }
    Ok(v)
}

/// Decodes canonical standard base64 of exactly 32 bytes.
fn hash_b64(s: &str, line: &'static str) -> Result<Hash, CheckpointError> {
    let raw = BASE64
        .decode(s)
        .map_err(|_| malformed(line, "not standard base64"))?;
    raw.try_into().map_err(|_| malformed(line, "not 32 bytes"))
}

impl Checkpoint {
    /// The note text (what is signed).
    pub fn to_text(&self) -> String {
        let mut t = format!(
            "{}\n{}\n{}\nheight {}\ntime {}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root),
            self.height,
            self.time
        );
        if let Some(prev) = self.prev {
            t.push_str(&format!("prev {}\n", BASE64.encode(prev)));
        }
        t
    }

    /// SHA-256 of [`Checkpoint::to_text`]: what the next checkpoint carries as `prev`.
    pub fn text_hash(&self) -> Hash {
        sha256(self.to_text().as_bytes())
    }

    /// Parses checkpoint text in exactly the form [`Checkpoint::to_text`] writes.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        check_note_text(text)?;
        let mut lines = text[..text.len() - 1].split('\n');
        let mut next = |line: &'static str| lines.next().ok_or(malformed(line, "missing"));
        let origin = next("origin")?;
        if origin.is_empty() {
            return Err(malformed("origin", "empty"));
        }
        let size = canonical(next("tree size")?, "tree size")?;
        let root = hash_b64(next("root hash")?, "root hash")?;
        let height = next("height")?
            .strip_prefix("height ")
            .ok_or(malformed("height", "does not start with 'height '"))?;
        let time = next("time")?
            .strip_prefix("time ")
            .ok_or(malformed("time", "does not start with 'time '"))?;
        let checkpoint = Self {
            origin: origin.to_owned(),
            size,
            root,
            height: canonical(height, "height")?,
            time: canonical(time, "time")?,
            prev: match lines.next() {
                None => None,
                Some(l) => Some(hash_b64(
                    l.strip_prefix("prev ")
                        .ok_or(malformed("prev", "does not start with 'prev '"))?,
                    "prev",
                )?),
            },
        };
        if lines.next().is_some() {
            return Err(malformed("extension", "unexpected line after prev"));
        }
        Ok(checkpoint)
    }

    /// The checkpoint as a signed note by `signer`.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, CheckpointError> {
        Ok(signer.sign(&self.to_text())?)
    }

    /// Verifies `verifier`'s signature on the signed note `msg`, then parses its checkpoint.
    /// Returns the note too, so callers can check witness cosignatures on it.
    pub fn open(msg: &str, verifier: &NoteVerifier) -> Result<(Self, SignedNote), CheckpointError> {
        let note = verifier.open(msg)?;
        Ok((Self::parse(&note.text)?, note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::NoteSigner;
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    fn sample(prev: Option<Hash>) -> Checkpoint {
        Checkpoint {
            origin: "hdg.example/node1".into(),
            size: 20852163,
            root: hash_b64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "root hash").unwrap(),
            height: 7,
            time: 1_700_000_000_123,
            prev,
        }
    }

    #[test]
    fn text_has_the_c2sp_first_three_lines_then_extensions() {
        let c = sample(Some([0xab; 32]));
        assert_eq!(
            c.to_text(),
            "hdg.example/node1\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
             height 7\ntime 1700000000123\nprev q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n"
        );
        assert_eq!(Checkpoint::parse(&c.to_text()), Ok(c.clone()));
        assert_eq!(Checkpoint::parse(&sample(None).to_text()), Ok(sample(None)));
        assert_eq!(c.text_hash(), sha256(c.to_text().as_bytes()));
    }

    #[test]
    fn malformed_lines_are_named() {
        let good = sample(None).to_text();
        let cases = [
            (good.replacen("20852163", "020852163", 1), "tree size"),
            (good.replacen("20852163", "-1", 1), "tree size"),
            (good.replacen("CsUY", "CsU", 1), "root hash"),
            (good.replacen("height 7", "height  7", 1), "height"),
            (good.replacen("height 7", "block 7", 1), "height"),
            (good.replacen("time ", "time +", 1), "time"),
            (format!("{good}prev AAAA\n"), "prev"),
            (
                format!("{good}prev {}\nmore\n", BASE64.encode([0; 32])),
                "extension",
            ),
            (format!("\n{good}"), "origin"),
            ("o\n1\n".to_owned(), "root hash"),
        ];
        for (text, line) in cases {
            match Checkpoint::parse(&text) {
                Err(CheckpointError::Malformed { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
        assert!(Checkpoint::parse(&good[..good.len() - 1]).is_err());
    }

    #[test]
    fn signed_checkpoints_open_only_with_the_right_key() {
        let signer =
            NoteSigner::new("hdg.example/node1", SigningKey::from_bytes(&[5; 32])).unwrap();
        let other = NoteSigner::new("hdg.example/node1", SigningKey::from_bytes(&[6; 32])).unwrap();
        let c = sample(None);
        let note = c.sign(&signer).unwrap();
        let (opened, _) = Checkpoint::open(&note, &signer.verifier()).unwrap();
        assert_eq!(opened, c);
        assert!(matches!(
            Checkpoint::open(&note, &other.verifier()),
            Err(CheckpointError::Note(NoteError::UnknownKey { .. }))
        ));
        let tampered = note.replacen("20852163", "20852164", 1);
        assert!(matches!(
            Checkpoint::open(&tampered, &signer.verifier()),
            Err(CheckpointError::Note(NoteError::BadSignature { .. }))
        ));
        // Re-signed by another key under the same name and key id is impossible to forge; a
        // note re-signed by another key is simply not signed by ours.
        let resigned = c.sign(&other).unwrap();
        assert!(Checkpoint::open(&resigned, &signer.verifier()).is_err());
    }

    proptest! {
        #[test]
        fn text_round_trips(size: u64, root: [u8; 32], height: u64, time: i64, prev: Option<[u8; 32]>) {
            let c = Checkpoint { origin: "o.example/x".into(), size, root, height, time, prev };
            prop_assert_eq!(Checkpoint::parse(&c.to_text()), Ok(c));
        }
    }
}
