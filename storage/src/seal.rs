//! Sealing record bodies at rest: XChaCha20-Poly1305 under the patient's data key, with the record
//! handle and the patient pseudonym bound as associated data, so a body moved to another record or
//! another patient's key fails to open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hdg_schema::{Pseudonym, RecordHandle};
use zeroize::Zeroizing;

use crate::keys::{SecretKey, random_bytes};

const NONCE_LEN: usize = 24;
const CONTEXT: &[u8] = b"hdg record v2";

/// Encrypts a record's canonical bytes; returns `nonce || ciphertext`.
pub fn seal(key: &SecretKey, id: &RecordHandle, patient: &Pseudonym, plain: &[u8]) -> Vec<u8> {
    let nonce = random_bytes::<NONCE_LEN>();
    let aad = aad(id, patient);
    let ct = XChaCha20Poly1305::new(&(*key.expose()).into())
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .expect("XChaCha20-Poly1305 encryption of a record cannot fail");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Decrypts `nonce || ciphertext`; `None` when the key, id or patient do not match the sealing.
pub fn open(
    key: &SecretKey,
    id: &RecordHandle,
    patient: &Pseudonym,
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let aad = aad(id, patient);
    XChaCha20Poly1305::new(&(*key.expose()).into())
        .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad: &aad })
        .ok()
        .map(Zeroizing::new)
}

fn aad(id: &RecordHandle, patient: &Pseudonym) -> [u8; 13 + 64] {
    let mut aad = [0u8; 13 + 64];
    aad[..13].copy_from_slice(CONTEXT);
    aad[13..45].copy_from_slice(&id.0);
    aad[45..].copy_from_slice(&patient.0);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_the_same_key_id_and_patient() {
        let k = SecretKey::random();
        let id = RecordHandle([7; 32]);
        let p = Pseudonym([9; 32]);
        let sealed = seal(&k, &id, &p, b"canonical bytes");
        assert_eq!(
            open(&k, &id, &p, &sealed).unwrap().as_slice(),
            b"canonical bytes"
        );
        assert!(open(&SecretKey::random(), &id, &p, &sealed).is_none());
        assert!(open(&k, &RecordHandle([8; 32]), &p, &sealed).is_none());
        assert!(open(&k, &id, &Pseudonym([1; 32]), &sealed).is_none());
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert!(open(&k, &id, &p, &flipped).is_none());
    }
}
