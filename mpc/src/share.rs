//! This party's view of secret-shared vectors.
//!
//! A vector x is shared as x = x0 + x1 + x2 (arithmetic, wrapping in Z_2^64) or x0 ^ x1 ^ x2
//! (boolean); party i holds the pair (x_i, x_{i+1 mod 3}), stored as `a` and `b`.
//! Boolean shares are bit-sliced: bit j of word w is value 64w + j. Both zeroize on drop.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::kernels::{self, words_for};

/// Party i's pair (x_i, x_{i+1}) of an arithmetic sharing of a vector over Z_2^64.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct ArithShares {
    /// x_i, the share this party holds with the previous party.
    pub a: Vec<u64>,
    /// x_{i+1}, the share this party holds with the next party.
    pub b: Vec<u64>,
}

impl std::fmt::Debug for ArithShares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ArithShares {{ len: {} }}", self.len())
    }
}

impl ArithShares {
    /// Pairs two share vectors; they must have the same length.
    pub fn new(a: Vec<u64>, b: Vec<u64>) -> Self {
        assert_eq!(a.len(), b.len(), "share components differ in length");
        ArithShares { a, b }
    }

    /// A sharing of n zeros (every component zero).
    pub fn zeros(n: usize) -> Self {
        ArithShares::new(vec![0; n], vec![0; n])
    }

    /// Number of shared values.
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// True when no value is shared.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// Shares of x + y (local).
    pub fn add(&self, y: &ArithShares) -> ArithShares {
        let mut z = self.clone();
        z.add_assign(y);
        z
    }

    /// Shares of x - y (local).
    pub fn sub(&self, y: &ArithShares) -> ArithShares {
        let mut z = self.clone();
        z.sub_assign(y);
        z
    }

    /// x += y (local).
    pub fn add_assign(&mut self, y: &ArithShares) {
        let k = kernels::best();
        k.add_assign(&mut self.a, &y.a);
        k.add_assign(&mut self.b, &y.b);
    }

    /// x -= y (local).
    pub fn sub_assign(&mut self, y: &ArithShares) {
        let k = kernels::best();
        k.sub_assign(&mut self.a, &y.a);
        k.sub_assign(&mut self.b, &y.b);
    }

    /// Shares of c * x for a public c (local).
    pub fn scale(&self, c: u64) -> ArithShares {
        let mut z = self.clone();
        let k = kernels::best();
        k.scale(&mut z.a, c);
        k.scale(&mut z.b, c);
        z
    }

    /// Adds the public constant c to every value (local: c goes to share x_0, which P0 holds
    /// as `a` and P2 as `b`).
    pub fn add_public(&mut self, me: crate::PartyId, c: u64) {
        let target = match me.index() {
            0 => &mut self.a,
            2 => &mut self.b,
            _ => return,
        };
        for v in target.iter_mut() {
            *v = v.wrapping_add(c);
        }
    }

    /// Shares of a public vector (local: the values become share x_0).
    pub fn public(me: crate::PartyId, values: &[u64]) -> ArithShares {
        let mut s = ArithShares::zeros(values.len());
        match me.index() {
            0 => s.a.copy_from_slice(values),
            2 => s.b.copy_from_slice(values),
            _ => {}
        }
        s
    }

    /// Shares of -x (local).
    pub fn neg(&self) -> ArithShares {
        self.scale(u64::MAX)
    }

    /// Shares of the sum of all values, a vector of one element (local).
    pub fn sum(&self) -> ArithShares {
        let k = kernels::best();
        ArithShares::new(vec![k.sum(&self.a)], vec![k.sum(&self.b)])
    }

    /// Shares of the values in `range` (a copy).
    pub fn slice(&self, range: std::ops::Range<usize>) -> ArithShares {
        ArithShares::new(self.a[range.clone()].to_vec(), self.b[range].to_vec())
    }

    /// Shares of the concatenation of several shared vectors.
    pub fn concat(parts: &[&ArithShares]) -> ArithShares {
        let n = parts.iter().map(|p| p.len()).sum();
        let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for p in parts {
            a.extend_from_slice(&p.a);
            b.extend_from_slice(&p.b);
        }
        ArithShares::new(a, b)
    }
}

/// Party i's pair of a boolean sharing of `len` bits, bit-sliced 64 bits per word.
/// Bits past `len` in the last word share zero.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct BoolShares {
    /// Component i, bit-sliced.
    pub a: Vec<u64>,
    /// Component i+1, bit-sliced.
    pub b: Vec<u64>,
    /// Number of shared bits.
    pub len: usize,
}

impl std::fmt::Debug for BoolShares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BoolShares {{ len: {} }}", self.len)
    }
}

impl BoolShares {
    /// Pairs two bit-sliced components holding `len` bits.
    pub fn new(a: Vec<u64>, b: Vec<u64>, len: usize) -> Self {
        assert_eq!(
            a.len(),
            words_for(len),
            "component a has the wrong word count"
        );
        assert_eq!(
            b.len(),
            words_for(len),
            "component b has the wrong word count"
        );
        let mut s = BoolShares { a, b, len };
        s.clear_padding();
        s
    }

    /// Number of shared bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no bit is shared.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Shares of NOT x (local: component 0 is flipped, held as `a` by P0 and `b` by P2).
    pub fn not(&self, me: crate::PartyId) -> BoolShares {
        let mut z = self.clone();
        let ones = vec![u64::MAX; z.a.len()];
        match me.index() {
            0 => kernels::best().xor_assign(&mut z.a, &ones),
            2 => kernels::best().xor_assign(&mut z.b, &ones),
            _ => {}
        }
        z.clear_padding();
        z
    }

    /// Shares of x ^ y (local).
    pub fn xor(&self, y: &BoolShares) -> BoolShares {
        assert_eq!(self.len, y.len, "bit vectors differ in length");
        let mut z = self.clone();
        kernels::best().xor_assign(&mut z.a, &y.a);
        kernels::best().xor_assign(&mut z.b, &y.b);
        z
    }

    /// Zeroes the bits past `len` so that they share zero.
    fn clear_padding(&mut self) {
        let rem = self.len % 64;
        if rem != 0 {
            let mask = (1u64 << rem) - 1;
            if let Some(w) = self.a.last_mut() {
                *w &= mask;
            }
            if let Some(w) = self.b.last_mut() {
                *w &= mask;
            }
        }
    }
}
