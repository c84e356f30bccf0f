//! Answers sealed to the requester: a raw access's records and each node's part of a patient's
//! audit travel encrypted to an X25519 key the requester made for that one request and put in
//! its signed body (`reply_to`), so they stay unreadable beyond the node that wrote them — to
//! a TLS-terminating proxy, to a log of responses, and to the node that relays its peers'
//! audit reports.
//!
//! The sealing: an ephemeral X25519 key pair; the shared secret fed to BLAKE3 `derive_key`
//! together with both public keys and the context (what the reply answers: the request's digest
//! and which node wrote it); ChaCha20-Poly1305 under that one-time key with the context as
//! associated data. A reply presented as the answer to another request, or as another node's,
//! fails to open. A `reply_to` key on which Diffie-Hellman is not contributory (a low-order
//! point, which would make the key public) is refused.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use x25519_dalek::{EphemeralSecret, PublicKey, StaticSecret};
use zeroize::Zeroizing;

const SEAL_CONTEXT: &str = "hdg 2026 sealed reply v1";

/// A reply sealed to one recipient key (the JSON a node answers with).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedReply {
    /// The sealing's ephemeral X25519 public key, lowercase hex.
    pub ephemeral_public: String,
    /// ChaCha20-Poly1305 ciphertext of the reply with its tag, lowercase hex.
    pub ciphertext: String,
}

/// Why a reply could not be sealed or opened.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SealError {
    /// The recipient key is a low-order point: anyone could compute the shared secret.
    #[error("reply_to is not a usable X25519 key (a low-order point)")]
    WeakKey,
    /// Malformed fields, another recipient, another context, or altered bytes.
    #[error(
        "the sealed reply does not open: sealed to another key, for another request or node, or altered"
    )]
    Open,
}

fn one_time_key(
    context: &[u8],
    ephemeral: &PublicKey,
    recipient: &PublicKey,
    shared: &[u8; 32],
) -> Zeroizing<[u8; 32]> {
    let mut m = Zeroizing::new(Vec::with_capacity(8 + context.len() + 96));
    m.extend_from_slice(&(context.len() as u64).to_le_bytes());
    m.extend_from_slice(context);
    m.extend_from_slice(ephemeral.as_bytes());
    m.extend_from_slice(recipient.as_bytes());
    m.extend_from_slice(shared);
    Zeroizing::new(blake3::derive_key(SEAL_CONTEXT, &m))
}

/// Refuses a `recipient` key that is a low-order point (Diffie-Hellman with it gives a value
/// anyone can compute): checked before a node does the work a reply costs.
pub fn check_recipient(recipient: &[u8; 32]) -> Result<(), SealError> {
    let probe = EphemeralSecret::random_from_rng(&mut rand::rng());
    if probe
        .diffie_hellman(&PublicKey::from(*recipient))
        .was_contributory()
    {
        Ok(())
    } else {
        Err(SealError::WeakKey)
    }
}

/// Seals `plain` to `recipient` for `context`.
pub fn seal(recipient: &[u8; 32], context: &[u8], plain: &[u8]) -> Result<SealedReply, SealError> {
    let recipient = PublicKey::from(*recipient);
    let ephemeral = EphemeralSecret::random_from_rng(&mut rand::rng());
    let ephemeral_public = PublicKey::from(&ephemeral);
    let shared = ephemeral.diffie_hellman(&recipient);
    if !shared.was_contributory() {
        return Err(SealError::WeakKey);
    }
    let key = one_time_key(context, &ephemeral_public, &recipient, shared.as_bytes());
    let ciphertext = ChaCha20Poly1305::new(&Key::from(*key))
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: plain,
                aad: context,
            },
        )
        .expect("ChaCha20-Poly1305 seals any message below 256 GiB");
    Ok(SealedReply {
        ephemeral_public: hex::encode(ephemeral_public.as_bytes()),
        ciphertext: hex::encode(ciphertext),
    })
}

/// The requester's side: a fresh key for one request, which opens the replies to it.
pub struct ReplyKey(StaticSecret);

impl ReplyKey {
    /// A new random key.
    pub fn new() -> ReplyKey {
        ReplyKey(StaticSecret::random_from_rng(&mut rand::rng()))
    }

    /// The public half, to put in the signed request's `reply_to`.
    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }

    /// Opens `sealed`, which must have been sealed to this key for `context`.
    pub fn open(
        &self,
        sealed: &SealedReply,
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let ephemeral = decode_32(&sealed.ephemeral_public).ok_or(SealError::Open)?;
        let ciphertext = hex::decode(&sealed.ciphertext).map_err(|_| SealError::Open)?;
        let ephemeral = PublicKey::from(ephemeral);
        let shared = self.0.diffie_hellman(&ephemeral);
        let key = one_time_key(
            context,
            &ephemeral,
            &PublicKey::from(&self.0),
            shared.as_bytes(),
        );
        ChaCha20Poly1305::new(&Key::from(*key))
            .decrypt(
                &Nonce::default(),
                Payload {
                    msg: &ciphertext,
                    aad: context,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Open)
    }
}

impl Default for ReplyKey {
    fn default() -> Self {
        ReplyKey::new()
    }
}

fn decode_32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// The context a reply is sealed under: what it answers (`what`, the request's digest) and which
/// part of the answer it is (`part`: a node's party index when every node answers, 0 when one
/// node does), so no request's reply passes for another's and no node's for another's.
pub fn context(what: &str, request_digest: &[u8; 32], part: usize) -> Vec<u8> {
    let mut c = Vec::with_capacity(what.len() + 41);
    c.extend_from_slice(what.as_bytes());
    c.push(0);
    c.extend_from_slice(request_digest);
    c.extend_from_slice(&(part as u64).to_le_bytes());
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_opens_only_with_its_key_and_context() {
        let key = ReplyKey::new();
        assert_eq!(check_recipient(&key.public()), Ok(()));
        let sealed = seal(&key.public(), b"ctx", b"records").unwrap();
        assert_eq!(&key.open(&sealed, b"ctx").unwrap()[..], b"records");
        assert_eq!(key.open(&sealed, b"other"), Err(SealError::Open));
        assert_eq!(ReplyKey::new().open(&sealed, b"ctx"), Err(SealError::Open));
        let mut altered = sealed.clone();
        let last = altered.ciphertext.pop().unwrap();
        altered.ciphertext.push(if last == '0' { '1' } else { '0' });
        assert_eq!(key.open(&altered, b"ctx"), Err(SealError::Open));
    }

    #[test]
    fn contexts_differ_by_request_and_by_node() {
        let (a, b) = ([1; 32], [2; 32]);
        assert_ne!(context("audit", &a, 0), context("audit", &b, 0));
        assert_ne!(context("audit", &a, 0), context("audit", &a, 1));
        assert_ne!(context("audit", &a, 0), context("access", &a, 0));
    }

    #[test]
    fn low_order_recipient_keys_are_refused() {
        // The identity (all zero) and another small-order point of Curve25519.
        let mut order_eight = [0u8; 32];
        hex::decode_to_slice(
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            &mut order_eight,
        )
        .unwrap();
        for weak in [[0u8; 32], order_eight] {
            assert_eq!(seal(&weak, b"ctx", b"x"), Err(SealError::WeakKey));
            assert_eq!(check_recipient(&weak), Err(SealError::WeakKey));
        }
    }
}
