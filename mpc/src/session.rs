//! Per-session key agreement for the correlated randomness.
//!
//! Key k_m (m = 0, 1, 2) is shared by the adjacent parties P_{m-1} and P_m, so party i holds
//! k_i ("prev", shared with P_{i-1}) and k_{i+1} ("next", shared with P_{i+1}). Each k_m is
//! BLAKE3 `derive_key` over the X25519 secret of its two parties, bound to the session id, to m
//! and to all three public keys: a new session id gives unrelated keys, so two sessions never
//! reuse randomness even with long-term X25519 keys. k_all, known to all three, is derived from
//! three contributions c_m = KDF(k_m); party i lacks only c_{i-1}, which P_{i-1} sends it
//! during [`crate::Party::establish`] (4 ring elements per party, over the confidential link).

use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::PartyId;

const PAIRWISE_CONTEXT: &str = "hdg-mpc 2025 pairwise PRF key v1";
const CONTRIBUTION_CONTEXT: &str = "hdg-mpc 2025 common PRF key contribution v1";
const COMMON_CONTEXT: &str = "hdg-mpc 2025 common PRF key v1";
const COMMITMENT_CONTEXT: &str = "hdg-mpc 2026 session public key commitment v1";

/// A 32-byte session identifier; every query or computation uses a fresh one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionId(pub [u8; 32]);

impl SessionId {
    /// A random session id from the thread's CSPRNG.
    pub fn random() -> SessionId {
        Self::random_from(&mut rand::rng())
    }

    /// A random session id from the given CSPRNG.
    pub fn random_from<R: CryptoRng + ?Sized>(rng: &mut R) -> SessionId {
        let mut id = [0u8; 32];
        rng.fill_bytes(&mut id);
        SessionId(id)
    }
}

/// A party's X25519 secret for key agreement (long-term or per session).
pub struct SessionSecret(StaticSecret);

impl SessionSecret {
    /// A fresh random secret from the thread's CSPRNG.
    pub fn random() -> SessionSecret {
        SessionSecret(StaticSecret::random_from_rng(&mut rand::rng()))
    }

    /// Wraps an existing X25519 secret (e.g. the node's key).
    pub fn from_secret(secret: StaticSecret) -> SessionSecret {
        SessionSecret(secret)
    }

    /// The public key the other parties need.
    pub fn public(&self) -> PublicKey {
        PublicKey::from(&self.0)
    }
}

/// Why the parties could not agree on session keys.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyAgreementError {
    /// A peer's public key is a low-order point: the shared secret would be predictable.
    #[error("public key of {peer} gives a non-contributory shared secret")]
    WeakPublicKey {
        /// The peer whose key was refused.
        peer: PartyId,
    },
    /// This party's own public key is not the one listed for it.
    #[error("the public key listed for {me} is not this party's key")]
    OwnKeyMismatch {
        /// This party.
        me: PartyId,
    },
}

/// The two pairwise PRF keys of one party (before the common key is agreed).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct PairwiseKeys {
    #[zeroize(skip)]
    me: PartyId,
    #[zeroize(skip)]
    session: SessionId,
    prev: [u8; 32],
    next: [u8; 32],
}

/// The commitment party `me` sends before its session public key: BLAKE3 over the session, the
/// party and the key. Each party commits before it sees a peer's key and opens only after it
/// has every peer's commitment, so no party can choose its key after seeing the others' (it
/// could otherwise try many keys for a pairwise key, hence a noise draw, that suits it).
pub fn public_commitment(session: &SessionId, me: PartyId, public: &PublicKey) -> [u8; 32] {
    let mut material = Vec::with_capacity(32 + 1 + 32);
    material.extend_from_slice(&session.0);
    material.push(me.index() as u8);
    material.extend_from_slice(public.as_bytes());
    blake3::derive_key(COMMITMENT_CONTEXT, &material)
}

/// Derives party `me`'s pairwise keys from its secret and the three parties' public keys.
pub fn derive_pairwise(
    me: PartyId,
    session: &SessionId,
    secret: &SessionSecret,
    publics: &[PublicKey; 3],
) -> Result<PairwiseKeys, KeyAgreementError> {
    if secret.public() != publics[me.index()] {
        return Err(KeyAgreementError::OwnKeyMismatch { me });
    }
    let key_with = |peer: PartyId, m: usize| {
        let shared = secret.0.diffie_hellman(&publics[peer.index()]);
        if !shared.was_contributory() {
            return Err(KeyAgreementError::WeakPublicKey { peer });
        }
        let mut material = Vec::with_capacity(32 + 1 + 96 + 32);
        material.extend_from_slice(&session.0);
        material.push(m as u8);
        for p in publics {
            material.extend_from_slice(p.as_bytes());
        }
        material.extend_from_slice(shared.as_bytes());
        let key = blake3::derive_key(PAIRWISE_CONTEXT, &material);
        material.zeroize();
        Ok(key)
    };
    Ok(PairwiseKeys {
        me,
        session: *session,
        prev: key_with(me.prev(), me.index())?,
        next: key_with(me.next(), me.next().index())?,
    })
}

