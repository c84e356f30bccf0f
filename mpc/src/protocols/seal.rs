//! Output to one outside recipient (e.g. the researcher) so the relaying parties learn nothing.
//!
//! Each party encrypts its pair (x_i, x_{i+1}) to the recipient's X25519 key: an ephemeral
//! X25519 key pair, the shared secret fed to BLAKE3 `derive_key` (bound to the session, the
//! party, both public keys, the vector length and the caller's context — what the output is,
//! e.g. the statistic, its parameters and the request it answers) and ChaCha20-Poly1305 with
//! that one-time key; the context is also associated data, so an output presented as the answer
//! to anything else fails to open.
//! The recipient gets every share twice (x_k from P_k and from P_{k-1}), checks that the copies
//! agree and fails loudly when they do not: a party that alters its output shares is caught.
//! No communication between parties: the caller forwards the [`SealedOutput`]s.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use x25519_dalek::{EphemeralSecret, PublicKey, StaticSecret};
use zeroize::Zeroize;

use crate::fault::Point;
use crate::verify::verify_pending;
use crate::{ArithShares, Party, PartyId, ProtocolError, SessionId};

const SEAL_CONTEXT: &str = "hdg-mpc 2025 sealed output share v1";

/// One party's output shares, encrypted to the recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedOutput {
    /// The computation's session.
    pub session: SessionId,
    /// The party that sealed it.
    pub party: PartyId,
    /// Number of output values.
    pub n: u64,
    /// Ephemeral X25519 public key of this sealing.
    pub ephemeral_public: [u8; 32],
    /// ChaCha20-Poly1305 ciphertext of x_i || x_{i+1} (little-endian u64s) with its tag.
    pub ciphertext: Vec<u8>,
}

/// Why sealed outputs could not be opened.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RevealError {
    /// The three outputs are not from P0, P1, P2 in that order.
    #[error("sealed output {position} comes from {found}, expected P{position}")]
    WrongParty {
        /// Position in the array.
        position: usize,
        /// Party named in the output.
        found: PartyId,
    },
    /// The outputs belong to different sessions or have different lengths.
    #[error("sealed output of {party} belongs to another session or has another length")]
    Mismatch {
        /// The odd one out.
        party: PartyId,
    },
    /// Authentication failed: wrong recipient key, another context (the output answers
    /// something else), or the ciphertext was altered.
    #[error(
        "sealed output of {party} does not open: sealed to another key, for another statistic or request, or altered"
    )]
    Decrypt {
        /// The party whose output failed.
        party: PartyId,
    },
    /// The two copies of one share differ: a party sent inconsistent shares.
    #[error("the two copies of share x{share} disagree (from P{share} and P{prev})")]
    Inconsistent {
        /// Index k of the share x_k.
        share: usize,
        /// The other holder.
        prev: usize,
    },
}

fn seal_key(
    session: &SessionId,
    party: PartyId,
    n: u64,
    context: &[u8],
    ephemeral: &PublicKey,
    recipient: &PublicKey,
    shared: &[u8; 32],
) -> [u8; 32] {
    let mut m = aad(session, party, n, context);
    m.extend_from_slice(ephemeral.as_bytes());
    m.extend_from_slice(recipient.as_bytes());
    m.extend_from_slice(shared);
    let k = blake3::derive_key(SEAL_CONTEXT, &m);
    m.zeroize();
    k
}

/// Session, party, length and the caller's context (length-prefixed), the associated data.
fn aad(session: &SessionId, party: PartyId, n: u64, context: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(32 + 1 + 8 + 8 + context.len() + 96);
    a.extend_from_slice(&session.0);
    a.push(party.index() as u8);
    a.extend_from_slice(&n.to_le_bytes());
    a.extend_from_slice(&(context.len() as u64).to_le_bytes());
    a.extend_from_slice(context);
    a
}

