//! The Galois ring GR(2^64, 57) = Z_2^64[X] / (X^57 + X^7 + 1): the ring of the product proofs
//! ([`super::product_proof`]).
//!
//! Z_2^64 itself is no place for a random challenge: half its elements are zero divisors, so
//! an error of 2^63 survives a random multiplier with probability 1/2. This extension has the
//! same characteristic (a share of Z_2^64 is an element with one coefficient, and additive
//! shares stay additive), and X^57 + X^7 + 1 is irreducible modulo 2 (tested below), so the
//! 2^57 elements whose coefficients are all 0 or 1 (the *binary* elements) differ pairwise by
//! units. Hence a nonzero polynomial of degree t over the ring vanishes at a random binary
//! element with probability at most t / 2^57, and a nonzero element times a random binary
//! element is zero with probability at most 2^-57: the two facts the proofs' soundness rests
//! on.

use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};

use crate::kernels;

/// The extension degree.
pub const D: usize = 57;

/// The middle exponent of the modulus X^D + X^K + 1.
const K: usize = 7;

/// An element: D coefficients in Z_2^64, lowest degree first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, zeroize::Zeroize)]
pub struct Gr(pub [u64; D]);

impl Default for Gr {
    fn default() -> Gr {
        Gr::ZERO
    }
}

/// A product before reduction: 2D - 1 coefficients.
type Wide = [u64; 2 * D - 1];

/// Reduces a product modulo X^D + X^K + 1 (X^D = -X^K - 1), from the top down.
fn reduce(mut t: Wide) -> Gr {
    for i in (D..2 * D - 1).rev() {
        let c = t[i];
        t[i - D + K] = t[i - D + K].wrapping_sub(c);
        t[i - D] = t[i - D].wrapping_sub(c);
    }
    let mut out = [0u64; D];
    out.copy_from_slice(&t[..D]);
    Gr(out)
}

impl Gr {
    /// 0.
    pub const ZERO: Gr = Gr([0; D]);

    /// 1.
    pub const ONE: Gr = {
        let mut c = [0u64; D];
        c[0] = 1;
        Gr(c)
    };

    /// The element of Z_2^64 `v` (constant coefficient).
    pub fn scalar(v: u64) -> Gr {
        let mut c = [0u64; D];
        c[0] = v;
        Gr(c)
    }

    /// The binary element whose coefficient j is bit j of `bits` (bits D.. ignored).
    pub fn binary(bits: u64) -> Gr {
        Gr(std::array::from_fn(|j| (bits >> j) & 1))
    }

    /// An element from D words (uniform if the words are).
    pub fn from_words(words: &[u64]) -> Gr {
        let mut c = [0u64; D];
        c.copy_from_slice(&words[..D]);
        Gr(c)
    }

    /// `binary(bits) * self`: a sum of shifted copies, no multiplication.
    pub fn times_binary(&self, bits: u64) -> Gr {
        let mut t: Wide = [0; 2 * D - 1];
        kernels::best().poly_mul_add(&mut t, &Gr::binary(bits).0, &self.0);
        reduce(t)
    }

    /// 1, self, self^2, ..., self^(n-1).
    pub fn powers(&self, n: usize) -> Vec<Gr> {
        let mut out = Vec::with_capacity(n);
        let mut p = Gr::ONE;
        for _ in 0..n {
            out.push(p);
            p = p * *self;
        }
        out
    }
}

impl Add for Gr {
    type Output = Gr;
    fn add(mut self, o: Gr) -> Gr {
        self += o;
        self
    }
}

impl AddAssign for Gr {
    fn add_assign(&mut self, o: Gr) {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a = a.wrapping_add(*b);
        }
    }
}

impl Sub for Gr {
    type Output = Gr;
    fn sub(mut self, o: Gr) -> Gr {
        self -= o;
        self
    }
}

impl SubAssign for Gr {
    fn sub_assign(&mut self, o: Gr) {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a = a.wrapping_sub(*b);
        }
    }
}

impl Neg for Gr {
    type Output = Gr;
    fn neg(self) -> Gr {
        Gr(self.0.map(u64::wrapping_neg))
    }
}

impl Mul for Gr {
    type Output = Gr;
    fn mul(self, o: Gr) -> Gr {
        schoolbook(&self, &o)
    }
}

