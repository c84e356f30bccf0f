//! Hot share-arithmetic kernels over slices of ring elements (Z_2^64) and bit-sliced words.
//!
//! Every operation the protocols perform on whole vectors goes through a [`Kernels`]
//! implementation: a portable one, an AVX2 one and an AVX-512 one. [`best`] picks the fastest
//! the CPU supports, detected once at first use (`is_x86_feature_detected!`). The SIMD
//! implementations can only be constructed after detection succeeded, which is what makes
//! their internal `unsafe` blocks sound. All slices passed together must have equal lengths;
//! a mismatch is a programming error and panics.

use std::sync::OnceLock;

mod portable;
mod transpose;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

pub use transpose::{
    transpose_from_planes, transpose_to_planes, transpose_to_planes_with, transpose64, words_for,
};

/// The vector kernels of the share arithmetic; one implementation per instruction set.
///
/// Naming: for a replicated pair held by party i, `xa` is x_i and `xb` is x_{i+1}.
pub trait Kernels: Sync {
    /// Short name of the instruction set ("portable", "avx2", "avx512").
    fn name(&self) -> &'static str;
    /// `dst[k] += src[k]` (wrapping).
    fn add_assign(&self, dst: &mut [u64], src: &[u64]);
    /// `dst[k] -= src[k]` (wrapping).
    fn sub_assign(&self, dst: &mut [u64], src: &[u64]);
    /// `out[k] = x[k] * y[k]` (wrapping, low 64 bits).
    fn mul(&self, out: &mut [u64], x: &[u64], y: &[u64]);
    /// `dst[k] *= c` (wrapping).
    fn scale(&self, dst: &mut [u64], c: u64);
    /// `dst[k] += c * x[k]` (wrapping): the row operation of the Galois-ring arithmetic of the
    /// product proofs.
    fn axpy(&self, dst: &mut [u64], x: &[u64], c: u64);
    /// `dst[j] += sum_i coeffs[i] * rows[i * m + j]` for `m = dst.len()` (wrapping): a vector
    /// of coefficients times a matrix whose rows are `m` words each. The hot loop of the
    /// product proofs (folding a vector at a challenge, the prover's table, Galois-ring
    /// products), where a row-at-a-time [`Kernels::axpy`] would load and store `dst` once per
    /// row. Panics unless `rows.len() == coeffs.len() * dst.len()`.
    fn combine(&self, dst: &mut [u64], rows: &[u64], coeffs: &[u64]) {
        combine_by_rows(self, dst, rows, coeffs);
    }
    /// `dst[i + j] += a[j] * b[i]` for every `j < a.len()`, `i < b.len()` (wrapping): the
    /// product of two polynomials (coefficients lowest first) added into `dst`. The
    /// schoolbook step of a Galois-ring product, and with coefficients 0 and 1 in `a` the
    /// product by a binary element (a sum of shifted copies of `b`). Zero coefficients of `a`
    /// cost nothing. Panics unless `dst` holds the whole product
    /// (`dst.len() >= a.len() + b.len() - 1`).
    fn poly_mul_add(&self, dst: &mut [u64], a: &[u64], b: &[u64]) {
        poly_mul_add_by_rows(self, dst, a, b);
    }
    /// Local step of the replicated multiplication fused with the zero-sharing:
    /// `out = xa*(ya+yb) + xb*ya + r_prev - r_next`
    /// (= x_i*y_i + x_i*y_{i+1} + x_{i+1}*y_i + alpha_i).
    fn mul_local(
        &self,
        out: &mut [u64],
        x: (&[u64], &[u64]),
        y: (&[u64], &[u64]),
        r: (&[u64], &[u64]),
    );
    /// Local step of a dot product without the mask: `sum_k xa*(ya+yb) + xb*ya` (wrapping).
    fn dot_local(&self, x: (&[u64], &[u64]), y: (&[u64], &[u64])) -> u64;
    /// Wrapping sum of all elements.
    fn sum(&self, x: &[u64]) -> u64;
    /// `dst[k] ^= src[k]`.
    fn xor_assign(&self, dst: &mut [u64], src: &[u64]);
    /// Local step of the boolean AND fused with the zero-sharing:
    /// `out = xa&(ya^yb) ^ xb&ya ^ r_prev ^ r_next`.
    fn and_local(
        &self,
        out: &mut [u64],
        x: (&[u64], &[u64]),
        y: (&[u64], &[u64]),
        r: (&[u64], &[u64]),
    );
}

/// The portable implementation (plain Rust loops; the compiler vectorises what it can for the
/// baseline target).
pub fn portable() -> &'static dyn Kernels {
    &portable::Portable
}

/// The AVX2 implementation, when the CPU has AVX2.
pub fn avx2() -> Option<&'static dyn Kernels> {
    #[cfg(target_arch = "x86_64")]
    {
        static K: OnceLock<Option<avx2::Avx2>> = OnceLock::new();
        K.get_or_init(avx2::Avx2::detect)
            .as_ref()
            .map(|k| k as &dyn Kernels)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// The AVX-512 (F + DQ) implementation, when the CPU has it.
pub fn avx512() -> Option<&'static dyn Kernels> {
    #[cfg(target_arch = "x86_64")]
    {
        static K: OnceLock<Option<avx512::Avx512>> = OnceLock::new();
        K.get_or_init(avx512::Avx512::detect)
            .as_ref()
            .map(|k| k as &dyn Kernels)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// Every implementation this CPU can run, portable first.
pub fn available() -> Vec<&'static dyn Kernels> {
    let mut all = vec![portable()];
    all.extend(avx2());
    all.extend(avx512());
    all
}

/// The fastest implementation this CPU supports, chosen once.
pub fn best() -> &'static dyn Kernels {
    static BEST: OnceLock<&'static dyn Kernels> = OnceLock::new();
    *BEST.get_or_init(|| avx512().or_else(avx2).unwrap_or_else(portable))
}

/// [`Kernels::combine`] a row at a time with the kernels' own `axpy`.
fn combine_by_rows<K: Kernels + ?Sized>(k: &K, dst: &mut [u64], rows: &[u64], coeffs: &[u64]) {
    let m = dst.len();
    same_len(&[rows.len(), coeffs.len() * m]);
    if m == 0 {
        return;
    }
    for (row, c) in rows.chunks_exact(m).zip(coeffs) {
        k.axpy(dst, row, *c);
    }
}

/// [`Kernels::poly_mul_add`] a row at a time: one `axpy` of `b` per nonzero coefficient of `a`.
fn poly_mul_add_by_rows<K: Kernels + ?Sized>(k: &K, dst: &mut [u64], a: &[u64], b: &[u64]) {
    product_fits(dst.len(), a.len(), b.len());
    for (j, c) in a.iter().enumerate() {
        if *c != 0 {
            k.axpy(&mut dst[j..j + b.len()], b, *c);
        }
    }
}

/// Panics unless a product of polynomials with `a` and `b` coefficients fits in `dst` words
/// (a caller bug, never a data condition).
#[inline]
pub(crate) fn product_fits(dst: usize, a: usize, b: usize) {
    assert!(
        a == 0 || b == 0 || dst + 1 >= a + b,
        "polynomial product does not fit"
    );
}

/// Panics unless all lengths are equal (a caller bug, never a data condition).
#[inline]
pub(crate) fn same_len(lens: &[usize]) -> usize {
    let n = lens[0];
    assert!(
        lens.iter().all(|&l| l == n),
        "kernel slices differ in length"
    );
    n
}

#[cfg(test)]
mod tests;
