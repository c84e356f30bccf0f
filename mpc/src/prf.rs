//! Pseudo-random functions that expand a 32-byte key and an operation counter into ring elements.
//!
//! F(k, op)[j] for j = 0, 1, ... is the j-th u64 of a stream that depends only on the key and on
//! `op`; the protocols never use the same (key, op) twice, so streams never repeat.
//! Two constructions, both through audited crates with their own run-time SIMD dispatch:
//! AES-128 in counter mode (`aes`, AES-NI when present; block j of op encrypts `op || j`) and
//! the BLAKE3 keyed XOF over `op`. [`PrfKind::DEFAULT`] is the faster on the development machine
//! (see `benches/kernels.rs` and the crate notes).

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Which PRF construction expands keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrfKind {
    /// AES-128 in counter mode.
    Aes128Ctr,
    /// BLAKE3 keyed extendable output.
    Blake3Xof,
}

impl PrfKind {
    /// The construction the protocols use unless told otherwise (the faster one measured).
    pub const DEFAULT: PrfKind = PrfKind::Aes128Ctr;
}

/// A keyed PRF instance.
pub struct Prf {
    inner: Inner,
}

enum Inner {
    Aes(Box<Aes128>),
    Blake3(Blake3Key),
}

#[derive(Zeroize, ZeroizeOnDrop)]
struct Blake3Key([u8; 32]);

/// Blocks encrypted per batch (a 2 KiB scratch buffer that stays in L1).
const AES_BATCH: usize = 128;
/// Bytes of XOF output per batch.
const XOF_BATCH: usize = 4096;

impl Prf {
    /// Keys a PRF of the given kind. AES-128 uses the first 16 bytes of the key.
    pub fn new(kind: PrfKind, key: &[u8; 32]) -> Prf {
        let inner = match kind {
            PrfKind::Aes128Ctr => {
                let mut k = [0u8; 16];
                k.copy_from_slice(&key[..16]);
                let cipher = Aes128::new(&Array::from(k));
                k.zeroize();
                Inner::Aes(Box::new(cipher))
            }
            PrfKind::Blake3Xof => Inner::Blake3(Blake3Key(*key)),
        };
        Prf { inner }
    }

    /// Fills `out` with F(key, op)[0..out.len()].
    pub fn fill(&self, op: u64, out: &mut [u64]) {
        self.fill_at(op, 0, out);
    }

    /// Fills `out` with F(key, op)[start..start + out.len()] (streams are seekable, so protocols
    /// can expand them block by block into cache-resident buffers).
    pub fn fill_at(&self, op: u64, start: u64, out: &mut [u64]) {
        match &self.inner {
            Inner::Aes(cipher) => fill_aes(cipher, op, start, out),
            Inner::Blake3(key) => fill_blake3(&key.0, op, start, out),
        }
    }

    /// F(key, op)[0..n] as a new vector.
    pub fn stream(&self, op: u64, n: usize) -> Vec<u64> {
        let mut v = vec![0; n];
        self.fill(op, &mut v);
        v
    }
}

fn fill_aes(cipher: &Aes128, op: u64, start: u64, mut out: &mut [u64]) {
    if start % 2 == 1 && !out.is_empty() {
        // odd start: the second word of block start/2
        let mut pair = [0u64; 2];
        fill_aes(cipher, op, start - 1, &mut pair);
        out[0] = pair[1];
        out = &mut out[1..];
        return fill_aes(cipher, op, start + 1, out);
    }
    let mut blocks = [[0u8; 16]; AES_BATCH];
    let mut counter = start / 2;
    for chunk in out.chunks_mut(2 * AES_BATCH) {
        let used = chunk.len().div_ceil(2);
        for block in blocks[..used].iter_mut() {
            block[..8].copy_from_slice(&op.to_le_bytes());
            block[8..].copy_from_slice(&counter.to_le_bytes());
            counter += 1;
        }
        cipher.encrypt_blocks(Array::cast_slice_from_core_mut(&mut blocks[..used]));
        for (word, bytes) in chunk.iter_mut().zip(blocks.as_flattened().chunks_exact(8)) {
            *word = u64::from_le_bytes(bytes.try_into().expect("8-byte chunk"));
        }
    }
    blocks.as_flattened_mut().zeroize();
}

fn fill_blake3(key: &[u8; 32], op: u64, start: u64, out: &mut [u64]) {
    let mut reader = blake3::Hasher::new_keyed(key)
        .update(&op.to_le_bytes())
        .finalize_xof();
    reader.set_position(start * 8);
    let mut buf = [0u8; XOF_BATCH];
    for chunk in out.chunks_mut(XOF_BATCH / 8) {
        let bytes = &mut buf[..chunk.len() * 8];
        reader.fill(bytes);
        for (word, b) in chunk.iter_mut().zip(bytes.chunks_exact(8)) {
            *word = u64::from_le_bytes(b.try_into().expect("8-byte chunk"));
        }
    }
    buf.zeroize();
}