/// Seals this party's shares of x to `recipient`, bound to `context` (what the output is: the
/// recipient must name the same context to open it). First verifies everything computed and not
/// verified yet ([`crate::verify`]; the only communication), so nothing is sealed from a
/// computation a party deviated in.
pub fn seal_output<R: CryptoRng + ?Sized>(
    party: &mut Party,
    x: &ArithShares,
    recipient: &PublicKey,
    context: &[u8],
    rng: &mut R,
) -> Result<SealedOutput, ProtocolError> {
    verify_pending(party)?;
    let me = party.id();
    let session = *party.session();
    let n = x.len() as u64;
    let eph = EphemeralSecret::random_from_rng(rng);
    let eph_pub = PublicKey::from(&eph);
    let shared = eph.diffie_hellman(recipient);
    let mut key = seal_key(
        &session,
        me,
        n,
        context,
        &eph_pub,
        recipient,
        shared.as_bytes(),
    );
    let cipher = ChaCha20Poly1305::new(&Key::from(key));
    key.zeroize();
    let mut pair: Vec<u64> = x.a.iter().chain(&x.b).copied().collect();
    if let Some(altered) = party.tampered(Point::Seal, &pair) {
        pair.zeroize();
        pair = altered;
    }
    let mut plain = Vec::with_capacity(16 * x.len());
    for v in &pair {
        plain.extend_from_slice(&v.to_le_bytes());
    }
    pair.zeroize();
    let ciphertext = cipher
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: &plain,
                aad: &aad(&session, me, n, context),
            },
        )
        .expect("ChaCha20-Poly1305 accepts any message below 256 GiB");
    plain.zeroize();
    Ok(SealedOutput {
        session,
        party: me,
        n,
        ephemeral_public: eph_pub.to_bytes(),
        ciphertext,
    })
}

/// Opens the three parties' sealed outputs (in party order) with the recipient's secret key, as
/// outputs for `context` (the one they were sealed to), checks every share's two copies agree and
/// returns the values.
pub fn open_sealed(
    recipient: &StaticSecret,
    sealed: &[SealedOutput; 3],
    context: &[u8],
) -> Result<Vec<u64>, RevealError> {
    let recipient_pub = PublicKey::from(recipient);
    let (session, n) = (sealed[0].session, sealed[0].n);
    let mut pairs = Vec::with_capacity(3);
    for (position, s) in sealed.iter().enumerate() {
        if s.party.index() != position {
            return Err(RevealError::WrongParty {
                position,
                found: s.party,
            });
        }
        if s.session != session || s.n != n {
            return Err(RevealError::Mismatch { party: s.party });
        }
        let eph = PublicKey::from(s.ephemeral_public);
        let shared = recipient.diffie_hellman(&eph);
        let mut key = seal_key(
            &session,
            s.party,
            n,
            context,
            &eph,
            &recipient_pub,
            shared.as_bytes(),
        );
        let cipher = ChaCha20Poly1305::new(&Key::from(key));
        key.zeroize();
        let plain = cipher
            .decrypt(
                &Nonce::default(),
                Payload {
                    msg: &s.ciphertext,
                    aad: &aad(&session, s.party, n, context),
                },
            )
            .map_err(|_| RevealError::Decrypt { party: s.party })?;
        if plain.len() as u64 != 16 * n {
            return Err(RevealError::Mismatch { party: s.party });
        }
        let words: Vec<u64> = plain
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let (a, b) = words.split_at(n as usize);
        pairs.push(ArithShares::new(a.to_vec(), b.to_vec()));
    }
    // x_k is P_k's `a` and P_{k-1}'s `b`.
    for k in 0..3 {
        let prev = (k + 2) % 3;
        if pairs[k].a != pairs[prev].b {
            return Err(RevealError::Inconsistent { share: k, prev });
        }
    }
    let kern = crate::kernels::best();
    let mut v = pairs[0].a.clone();
    kern.add_assign(&mut v, &pairs[1].a);
    kern.add_assign(&mut v, &pairs[2].a);
    Ok(v)
}
