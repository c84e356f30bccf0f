//! The ring Z_2^64: ring elements are `u64` with wrapping arithmetic; signed integers map to it by
//! two's complement, so a value v with |v| < 2^63 round-trips through [`encode`] and [`decode`].

/// Maps a signed integer into the ring (two's complement).
pub fn encode(v: i64) -> u64 {
    v as u64
}

/// Reads a ring element as a signed integer in [-2^63, 2^63).
pub fn decode(x: u64) -> i64 {
    x as i64
}

/// [`encode`] over a slice.
pub fn encode_all(values: &[i64]) -> Vec<u64> {
    values.iter().map(|v| encode(*v)).collect()
}

/// [`decode`] over a slice.
pub fn decode_all(values: &[u64]) -> Vec<i64> {
    values.iter().map(|v| decode(*v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn signed_values_round_trip_and_add_like_integers(a in any::<i32>(), b in any::<i32>()) {
            prop_assert_eq!(decode(encode(a as i64)), a as i64);
            let sum = encode(a as i64).wrapping_add(encode(b as i64));
            prop_assert_eq!(decode(sum), a as i64 + b as i64);
            let prod = encode(a as i64).wrapping_mul(encode(b as i64));
            prop_assert_eq!(decode(prod), a as i64 * b as i64);
        }
    }
}
