//! The value stored under a share key: which receipt anchors it, its batch id, and the sealed share.
//!
//! Layout: `version | receipt leaf index (u64 BE) | batch id (32) | sealed`. The leaf index
//! and batch id are metadata in the clear; `sealed` is `nonce || ciphertext` of
//! `patient (32) | party (1) | x_i (u64 BE) | x_{i+1} (u64 BE)`, with the whole share key —
//! indicator, day and record handle — and the version's context as associated data, so a
//! sealed pair moved to another row fails to open.
//!
//! - **Version 3** (every row written now): AES-256-GCM-SIV, a 12-byte random nonce, under a
//!   key of its own derived from the master key. Nonce-misuse resistant, so random nonces stay
//!   safe however many rows a store seals, and with AES-NI about 2.5 times as fast as version
//!   2 on these 49-byte rows, which every share commit seals and every query opens.
//! - **Version 2** (rows written before): XChaCha20-Poly1305, a 24-byte random nonce, under
//!   the share sealing key. Still opened, so a store keeps its rows across the change.

use aes_gcm_siv::Aes256GcmSiv;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hdg_schema::Pseudonym;
use zeroize::Zeroizing;

use crate::keys::{SecretKey, random_bytes};

const HEADER: usize = 1 + 8 + 32;
const PLAIN_LEN: usize = 32 + 1 + 8 + 8;

/// How a row's share pair is sealed: the version byte of its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing {
    /// Version 2: XChaCha20-Poly1305 (rows written before version 3).
    XChaCha20Poly1305,
    /// Version 3: AES-256-GCM-SIV.
    Aes256GcmSiv,
}

impl Sealing {
    /// How new rows are sealed.
    pub const CURRENT: Sealing = Sealing::Aes256GcmSiv;

    fn version(self) -> u8 {
        match self {
            Sealing::XChaCha20Poly1305 => 2,
            Sealing::Aes256GcmSiv => 3,
        }
    }

    fn from_version(v: u8) -> Option<Sealing> {
        match v {
            2 => Some(Sealing::XChaCha20Poly1305),
            3 => Some(Sealing::Aes256GcmSiv),
            _ => None,
        }
    }

    fn nonce_len(self) -> usize {
        match self {
            Sealing::XChaCha20Poly1305 => 24,
            Sealing::Aes256GcmSiv => 12,
        }
    }

    /// The associated data: the version's context and the share key.
    fn aad(self, share_key: &[u8]) -> Vec<u8> {
        let context: &[u8] = match self {
            Sealing::XChaCha20Poly1305 => b"hdg share v2",
            Sealing::Aes256GcmSiv => b"hdg share v3",
        };
        [context, share_key].concat()
    }
}

/// A share row as stored: anchoring metadata in the clear, the share pair sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredShare {
    /// Index of the ledger leaf (a share receipt) that anchors this row.
    pub leaf_index: u64,
    /// The sharing batch: the receipt's subject (see [`crate::share_manifest::batch_id`]).
    pub batch_id: [u8; 32],
    /// How `sealed` was sealed.
    pub sealing: Sealing,
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
        out.push(self.sealing.version());
        out.extend_from_slice(&self.leaf_index.to_be_bytes());
        out.extend_from_slice(&self.batch_id);
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Decodes; `None` for an unknown version or a truncated value.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() < HEADER {
            return None;
        }
        Some(StoredShare {
            sealing: Sealing::from_version(b[0])?,
            leaf_index: u64::from_be_bytes(b[1..9].try_into().ok()?),
            batch_id: b[9..HEADER].try_into().ok()?,
            sealed: b[HEADER..].to_vec(),
        })
    }
}

/// A store's share-row ciphers, set up once per commit or scan: version 3 to seal and open,
/// version 2 to open rows written before. Their keys are wiped when dropped.
pub struct ShareCipher {
    v3: Aes256GcmSiv,
    v2: XChaCha20Poly1305,
}

impl ShareCipher {
    /// The ciphers under the version 3 key and the version 2 (share sealing) key.
    pub fn new(v3_key: &SecretKey, v2_key: &SecretKey) -> ShareCipher {
        ShareCipher {
            v3: Aes256GcmSiv::new(&(*v3_key.expose()).into()),
            v2: XChaCha20Poly1305::new(&(*v2_key.expose()).into()),
        }
    }

