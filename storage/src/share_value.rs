//! The value stored under a share key: which receipt anchors it, its batch id, and the sealed share.
//!
//! Layout (version 2): `0x02 | receipt leaf index (u64 BE) | batch id (32) | sealed`. The leaf
//! index and batch id are metadata in the clear; `sealed` is `nonce || ciphertext` of
//! `patient (32) | party (1) | x_i (u64 BE) | x_{i+1} (u64 BE)` under the store's share sealing key
//! (XChaCha20-Poly1305), with the whole share key — indicator, day and record handle — as
//! associated data, so a sealed pair moved to another row fails to open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hdg_schema::Pseudonym;
use zeroize::Zeroizing;

use crate::keys::{SecretKey, random_bytes};

const VERSION: u8 = 2;
const HEADER: usize = 1 + 8 + 32;
const NONCE_LEN: usize = 24;
const PLAIN_LEN: usize = 32 + 1 + 8 + 8;
const CONTEXT: &[u8] = b"hdg share v2";

/// A share row as stored: anchoring metadata in the clear, the share pair sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredShare {
    /// Index of the ledger leaf (a share receipt) that anchors this row.
    pub leaf_index: u64,
    /// The sharing batch: the receipt's subject (see [`crate::share_manifest::batch_id`]).
    pub batch_id: [u8; 32],
    /// `nonce || ciphertext` of the secret part.
    pub sealed: Vec<u8>,
}

/// The secret part of a share row, as opened (wiped when dropped by the caller's `Zeroizing`).
pub struct OpenedShare {
    /// Whose observation was shared.
    pub patient: Pseudonym,
    /// This party's index (0, 1 or 2).
    pub party: u8,
    /// (x_i, x_{i+1}).
    pub pair: Zeroizing<(u64, u64)>,
}

impl StoredShare {
    /// Encodes for the `shares` column family.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&self.leaf_index.to_be_bytes());
        out.extend_from_slice(&self.batch_id);
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Decodes; `None` for an unknown version or a truncated value.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() < HEADER || b[0] != VERSION {
            return None;
        }
        Some(StoredShare {
            leaf_index: u64::from_be_bytes(b[1..9].try_into().ok()?),
            batch_id: b[9..HEADER].try_into().ok()?,
            sealed: b[HEADER..].to_vec(),
        })
    }
}

/// Seals a share pair and its row metadata under `key`, bound to the row's `share_key`.
pub fn seal(
    key: &SecretKey,
    share_key: &[u8],
    patient: &Pseudonym,
    party: u8,
    pair: (u64, u64),
) -> Vec<u8> {
    let mut plain = Zeroizing::new([0u8; PLAIN_LEN]);
    plain[..32].copy_from_slice(&patient.0);
    plain[32] = party;
    plain[33..41].copy_from_slice(&pair.0.to_be_bytes());
    plain[41..].copy_from_slice(&pair.1.to_be_bytes());
    let nonce = random_bytes::<NONCE_LEN>();
    let aad = aad(share_key);
    let ct = XChaCha20Poly1305::new(&(*key.expose()).into())
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plain.as_slice(),
                aad: &aad,
            },
        )
        .expect("XChaCha20-Poly1305 encryption of a share cannot fail");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Opens a sealed share; `None` when the key or the row it was sealed for do not match.
pub fn open(key: &SecretKey, share_key: &[u8], sealed: &[u8]) -> Option<OpenedShare> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let aad = aad(share_key);
    let plain = Zeroizing::new(
        XChaCha20Poly1305::new(&(*key.expose()).into())
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad: &aad })
            .ok()?,
    );
    if plain.len() != PLAIN_LEN {
        return None;
    }
    Some(OpenedShare {
        patient: Pseudonym(plain[..32].try_into().ok()?),
        party: plain[32],
        pair: Zeroizing::new((
            u64::from_be_bytes(plain[33..41].try_into().ok()?),
            u64::from_be_bytes(plain[41..].try_into().ok()?),
        )),
    })
}

fn aad(share_key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(CONTEXT.len() + share_key.len());
    aad.extend_from_slice(CONTEXT);
    aad.extend_from_slice(share_key);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn stored_shares_round_trip(i: u64, b: [u8; 32], sealed in proptest::collection::vec(any::<u8>(), 0..100)) {
            let s = StoredShare { leaf_index: i, batch_id: b, sealed };
            prop_assert_eq!(StoredShare::from_bytes(&s.to_bytes()), Some(s));
        }
    }

    #[test]
    fn opens_only_with_the_same_key_and_row() {
        let k = SecretKey::random();
        let row = b"row key a".as_slice();
        let sealed = seal(&k, row, &Pseudonym([4; 32]), 2, (11, u64::MAX));
        let opened = open(&k, row, &sealed).unwrap();
        assert_eq!(opened.patient, Pseudonym([4; 32]));
        assert_eq!(opened.party, 2);
        assert_eq!(*opened.pair, (11, u64::MAX));
        assert!(open(&SecretKey::random(), row, &sealed).is_none());
        assert!(open(&k, b"row key b", &sealed).is_none());
        let mut flipped = sealed.clone();
        flipped[40] ^= 1;
        assert!(open(&k, row, &flipped).is_none());
    }

    #[test]
    fn refuses_unknown_versions_and_truncation() {
        let s = StoredShare {
            leaf_index: 3,
            batch_id: [1; 32],
            sealed: vec![9; 70],
        };
        let mut b = s.to_bytes();
        assert!(StoredShare::from_bytes(&b[..HEADER - 1]).is_none());
        b[0] = 1;
        assert!(StoredShare::from_bytes(&b).is_none());
    }
}
