//! Every SIMD kernel equals the portable kernel on random lengths (0, 1, odd, non-multiples of
//! the lane count) and on unaligned sub-slices.

use super::*;
use proptest::prelude::*;

/// Random vectors of length up to 70 plus an offset (0..3) so sub-slices start unaligned.
fn vecs(count: usize) -> impl Strategy<Value = (Vec<Vec<u64>>, usize)> {
    (0usize..70, 0usize..3).prop_flat_map(move |(n, off)| {
        (
            proptest::collection::vec(proptest::collection::vec(any::<u64>(), n + off), count),
            Just(off),
        )
    })
}

fn simd() -> Vec<&'static dyn Kernels> {
    available().into_iter().skip(1).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn elementwise_ops_match_portable((v, off) in vecs(7), c in any::<u64>()) {
        let p = portable();
        let s: Vec<&[u64]> = v.iter().map(|x| &x[off..]).collect();
        for k in simd() {
            let mut want = s[0].to_vec();
            let mut got = s[0].to_vec();
            p.add_assign(&mut want, s[1]);
            k.add_assign(&mut got, s[1]);
            prop_assert_eq!(&want, &got, "add_assign {}", k.name());
            p.sub_assign(&mut want, s[2]);
            k.sub_assign(&mut got, s[2]);
            prop_assert_eq!(&want, &got, "sub_assign {}", k.name());
            p.xor_assign(&mut want, s[3]);
            k.xor_assign(&mut got, s[3]);
            prop_assert_eq!(&want, &got, "xor_assign {}", k.name());
            p.scale(&mut want, c);
            k.scale(&mut got, c);
            prop_assert_eq!(&want, &got, "scale {}", k.name());
            p.axpy(&mut want, s[4], c);
            k.axpy(&mut got, s[4], c);
            prop_assert_eq!(&want, &got, "axpy {}", k.name());
            p.mul(&mut want, s[4], s[5]);
            k.mul(&mut got, s[4], s[5]);
            prop_assert_eq!(&want, &got, "mul {}", k.name());
            prop_assert_eq!(p.sum(s[6]), k.sum(s[6]), "sum {}", k.name());
        }
    }

    /// Every implementation's `combine` is the plain vector-matrix product, for any row
    /// length (lane remainders, masked partial vectors, one block or several of every size)
    /// and any number of rows.
    #[test]
    fn combine_is_a_vector_times_a_matrix(
        m in 0usize..150,
        coeffs in proptest::collection::vec(any::<u64>(), 0..12),
        seed in any::<u64>(),
    ) {
        let rows: Vec<u64> = (0..coeffs.len() * m)
            .map(|i| (i as u64 ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(i as u32))
            .collect();
        let start: Vec<u64> = (0..m as u64).map(|j| j.wrapping_mul(seed)).collect();
        let mut want = start.clone();
        for (i, c) in coeffs.iter().enumerate() {
            for (j, d) in want.iter_mut().enumerate() {
                *d = d.wrapping_add(rows[i * m + j].wrapping_mul(*c));
            }
        }
        for k in available() {
            let mut got = start.clone();
            k.combine(&mut got, &rows, &coeffs);
            prop_assert_eq!(&want, &got, "combine {}", k.name());
        }
    }

    /// Every implementation's `poly_mul_add` adds the schoolbook product, for factors of any
    /// length (in registers up to 64 coefficients and 128 words of product, by rows beyond),
    /// with general coefficients and with the 0/1 coefficients of binary elements.
    #[test]
    fn poly_mul_add_adds_the_polynomial_product(
        a in proptest::collection::vec(any::<u64>(), 0..70),
        b in proptest::collection::vec(any::<u64>(), 0..70),
        slack in 0usize..20,
        binary in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let a: Vec<u64> = if binary { a.iter().map(|c| c & 1).collect() } else { a };
        let m = (a.len() + b.len()).saturating_sub(1) + slack;
        let start: Vec<u64> = (0..m as u64).map(|j| j.wrapping_mul(seed)).collect();
        let mut want = start.clone();
        for (j, c) in a.iter().enumerate() {
            for (i, x) in b.iter().enumerate() {
                want[i + j] = want[i + j].wrapping_add(c.wrapping_mul(*x));
            }
        }
        for k in available() {
            let mut got = start.clone();
            k.poly_mul_add(&mut got, &a, &b);
            prop_assert_eq!(&want, &got, "poly_mul_add {}", k.name());
        }
    }

    /// A product that does not fit its destination is a caller's bug, refused at every
    /// implementation.
    #[test]
    fn poly_mul_add_refuses_a_short_destination(len in 1usize..40) {
        for k in available() {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut dst = vec![0u64; 2 * len - 2];
                k.poly_mul_add(&mut dst, &vec![1; len], &vec![1; len]);
            }));
            prop_assert!(r.is_err(), "{} accepted a short destination", k.name());
        }
    }

    #[test]
    fn fused_share_steps_match_portable((v, off) in vecs(7)) {
        let p = portable();
        let s: Vec<&[u64]> = v.iter().map(|x| &x[off..]).collect();
        let n = s[0].len();
        for k in simd() {
            let (mut want, mut got) = (vec![0; n], vec![0; n]);
            p.mul_local(&mut want, (s[0], s[1]), (s[2], s[3]), (s[4], s[5]));
            k.mul_local(&mut got, (s[0], s[1]), (s[2], s[3]), (s[4], s[5]));
            prop_assert_eq!(&want, &got, "mul_local {}", k.name());
            p.and_local(&mut want, (s[0], s[1]), (s[2], s[3]), (s[4], s[5]));
            k.and_local(&mut got, (s[0], s[1]), (s[2], s[3]), (s[4], s[5]));
            prop_assert_eq!(&want, &got, "and_local {}", k.name());
            prop_assert_eq!(
                p.dot_local((s[0], s[1]), (s[2], s[6])),
                k.dot_local((s[0], s[1]), (s[2], s[6])),
                "dot_local {}", k.name()
            );
        }
    }

    #[test]
    fn transpose_round_trips_and_slices_bits(values in proptest::collection::vec(any::<u64>(), 0..200)) {
        let words = words_for(values.len());
        let mut planes = vec![0; 64 * words];
        transpose_to_planes(&values, &mut planes);
        for (v, value) in values.iter().enumerate() {
            for bit in 0..64 {
                let got = (planes[bit * words + v / 64] >> (v % 64)) & 1;
                prop_assert_eq!(got, (value >> bit) & 1);
            }
        }
        let mut back = vec![0; values.len()];
        transpose_from_planes(&planes, &mut back);
        prop_assert_eq!(&back, &values);
        // Fewer planes: the low ones, the same as the first of all 64.
        for count in [1usize, 15, 63] {
            let mut low = vec![0; count * words];
            transpose_to_planes_with(&values, &mut low, |v| v);
            prop_assert_eq!(&low[..], &planes[..count * words]);
        }
    }
}

/// The portable fused multiply step is the replicated-sharing formula with all nine cross terms
/// distributed over the three parties (checked here on plain numbers, independent of SIMD).
#[test]
fn portable_mul_local_is_the_cross_term_formula() {
    let (xa, xb, ya, yb, rp, rn) = (7u64, u64::MAX - 3, 11u64, 1u64 << 63, 5u64, 9u64);
    let mut out = [0u64];
    portable().mul_local(&mut out, (&[xa], &[xb]), (&[ya], &[yb]), (&[rp], &[rn]));
    let want = xa
        .wrapping_mul(ya)
        .wrapping_add(xa.wrapping_mul(yb))
        .wrapping_add(xb.wrapping_mul(ya))
        .wrapping_add(rp)
        .wrapping_sub(rn);
    assert_eq!(out[0], want);
}

#[test]
fn best_is_one_of_the_available() {
    let names: Vec<&str> = available().iter().map(|k| k.name()).collect();
    assert!(names.contains(&best().name()));
    assert_eq!(names[0], "portable");
}