/// Words of a [`StreamRng`]'s buffer.
const RNG_BUFFER: usize = 32;

/// The stream F(key, op), read word by word as a random generator, for a sampler whose draws
/// the two holders of a key must make alike (the noise of a private release). Each word is
/// used once, in order, so the generator is as unpredictable as the PRF to anyone without the
/// key, and the same at both holders. The buffer is wiped on drop.
pub struct StreamRng<'a> {
    prf: &'a Prf,
    op: u64,
    /// Stream position of the next refill.
    refill_at: u64,
    buffer: [u64; RNG_BUFFER],
    /// Words of `buffer` used.
    used: usize,
}

impl<'a> StreamRng<'a> {
    /// The generator reading F(key, op) from its first word.
    pub fn new(prf: &'a Prf, op: u64) -> StreamRng<'a> {
        StreamRng {
            prf,
            op,
            refill_at: 0,
            buffer: [0; RNG_BUFFER],
            used: RNG_BUFFER,
        }
    }

    fn next_word(&mut self) -> u64 {
        if self.used == RNG_BUFFER {
            self.prf.fill_at(self.op, self.refill_at, &mut self.buffer);
            self.refill_at += RNG_BUFFER as u64;
            self.used = 0;
        }
        let w = self.buffer[self.used];
        self.used += 1;
        w
    }
}

impl Drop for StreamRng<'_> {
    fn drop(&mut self) {
        self.buffer.zeroize();
    }
}

impl rand::TryRng for StreamRng<'_> {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.next_word() as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next_word())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let w = self.next_word().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand::TryCryptoRng for StreamRng<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_key_and_op_and_are_prefix_consistent() {
        for kind in [PrfKind::Aes128Ctr, PrfKind::Blake3Xof] {
            let p = Prf::new(kind, &[7u8; 32]);
            let q = Prf::new(kind, &[8u8; 32]);
            let long = p.stream(1, 1000);
            assert_eq!(&p.stream(1, 257)[..], &long[..257], "{kind:?} prefix");
            assert_eq!(p.stream(1, 1000), long, "{kind:?} deterministic");
            assert_ne!(p.stream(2, 1000), long, "{kind:?} op separates");
            assert_ne!(q.stream(1, 1000), long, "{kind:?} key separates");
            for (start, len) in [(0usize, 0usize), (1, 1), (3, 300), (256, 257), (999, 1)] {
                let mut part = vec![0; len];
                p.fill_at(1, start as u64, &mut part);
                assert_eq!(
                    &part[..],
                    &long[start..start + len],
                    "{kind:?} seek {start}"
                );
            }
            // Read as a generator, the stream is the same words in order, across refills.
            let mut rng = StreamRng::new(&p, 1);
            let read: Vec<u64> = (0..100).map(|_| rand::Rng::next_u64(&mut rng)).collect();
            assert_eq!(&read[..], &long[..100], "{kind:?} generator");
            let mut bytes = [0u8; 12];
            rand::Rng::fill_bytes(&mut StreamRng::new(&p, 1), &mut bytes);
            assert_eq!(&bytes[..8], &long[0].to_le_bytes(), "{kind:?} bytes");
            assert_eq!(&bytes[8..], &long[1].to_le_bytes()[..4], "{kind:?} bytes");
            // crude uniformity: about half the bits set
            let ones: u32 = long.iter().map(|w| w.count_ones()).sum();
            assert!(
                (31_000..33_000).contains(&ones),
                "{kind:?} bit balance {ones}"
            );
        }
    }

    #[test]
    fn aes_ctr_matches_block_cipher_definition() {
        let key = [3u8; 32];
        let p = Prf::new(PrfKind::Aes128Ctr, &key);
        let got = p.stream(9, 6);
        let cipher = Aes128::new(&Array::from(<[u8; 16]>::try_from(&key[..16]).unwrap()));
        for j in 0..3u64 {
            let mut block = [0u8; 16];
            block[..8].copy_from_slice(&9u64.to_le_bytes());
            block[8..].copy_from_slice(&j.to_le_bytes());
            let mut arr = Array::from(block);
            cipher.encrypt_block(&mut arr);
            let lo = u64::from_le_bytes(arr[..8].try_into().unwrap());
            let hi = u64::from_le_bytes(arr[8..].try_into().unwrap());
            assert_eq!((got[2 * j as usize], got[2 * j as usize + 1]), (lo, hi));
        }
    }
}