/// The product: schoolbook, then one reduction.
fn schoolbook(x: &Gr, y: &Gr) -> Gr {
    let mut t: Wide = [0; 2 * D - 1];
    kernels::best().poly_mul_add(&mut t, &x.0, &y.0);
    reduce(t)
}

/// Pairs an [`InnerProduct`] multiplies at once: their right elements (14.6 KiB) stay in the L1
/// cache while each of the D coefficient rows is summed.
const TILE: usize = 32;

/// A sum of products u_k v_k over the ring, computed a tile of pairs at a time: for each
/// coefficient i, W_i = sum_k u_k[i] v_k through the kernels' vector-matrix product (the v's of
/// the tile are its rows), and at the end the sum is sum_i X^i W_i, reduced once. The same
/// D x D multiply-adds per pair as the schoolbook product, in the fastest kernel.
pub struct InnerProduct {
    /// W_i, D words each.
    w: Vec<u64>,
    /// The tile's left elements, D words each.
    left: Vec<u64>,
    /// The tile's right elements, D words each: the rows of the vector-matrix products.
    right: Vec<u64>,
    /// Column i of the tile's left elements: the coefficients of the products.
    column: Vec<u64>,
    /// Pairs in the tile.
    filled: usize,
}

impl Default for InnerProduct {
    fn default() -> Self {
        InnerProduct {
            w: vec![0; D * D],
            left: vec![0; TILE * D],
            right: vec![0; TILE * D],
            column: vec![0; TILE],
            filled: 0,
        }
    }
}

impl InnerProduct {
    /// Adds u v.
    pub fn add(&mut self, u: &Gr, v: &Gr) {
        let at = self.filled * D;
        self.left[at..at + D].copy_from_slice(&u.0);
        self.right[at..at + D].copy_from_slice(&v.0);
        self.filled += 1;
        if self.filled == TILE {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let k = kernels::best();
        let n = self.filled;
        for i in 0..D {
            for (c, x) in self.column[..n].iter_mut().enumerate() {
                *x = self.left[c * D + i];
            }
            k.combine(
                &mut self.w[i * D..(i + 1) * D],
                &self.right[..n * D],
                &self.column[..n],
            );
        }
        self.filled = 0;
    }

    /// The sum.
    pub fn value(mut self) -> Gr {
        self.flush();
        let k = kernels::best();
        let mut t: Wide = [0; 2 * D - 1];
        for i in 0..D {
            k.add_assign(&mut t[i..i + D], &self.w[i * D..(i + 1) * D]);
        }
        reduce(t)
    }
}

impl Drop for InnerProduct {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.w.zeroize();
        self.left.zeroize();
        self.right.zeroize();
        self.column.zeroize();
    }
}

