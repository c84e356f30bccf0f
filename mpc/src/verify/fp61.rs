//! The prime field F_p, p = 2^61 - 1 (a Mersenne prime): reduction is a shift and an add.
//! The field of the AND-gate proofs ([`super::and_proof`]): large enough that a sum of up to
//! 2^60 terms of +-1 cannot wrap around, and that a wrong polynomial of degree 8 agrees with
//! the right one at a random point with probability at most 8 / p < 2^-58.

use std::ops::{Add, AddAssign, Mul, Neg, Sub};

/// The modulus 2^61 - 1.
pub const P: u64 = (1 << 61) - 1;

/// An element of F_p, always reduced (in 0..P).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, zeroize::Zeroize)]
pub struct Fp(u64);

impl Fp {
    /// 0.
    pub const ZERO: Fp = Fp(0);
    /// 1.
    pub const ONE: Fp = Fp(1);

    /// `v` mod p.
    pub fn new(v: u64) -> Fp {
        Fp(reduce64(v))
    }

    /// A signed integer mod p.
    pub fn from_i64(v: i64) -> Fp {
        if v < 0 {
            -Fp::new(v.unsigned_abs())
        } else {
            Fp::new(v as u64)
        }
    }

    /// The representative in 0..p.
    pub fn value(self) -> u64 {
        self.0
    }

    /// self^e.
    pub fn pow(self, mut e: u64) -> Fp {
        let (mut base, mut acc) = (self, Fp::ONE);
        while e > 0 {
            if e & 1 == 1 {
                acc = acc * base;
            }
            base = base * base;
            e >>= 1;
        }
        acc
    }

    /// The inverse; `None` for 0.
    pub fn inv(self) -> Option<Fp> {
        (self != Fp::ZERO).then(|| self.pow(P - 2))
    }
}

/// v mod p for any u64.
fn reduce64(v: u64) -> u64 {
    let s = (v & P) + (v >> 61);
    if s >= P { s - P } else { s }
}

/// v mod p for any u128: its 61-bit limbs summed (2^61 = 1 mod p).
fn reduce128(v: u128) -> u64 {
    let l0 = (v as u64) & P;
    let l1 = ((v >> 61) as u64) & P;
    let l2 = (v >> 122) as u64;
    reduce64(l0 + l1 + l2)
}

impl Add for Fp {
    type Output = Fp;
    fn add(self, o: Fp) -> Fp {
        let s = self.0 + o.0;
        Fp(if s >= P { s - P } else { s })
    }
}

impl AddAssign for Fp {
    fn add_assign(&mut self, o: Fp) {
        *self = *self + o;
    }
}

impl Sub for Fp {
    type Output = Fp;
    fn sub(self, o: Fp) -> Fp {
        if self.0 >= o.0 {
            Fp(self.0 - o.0)
        } else {
            Fp(self.0 + P - o.0)
        }
    }
}

impl Neg for Fp {
    type Output = Fp;
    fn neg(self) -> Fp {
        Fp::ZERO - self
    }
}

impl Mul for Fp {
    type Output = Fp;
    fn mul(self, o: Fp) -> Fp {
        Fp(reduce128(self.0 as u128 * o.0 as u128))
    }
}

impl std::iter::Sum for Fp {
    fn sum<I: Iterator<Item = Fp>>(iter: I) -> Fp {
        iter.fold(Fp::ZERO, |a, b| a + b)
    }
}

/// A sum of products with the reductions delayed: each product is below 2^122, so 64 of them
/// fit a u128 before one reduction.
#[derive(Clone, Copy, Debug, Default)]
pub struct Accumulator {
    sum: u128,
    terms: u32,
}

impl Accumulator {
    /// Adds a * b.
    pub fn mul_add(&mut self, a: Fp, b: Fp) {
        if self.terms == 63 {
            self.sum = reduce128(self.sum) as u128;
            self.terms = 0;
        }
        self.sum += a.0 as u128 * b.0 as u128;
        self.terms += 1;
    }

    /// The sum, reduced.
    pub fn value(self) -> Fp {
        Fp(reduce128(self.sum))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn big(v: u64) -> u128 {
        v as u128
    }

    proptest! {
        #[test]
        fn arithmetic_matches_u128_arithmetic(a in any::<u64>(), b in any::<u64>()) {
            let (x, y) = (Fp::new(a), Fp::new(b));
            let p = big(P);
            prop_assert_eq!(big(x.value()), big(a) % p);
            prop_assert_eq!(big((x + y).value()), (big(a) + big(b)) % p);
            prop_assert_eq!(big((x - y).value()), (big(a) % p + p - big(b) % p) % p);
            prop_assert_eq!(big((x * y).value()), (big(a) % p) * (big(b) % p) % p);
            if let Some(i) = x.inv() {
                prop_assert_eq!(x * i, Fp::ONE);
            }
        }

        #[test]
        fn the_accumulator_equals_the_plain_sum(v in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..300)) {
            let mut acc = Accumulator::default();
            let mut plain = Fp::ZERO;
            for (a, b) in &v {
                acc.mul_add(Fp::new(*a), Fp::new(*b));
                plain += Fp::new(*a) * Fp::new(*b);
            }
            prop_assert_eq!(acc.value(), plain);
        }
    }

    #[test]
    fn edges() {
        assert_eq!(Fp::new(P), Fp::ZERO);
        assert_eq!(Fp::new(u64::MAX), Fp::new(u64::MAX % P));
        assert_eq!(Fp::from_i64(-1) + Fp::ONE, Fp::ZERO);
        assert_eq!(Fp::ZERO.inv(), None);
        assert_eq!(-Fp::ZERO, Fp::ZERO);
    }
}
