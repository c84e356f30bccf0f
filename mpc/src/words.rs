//! Vectors of 64-bit words (what the parties send each other) as little-endian bytes: 32-byte
//! keys and digests carried as four words, and word vectors fed to a hash. The one encoding
//! the protocols and the gateway use for both.

/// Words of a 32-byte key or digest.
pub const WORDS_32: usize = 4;

/// A 32-byte key or digest as four words.
pub fn from_32_bytes(b: &[u8; 32]) -> [u64; WORDS_32] {
    words_of(b)
}

/// Four words back as 32 bytes; `None` unless there are exactly four.
pub fn to_32_bytes(w: &[u64]) -> Option<[u8; 32]> {
    bytes_of(w)
}

/// Words of a 64-byte signature.
pub const WORDS_64: usize = 8;

/// A 64-byte signature as eight words.
pub fn from_64_bytes(b: &[u8; 64]) -> [u64; WORDS_64] {
    words_of(b)
}

/// Eight words back as 64 bytes; `None` unless there are exactly eight.
pub fn to_64_bytes(w: &[u64]) -> Option<[u8; 64]> {
    bytes_of(w)
}

/// `b` as `W` little-endian words (`b` is `8 * W` bytes: the callers' array types say so).
fn words_of<const W: usize>(b: &[u8]) -> [u64; W] {
    debug_assert_eq!(b.len(), 8 * W);
    std::array::from_fn(|i| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes")))
}

/// `w` back as `B` bytes; `None` unless `w` is exactly `B / 8` words.
fn bytes_of<const B: usize>(w: &[u64]) -> Option<[u8; B]> {
    if 8 * w.len() != B {
        return None;
    }
    let mut out = [0u8; B];
    for (chunk, word) in out.chunks_exact_mut(8).zip(w) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    Some(out)
}

/// Feeds `values` to `hasher`, their count first, block by block (no copy of the whole vector).
pub fn hash_words(hasher: &mut blake3::Hasher, values: &[u64]) {
    hasher.update(&(values.len() as u64).to_le_bytes());
    feed_words(hasher, values);
}

/// Feeds `values` to `hasher` as little-endian bytes, block by block, without their count (for
/// a stream whose parts must hash as the whole would).
pub fn feed_words(hasher: &mut blake3::Hasher, values: &[u64]) {
    const BLOCK: usize = 4096;
    let mut bytes = Vec::with_capacity(8 * BLOCK.min(values.len()));
    for block in values.chunks(BLOCK) {
        bytes.clear();
        bytes.extend(block.iter().flat_map(|v| v.to_le_bytes()));
        hasher.update(&bytes);
    }
}

/// BLAKE3 in derive-key mode under `context` of a session id, an operation counter and
/// `values`, as four words: the digest one holder of values sends another holder of the same
/// values to compare (a digest from another session, operation or context never matches).
pub fn op_digest(context: &str, session: &[u8; 32], op: u64, values: &[u64]) -> [u64; WORDS_32] {
    let mut h = blake3::Hasher::new_derive_key(context);
    h.update(session);
    h.update(&op.to_le_bytes());
    hash_words(&mut h, values);
    from_32_bytes(h.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_two_bytes_round_trip_and_other_lengths_are_refused() {
        let b: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
        let w = from_32_bytes(&b);
        assert_eq!(w[0], u64::from_le_bytes(b[..8].try_into().unwrap()));
        assert_eq!(to_32_bytes(&w), Some(b));
        assert_eq!(to_32_bytes(&w[..3]), None);
        assert_eq!(to_32_bytes(&[0; 5]), None);
        let s: [u8; 64] = std::array::from_fn(|i| i as u8 * 3);
        assert_eq!(to_64_bytes(&from_64_bytes(&s)), Some(s));
        assert_eq!(to_64_bytes(&[0; 7]), None);
    }

    /// Hashing words equals hashing their count and bytes in one piece, across block edges.
    #[test]
    fn hashing_words_equals_hashing_their_bytes() {
        for n in [0usize, 1, 4095, 4096, 4097, 9000] {
            let v: Vec<u64> = (0..n as u64)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .collect();
            let mut h = blake3::Hasher::new();
            hash_words(&mut h, &v);
            let mut bytes = (n as u64).to_le_bytes().to_vec();
            bytes.extend(v.iter().flat_map(|x| x.to_le_bytes()));
            assert_eq!(h.finalize(), blake3::hash(&bytes), "n = {n}");
        }
    }
}