impl PairwiseKeys {
    /// c_i = KDF(k_i): the contribution to k_all this party sends to P_{i+1} (who lacks k_i).
    pub fn contribution_for_next(&self) -> [u8; 32] {
        blake3::derive_key(CONTRIBUTION_CONTEXT, &self.prev)
    }

    /// Completes the keys with c_{i-1}, received from P_{i-1}.
    pub fn complete(self, from_prev: [u8; 32]) -> PartyKeys {
        let i = self.me.index();
        let mut c = [[0u8; 32]; 3];
        c[(i + 2) % 3] = from_prev;
        c[i] = blake3::derive_key(CONTRIBUTION_CONTEXT, &self.prev);
        c[(i + 1) % 3] = blake3::derive_key(CONTRIBUTION_CONTEXT, &self.next);
        let mut material = Vec::with_capacity(32 + 96);
        material.extend_from_slice(&self.session.0);
        for part in &c {
            material.extend_from_slice(part);
        }
        let all = blake3::derive_key(COMMON_CONTEXT, &material);
        material.zeroize();
        c.zeroize();
        PartyKeys {
            me: self.me,
            session: self.session,
            prev: self.prev,
            next: self.next,
            all,
        }
    }
}

/// All PRF keys of one party for one session.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PartyKeys {
    /// This party.
    #[zeroize(skip)]
    pub me: PartyId,
    /// The session the keys belong to.
    #[zeroize(skip)]
    pub session: SessionId,
    /// k_i, shared with P_{i-1}.
    pub prev: [u8; 32],
    /// k_{i+1}, shared with P_{i+1}.
    pub next: [u8; 32],
    /// k_all, shared by all three.
    pub all: [u8; 32],
}

impl PartyKeys {
    /// Consistent keys for the three parties from explicit key material (tests and reproducible
    /// benchmarks only): k_m = `pairwise[m]`, k_all = `all`.
    pub fn from_material(
        session: SessionId,
        pairwise: [[u8; 32]; 3],
        all: [u8; 32],
    ) -> [PartyKeys; 3] {
        PartyId::ALL.map(|me| PartyKeys {
            me,
            session,
            prev: pairwise[me.index()],
            next: pairwise[me.next().index()],
            all,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> ([SessionSecret; 3], [PublicKey; 3]) {
        let secrets = [0, 1, 2].map(|_| SessionSecret::random());
        let publics = [0, 1, 2].map(|i| secrets[i].public());
        (secrets, publics)
    }

    fn agree(
        session: SessionId,
        secrets: &[SessionSecret; 3],
        publics: &[PublicKey; 3],
    ) -> [PartyKeys; 3] {
        let pw = PartyId::ALL
            .map(|me| derive_pairwise(me, &session, &secrets[me.index()], publics).unwrap());
        let contrib = [0, 1, 2].map(|i| pw[i].contribution_for_next());
        let mut out = Vec::new();
        for (i, k) in pw.into_iter().enumerate() {
            out.push(k.complete(contrib[(i + 2) % 3]));
        }
        out.try_into().ok().unwrap()
    }

    #[test]
    fn adjacent_parties_share_keys_and_all_share_the_common_key() {
        let session = SessionId([1; 32]);
        let (secrets, publics) = setup();
        let k = agree(session, &secrets, &publics);
        for i in 0..3 {
            assert_eq!(k[i].next, k[(i + 1) % 3].prev, "k_{} shared", i + 1);
            assert_ne!(k[i].prev, k[i].next);
            assert_eq!(k[i].all, k[0].all);
        }
        // every party lacks exactly one pairwise key
        assert_ne!(k[0].prev, k[1].next);
    }

    #[test]
    fn a_new_session_id_gives_unrelated_keys() {
        let (secrets, publics) = setup();
        let a = agree(SessionId([1; 32]), &secrets, &publics);
        let b = agree(SessionId([2; 32]), &secrets, &publics);
        for i in 0..3 {
            assert_ne!(a[i].prev, b[i].prev);
            assert_ne!(a[i].all, b[i].all);
        }
    }

    #[test]
    fn low_order_and_foreign_keys_are_refused() {
        let session = SessionId([1; 32]);
        let (secrets, mut publics) = setup();
        publics[1] = PublicKey::from([0u8; 32]);
        assert_eq!(
            derive_pairwise(PartyId::P0, &session, &secrets[0], &publics).err(),
            Some(KeyAgreementError::WeakPublicKey { peer: PartyId::P1 })
        );
        assert_eq!(
            derive_pairwise(PartyId::P1, &session, &secrets[1], &publics).err(),
            Some(KeyAgreementError::OwnKeyMismatch { me: PartyId::P1 })
        );
    }
}