    /// Seals a share pair and its row metadata, bound to the row's `share_key`, as
    /// [`Sealing::CURRENT`].
    pub fn seal(
        &self,
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
        let nonce = random_bytes::<12>();
        let aad = Sealing::CURRENT.aad(share_key);
        let ct = self
            .v3
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plain.as_slice(),
                    aad: &aad,
                },
            )
            .expect("AES-256-GCM-SIV encryption of a share cannot fail");
        [nonce.as_slice(), &ct].concat()
    }

    /// Opens a stored row's share; `None` when the key or the row it was sealed for do not
    /// match.
    pub fn open(&self, share_key: &[u8], stored: &StoredShare) -> Option<OpenedShare> {
        let sealing = stored.sealing;
        if stored.sealed.len() < sealing.nonce_len() {
            return None;
        }
        let (nonce, ct) = stored.sealed.split_at(sealing.nonce_len());
        let aad = sealing.aad(share_key);
        let payload = Payload { msg: ct, aad: &aad };
        let plain = Zeroizing::new(match sealing {
            Sealing::Aes256GcmSiv => {
                let nonce: [u8; 12] = nonce.try_into().ok()?;
                self.v3.decrypt(&nonce.into(), payload).ok()?
            }
            Sealing::XChaCha20Poly1305 => {
                let nonce: [u8; 24] = nonce.try_into().ok()?;
                self.v2.decrypt(&XNonce::from(nonce), payload).ok()?
            }
        });
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cipher(a: u8, b: u8) -> ShareCipher {
        ShareCipher::new(
            &SecretKey::from_bytes([a; 32]),
            &SecretKey::from_bytes([b; 32]),
        )
    }

    /// A row sealed as version 2 was, before version 3: XChaCha20-Poly1305 under the share
    /// sealing key, a 24-byte nonce, the version 2 context before the share key.
    fn sealed_as_version_2(key: &SecretKey, share_key: &[u8], plain: &[u8]) -> Vec<u8> {
        let nonce = [5u8; 24];
        let aad = [b"hdg share v2".as_slice(), share_key].concat();
        let ct = XChaCha20Poly1305::new(&(*key.expose()).into())
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .unwrap();
        [nonce.as_slice(), &ct].concat()
    }

    proptest! {
        #[test]
        fn stored_shares_round_trip(
            i: u64,
            b: [u8; 32],
            v3: bool,
            sealed in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let sealing = if v3 { Sealing::Aes256GcmSiv } else { Sealing::XChaCha20Poly1305 };
            let s = StoredShare { leaf_index: i, batch_id: b, sealing, sealed };
            prop_assert_eq!(StoredShare::from_bytes(&s.to_bytes()), Some(s));
        }
    }

    #[test]
    fn opens_only_with_the_same_key_and_row() {
        let c = cipher(1, 2);
        let row = b"row key a".as_slice();
        let stored = |sealed: Vec<u8>| StoredShare {
            leaf_index: 0,
            batch_id: [0; 32],
            sealing: Sealing::CURRENT,
            sealed,
        };
        let sealed = stored(c.seal(row, &Pseudonym([4; 32]), 2, (11, u64::MAX)));
        assert_eq!(sealed.sealed.len(), 12 + PLAIN_LEN + 16);
        let opened = c.open(row, &sealed).unwrap();
        assert_eq!(opened.patient, Pseudonym([4; 32]));
        assert_eq!(opened.party, 2);
        assert_eq!(*opened.pair, (11, u64::MAX));
        assert!(cipher(3, 2).open(row, &sealed).is_none(), "another key");
        assert!(c.open(b"row key b", &sealed).is_none(), "another row");
        for at in [0, 11, 12, 40, sealed.sealed.len() - 1] {
            let mut flipped = sealed.sealed.clone();
            flipped[at] ^= 1;
            assert!(c.open(row, &stored(flipped)).is_none(), "bit {at} flipped");
        }
        assert!(c.open(row, &stored(sealed.sealed[..11].to_vec())).is_none());
        // the same bytes read as a version 2 row do not open either
        let as_v2 = StoredShare {
            sealing: Sealing::XChaCha20Poly1305,
            ..sealed.clone()
        };
        assert!(c.open(row, &as_v2).is_none());
        // two seals of the same pair differ (random nonces)
        let again = c.seal(row, &Pseudonym([4; 32]), 2, (11, u64::MAX));
        assert_ne!(again, sealed.sealed);
    }

    /// Rows written before version 3 still open, under the version 2 key only.
    #[test]
    fn a_version_2_row_still_opens() {
        let mut plain = vec![4u8; 32];
        plain.push(1);
        plain.extend_from_slice(&7u64.to_be_bytes());
        plain.extend_from_slice(&9u64.to_be_bytes());
        let row = b"row key a".as_slice();
        let v2 = StoredShare {
            leaf_index: 1,
            batch_id: [1; 32],
            sealing: Sealing::XChaCha20Poly1305,
            sealed: sealed_as_version_2(&SecretKey::from_bytes([2; 32]), row, &plain),
        };
        let back = StoredShare::from_bytes(&v2.to_bytes()).unwrap();
        assert_eq!(back.to_bytes()[0], 2);
        let opened = cipher(1, 2).open(row, &back).unwrap();
        assert_eq!(opened.patient, Pseudonym([4; 32]));
        assert_eq!((opened.party, *opened.pair), (1, (7, 9)));
        assert!(
            cipher(2, 1).open(row, &back).is_none(),
            "the v3 key does not open v2"
        );
    }

    #[test]
    fn refuses_unknown_versions_and_truncation() {
        let s = StoredShare {
            leaf_index: 3,
            batch_id: [1; 32],
            sealing: Sealing::CURRENT,
            sealed: vec![9; 70],
        };
        let mut b = s.to_bytes();
        assert_eq!(b[0], 3);
        assert!(StoredShare::from_bytes(&b[..HEADER - 1]).is_none());
        for v in [0, 1, 4, 255] {
            b[0] = v;
            assert!(StoredShare::from_bytes(&b).is_none(), "version {v}");
        }
    }
}