impl std::iter::Sum for Gr {
    fn sum<I: Iterator<Item = Gr>>(iter: I) -> Gr {
        iter.fold(Gr::ZERO, |a, b| a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Polynomials over F_2 of degree below 128, as bit masks.
    fn f2_mulmod(a: u128, b: u128, m: u128, deg: u32) -> u128 {
        let (mut a, mut b, mut acc) = (a, b, 0u128);
        while b != 0 {
            if b & 1 == 1 {
                acc ^= a;
            }
            b >>= 1;
            a <<= 1;
            if (a >> deg) & 1 == 1 {
                a ^= m;
            }
        }
        acc
    }

    fn f2_gcd(mut a: u128, mut b: u128) -> u128 {
        let deg = |x: u128| 127 - x.leading_zeros() as i32;
        while b != 0 {
            while a != 0 && deg(a) >= deg(b) {
                a ^= b << (deg(a) - deg(b));
            }
            std::mem::swap(&mut a, &mut b);
        }
        a
    }

    /// x^(2^k) mod m over F_2.
    fn frobenius(k: usize, m: u128, deg: u32) -> u128 {
        let mut x = 2u128;
        for _ in 0..k {
            x = f2_mulmod(x, x, m, deg);
        }
        x
    }

    /// Rabin's test for a polynomial of degree 57 = 3 * 19: x^(2^57) = x modulo it, and
    /// x^(2^19) - x and x^(2^3) - x are coprime to it.
    fn irreducible_of_degree_57(m: u128) -> bool {
        frobenius(D, m, D as u32) == 2
            && [D / 3, D / 19]
                .iter()
                .all(|k| f2_gcd(m, frobenius(*k, m, D as u32) ^ 2) == 1)
    }

    #[test]
    fn the_modulus_is_irreducible_mod_2() {
        assert!(irreducible_of_degree_57((1 << D) | (1 << K) | 1));
        // and the test tells reducible ones: both have the root 1
        assert!(!irreducible_of_degree_57((1 << D) | 1));
        assert!(!irreducible_of_degree_57((1 << D) | 0b111));
    }

    /// The inverse of a unit: its inverse modulo 2 (a^(2^57 - 2) in F_2^57), lifted by Newton's
    /// iteration y <- y (2 - a y), which doubles the correct low bits each time.
    fn inverse(a: &Gr) -> Gr {
        let mut y = a.reduce_mod_2_inverse();
        for _ in 0..6 {
            y = y * (Gr::scalar(2) - *a * y);
        }
        y
    }

    impl Gr {
        fn reduce_mod_2_inverse(&self) -> Gr {
            let m: u128 = (1 << D) | (1 << K) | 1;
            let bits: u128 = self
                .0
                .iter()
                .enumerate()
                .map(|(j, c)| ((c & 1) as u128) << j)
                .fold(0, |a, b| a | b);
            // a^(2^57 - 2) = prod over k in 1..57 of a^(2^k)
            let mut acc = 1u128;
            let mut sq = bits;
            for _ in 1..D {
                sq = f2_mulmod(sq, sq, m, D as u32);
                acc = f2_mulmod(acc, sq, m, D as u32);
            }
            Gr(std::array::from_fn(|j| ((acc >> j) & 1) as u64))
        }
    }

    fn any_gr() -> impl Strategy<Value = Gr> {
        proptest::collection::vec(any::<u64>(), D).prop_map(|v| Gr::from_words(&v))
    }

    /// The product the textbook way: every coefficient pair (no kernel), then the reduction.
    fn textbook_product(x: &Gr, y: &Gr) -> Gr {
        let mut t: Wide = [0; 2 * D - 1];
        for (i, a) in x.0.iter().enumerate() {
            for (j, b) in y.0.iter().enumerate() {
                t[i + j] = t[i + j].wrapping_add(a.wrapping_mul(*b));
            }
        }
        reduce(t)
    }

    proptest! {
        #[test]
        fn the_product_is_the_textbook_one(a in any_gr(), b in any_gr()) {
            prop_assert_eq!(a * b, textbook_product(&a, &b));
        }

        #[test]
        fn an_inner_product_is_the_sum_of_its_products(
            pairs in proptest::collection::vec((any_gr(), any_gr()), 0..70),
        ) {
            let mut ip = InnerProduct::default();
            let mut want = Gr::ZERO;
            for (u, v) in &pairs {
                ip.add(u, v);
                want += textbook_product(u, v);
            }
            prop_assert_eq!(ip.value(), want);
        }

        #[test]
        fn ring_laws(a in any_gr(), b in any_gr(), c in any_gr()) {
            prop_assert_eq!(a * b, b * a);
            prop_assert_eq!((a * b) * c, a * (b * c));
            prop_assert_eq!(a * (b + c), a * b + a * c);
            prop_assert_eq!(a * Gr::ONE, a);
            prop_assert_eq!(a - a, Gr::ZERO);
            prop_assert_eq!(-a + a, Gr::ZERO);
        }

        #[test]
        fn the_cheap_products_agree_with_the_full_one(a in any_gr(), bits in any::<u64>()) {
            prop_assert_eq!(a.times_binary(bits), a * Gr::binary(bits));
            prop_assert_eq!(a.powers(4)[3], a * a * a);
        }

        /// Two different binary elements differ by a unit: the exceptional set the challenges
        /// come from.
        #[test]
        fn binary_elements_differ_by_units(x in any::<u64>(), y in any::<u64>()) {
            let mask = (1u64 << D) - 1;
            prop_assume!(x & mask != y & mask);
            let diff = Gr::binary(x) - Gr::binary(y);
            prop_assert_eq!(diff * inverse(&diff), Gr::ONE);
        }

        /// So a nonzero element times a binary one is never zero for two different binary
        /// multipliers at once: at most one binary multiplier can cancel it (soundness 2^-57).
        #[test]
        fn a_2_adic_error_survives_a_binary_multiplier(shift in 0u32..64, x in any::<u64>(), y in any::<u64>()) {
            let mask = (1u64 << D) - 1;
            prop_assume!(x & mask != y & mask);
            let err = Gr::scalar(1u64 << shift);
            prop_assert_ne!(err.times_binary(x), err.times_binary(y));
        }
    }
}
