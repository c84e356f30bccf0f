//! Bit-slicing: 64x64 bit-matrix transpose, and conversion between a vector of 64-bit values and
//! 64 bit-planes (plane k, word c holds bit k of values 64c..64c+63).

/// Masks selecting, for each swap distance j = 32, 16, ..., 1, the columns whose bit j is clear.
const MASKS: [(u32, u64); 6] = [
    (32, 0x0000_0000_FFFF_FFFF),
    (16, 0x0000_FFFF_0000_FFFF),
    (8, 0x00FF_00FF_00FF_00FF),
    (4, 0x0F0F_0F0F_0F0F_0F0F),
    (2, 0x3333_3333_3333_3333),
    (1, 0x5555_5555_5555_5555),
];

/// Transposes a 64x64 bit matrix in place: afterwards bit c of `m[r]` is the former bit r of
/// `m[c]`. Six swap stages of 32 word pairs each (the recursive block-swap method).
pub fn transpose64(m: &mut [u64; 64]) {
    for (j, mask) in MASKS {
        let j = j as usize;
        let mut r = 0;
        while r < 64 {
            for row in r..r + j {
                let t = ((m[row] >> j) ^ m[row + j]) & mask;
                m[row] ^= t << j;
                m[row + j] ^= t;
            }
            r += 2 * j;
        }
    }
}

/// Number of 64-bit words that hold one bit of each of `n` values.
pub fn words_for(n: usize) -> usize {
    n.div_ceil(64)
}

/// Bit-slices `values` into `planes` (64 planes of `words_for(values.len())` words, plane-major).
/// Bits of the padding positions in the last word are zero.
pub fn transpose_to_planes(values: &[u64], planes: &mut [u64]) {
    transpose_to_planes_with(values, planes, |v| v);
}

/// [`transpose_to_planes`] of `f(v)` for every value v (f is applied while loading, so a local
/// map costs no extra pass; padding positions stay zero). `planes` may hold fewer than 64
/// planes: it then receives the low `planes.len() / words` bit-planes only (a comparison of
/// bounded width reads no others).
pub fn transpose_to_planes_with(values: &[u64], planes: &mut [u64], f: impl Fn(u64) -> u64) {
    let words = words_for(values.len());
    let count = planes.len().checked_div(words).unwrap_or(0);
    assert!(
        planes.len() == count * words && count <= 64,
        "plane buffer has the wrong size"
    );
    let mut block = [0u64; 64];
    for (c, chunk) in values.chunks(64).enumerate() {
        for (b, v) in block.iter_mut().zip(chunk) {
            *b = f(*v);
        }
        block[chunk.len()..].fill(0);
        transpose64(&mut block);
        for (k, word) in block.iter().take(count).enumerate() {
            planes[k * words + c] = *word;
        }
    }
}

/// Inverse of [`transpose_to_planes`]: rebuilds `values` from 64 bit-planes.
pub fn transpose_from_planes(planes: &[u64], values: &mut [u64]) {
    let words = words_for(values.len());
    assert_eq!(planes.len(), 64 * words, "plane buffer has the wrong size");
    let mut block = [0u64; 64];
    for (c, chunk) in values.chunks_mut(64).enumerate() {
        for (k, word) in block.iter_mut().enumerate() {
            *word = planes[k * words + c];
        }
        transpose64(&mut block);
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}
