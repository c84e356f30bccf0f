//! AVX2 kernels (4 ring elements per 256-bit vector).
//!
//! AVX2 has no 64-bit low multiply; [`mullo`] builds it from three `_mm256_mul_epu32` partial
//! products. Whether that beats scalar `imul` is measured by `benches/kernels.rs`; see
//! [`MUL_IN_SIMD`] for the decision this file takes.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::portable::Portable;
use super::{Kernels, same_len};

/// Lanes per vector.
const L: usize = 4;

/// Whether the multiplying kernels use the emulated vector multiply (true) or the scalar loop.
/// Measured on the development machine (Xeon, 2 cores): see the crate's ARCHITECTURE notes.
pub(super) const MUL_IN_SIMD: bool = true;

/// AVX2 kernels; only constructible through [`Avx2::detect`], so holding one proves the CPU
/// supports AVX2.
pub(super) struct Avx2(());

impl Avx2 {
    /// Returns the kernels when the CPU supports AVX2.
    pub(super) fn detect() -> Option<Self> {
        is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }
}

#[inline(always)]
unsafe fn ld(p: *const u64) -> __m256i {
    // SAFETY: the caller guarantees p..p+4 is inside one live slice; loadu has no alignment need.
    unsafe { _mm256_loadu_si256(p.cast()) }
}

#[inline(always)]
unsafe fn st(p: *mut u64, v: __m256i) {
    // SAFETY: the caller guarantees p..p+4 is inside one live, exclusively borrowed slice.
    unsafe { _mm256_storeu_si256(p.cast(), v) }
}

/// Low 64 bits of the lane-wise product, from 32-bit partial products.
#[inline]
#[target_feature(enable = "avx2")]
fn mullo(a: __m256i, b: __m256i) -> __m256i {
    let lo = _mm256_mul_epu32(a, b);
    let cross = _mm256_add_epi64(
        _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)),
        _mm256_mul_epu32(_mm256_srli_epi64(a, 32), b),
    );
    _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32))
}

/// [`super::Kernels::combine`]: `dst` in blocks of up to 8 vectors held in registers while
/// every row's slice of the block is multiplied in; the columns past the last whole vector
/// go through the portable loop.
#[target_feature(enable = "avx2")]
fn combine(dst: &mut [u64], rows: &[u64], coeffs: &[u64]) {
    let m = dst.len();
    same_len(&[rows.len(), coeffs.len() * m]);
    let vectors = m / L;
    let mut at = 0;
    while at < vectors {
        let left = vectors - at;
        // SAFETY (all four): the block [at * L, (at + V) * L) lies inside dst and inside every
        // row, since at + V <= vectors = m / L and rows holds coeffs.len() rows of m words.
        unsafe {
            if left >= 8 {
                combine_block::<8>(dst, rows, coeffs, at * L);
                at += 8;
            } else if left >= 4 {
                combine_block::<4>(dst, rows, coeffs, at * L);
                at += 4;
            } else if left >= 2 {
                combine_block::<2>(dst, rows, coeffs, at * L);
                at += 2;
            } else {
                combine_block::<1>(dst, rows, coeffs, at * L);
                at += 1;
            }
        }
    }
    for j in vectors * L..m {
        let mut acc = dst[j];
        for (i, c) in coeffs.iter().enumerate() {
            acc = acc.wrapping_add(rows[i * m + j].wrapping_mul(*c));
        }
        dst[j] = acc;
    }
}

/// One block of V vectors of [`combine`], starting at word `j0`.
///
/// # Safety
/// `j0 + V * L <= dst.len() = m` and `rows.len() == coeffs.len() * m`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn combine_block<const V: usize>(dst: &mut [u64], rows: &[u64], coeffs: &[u64], j0: usize) {
    let m = dst.len();
    let mut acc = [_mm256_setzero_si256(); V];
    // SAFETY: j0 + V * L <= m (the caller), so every load and store is inside dst, and inside
    // row i, which spans rows[i * m .. (i + 1) * m].
    unsafe {
        for (v, a) in acc.iter_mut().enumerate() {
            *a = ld(dst.as_ptr().add(j0 + v * L));
        }
        for (i, c) in coeffs.iter().enumerate() {
            let cv = _mm256_set1_epi64x(*c as i64);
            let row = rows.as_ptr().add(i * m + j0);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm256_add_epi64(*a, mullo(ld(row.add(v * L)), cv));
            }
        }
        for (v, a) in acc.iter().enumerate() {
            st(dst.as_mut_ptr().add(j0 + v * L), *a);
        }
    }
}

#[target_feature(enable = "avx2")]
fn add_assign(dst: &mut [u64], src: &[u64]) {
    let n = same_len(&[dst.len(), src.len()]);
    let body = n - n % L;
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of both slices.
        unsafe {
            let v = _mm256_add_epi64(ld(dst.as_ptr().add(k)), ld(src.as_ptr().add(k)));
            st(dst.as_mut_ptr().add(k), v);
        }
    }
    Portable.add_assign(&mut dst[body..], &src[body..]);
}

#[target_feature(enable = "avx2")]
fn sub_assign(dst: &mut [u64], src: &[u64]) {
    let n = same_len(&[dst.len(), src.len()]);
    let body = n - n % L;
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of both slices.
        unsafe {
            let v = _mm256_sub_epi64(ld(dst.as_ptr().add(k)), ld(src.as_ptr().add(k)));
            st(dst.as_mut_ptr().add(k), v);
        }
    }
    Portable.sub_assign(&mut dst[body..], &src[body..]);
}

#[target_feature(enable = "avx2")]
fn xor_assign(dst: &mut [u64], src: &[u64]) {
    let n = same_len(&[dst.len(), src.len()]);
    let body = n - n % L;
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of both slices.
        unsafe {
            let v = _mm256_xor_si256(ld(dst.as_ptr().add(k)), ld(src.as_ptr().add(k)));
            st(dst.as_mut_ptr().add(k), v);
        }
    }
    Portable.xor_assign(&mut dst[body..], &src[body..]);
}

#[target_feature(enable = "avx2")]
fn mul(out: &mut [u64], x: &[u64], y: &[u64]) {
    let n = same_len(&[out.len(), x.len(), y.len()]);
    let body = n - n % L;
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of all three slices.
        unsafe {
            let v = mullo(ld(x.as_ptr().add(k)), ld(y.as_ptr().add(k)));
            st(out.as_mut_ptr().add(k), v);
        }
    }
    Portable.mul(&mut out[body..], &x[body..], &y[body..]);
}

#[target_feature(enable = "avx2")]
fn axpy(dst: &mut [u64], x: &[u64], c: u64) {
    let n = same_len(&[dst.len(), x.len()]);
    let body = n - n % L;
    let cv = _mm256_set1_epi64x(c as i64);
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of both slices.
        unsafe {
            let v = _mm256_add_epi64(ld(dst.as_ptr().add(k)), mullo(ld(x.as_ptr().add(k)), cv));
            st(dst.as_mut_ptr().add(k), v);
        }
    }
    Portable.axpy(&mut dst[body..], &x[body..], c);
}

#[target_feature(enable = "avx2")]
fn scale(dst: &mut [u64], c: u64) {
    let n = dst.len();
    let body = n - n % L;
    let cv = _mm256_set1_epi64x(c as i64);
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the slice length.
        unsafe {
            let v = mullo(ld(dst.as_ptr().add(k)), cv);
            st(dst.as_mut_ptr().add(k), v);
        }
    }
    Portable.scale(&mut dst[body..], c);
}

#[target_feature(enable = "avx2")]
fn mul_local(
    out: &mut [u64],
    (xa, xb): (&[u64], &[u64]),
    (ya, yb): (&[u64], &[u64]),
    (rp, rn): (&[u64], &[u64]),
) {
    let n = same_len(&[
        out.len(),
        xa.len(),
        xb.len(),
        ya.len(),
        yb.len(),
        rp.len(),
        rn.len(),
    ]);
    let body = n - n % L;
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of all seven slices.
        unsafe {
            let a = ld(xa.as_ptr().add(k));
            let b = ld(xb.as_ptr().add(k));
            let c = ld(ya.as_ptr().add(k));
            let d = ld(yb.as_ptr().add(k));
            let t = _mm256_add_epi64(mullo(a, _mm256_add_epi64(c, d)), mullo(b, c));
            let r = _mm256_sub_epi64(ld(rp.as_ptr().add(k)), ld(rn.as_ptr().add(k)));
            st(out.as_mut_ptr().add(k), _mm256_add_epi64(t, r));
        }
    }
    Portable.mul_local(
        &mut out[body..],
        (&xa[body..], &xb[body..]),
        (&ya[body..], &yb[body..]),
        (&rp[body..], &rn[body..]),
    );
}

#[target_feature(enable = "avx2")]
fn dot_local((xa, xb): (&[u64], &[u64]), (ya, yb): (&[u64], &[u64])) -> u64 {
    let n = same_len(&[xa.len(), xb.len(), ya.len(), yb.len()]);
    let body = n - n % L;
    let mut acc = _mm256_setzero_si256();
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of all four slices.
        unsafe {
            let a = ld(xa.as_ptr().add(k));
            let b = ld(xb.as_ptr().add(k));
            let c = ld(ya.as_ptr().add(k));
            let d = ld(yb.as_ptr().add(k));
            let t = _mm256_add_epi64(mullo(a, _mm256_add_epi64(c, d)), mullo(b, c));
            acc = _mm256_add_epi64(acc, t);
        }
    }
    let mut lanes = [0u64; L];
    // SAFETY: lanes holds exactly L u64.
    unsafe { st(lanes.as_mut_ptr(), acc) };
    let head = lanes.iter().fold(0u64, |s, v| s.wrapping_add(*v));
    head.wrapping_add(Portable.dot_local((&xa[body..], &xb[body..]), (&ya[body..], &yb[body..])))
}

#[target_feature(enable = "avx2")]
fn sum(x: &[u64]) -> u64 {
    let n = x.len();
    let body = n - n % L;
    let mut acc = _mm256_setzero_si256();
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the slice length.
        unsafe { acc = _mm256_add_epi64(acc, ld(x.as_ptr().add(k))) };
    }
    let mut lanes = [0u64; L];
    // SAFETY: lanes holds exactly L u64.
    unsafe { st(lanes.as_mut_ptr(), acc) };
    let head = lanes.iter().fold(0u64, |s, v| s.wrapping_add(*v));
    head.wrapping_add(Portable.sum(&x[body..]))
}

#[target_feature(enable = "avx2")]
fn and_local(
    out: &mut [u64],
    (xa, xb): (&[u64], &[u64]),
    (ya, yb): (&[u64], &[u64]),
    (rp, rn): (&[u64], &[u64]),
) {
    let n = same_len(&[
        out.len(),
        xa.len(),
        xb.len(),
        ya.len(),
        yb.len(),
        rp.len(),
        rn.len(),
    ]);
    let body = n - n % L;
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of all seven slices.
        unsafe {
            let a = ld(xa.as_ptr().add(k));
            let b = ld(xb.as_ptr().add(k));
            let c = ld(ya.as_ptr().add(k));
            let d = ld(yb.as_ptr().add(k));
            let t = _mm256_xor_si256(
                _mm256_and_si256(a, _mm256_xor_si256(c, d)),
                _mm256_and_si256(b, c),
            );
            let r = _mm256_xor_si256(ld(rp.as_ptr().add(k)), ld(rn.as_ptr().add(k)));
            st(out.as_mut_ptr().add(k), _mm256_xor_si256(t, r));
        }
    }
    Portable.and_local(
        &mut out[body..],
        (&xa[body..], &xb[body..]),
        (&ya[body..], &yb[body..]),
        (&rp[body..], &rn[body..]),
    );
}

impl Kernels for Avx2 {
    fn name(&self) -> &'static str {
        "avx2"
    }
    fn add_assign(&self, dst: &mut [u64], src: &[u64]) {
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { add_assign(dst, src) }
    }
    fn sub_assign(&self, dst: &mut [u64], src: &[u64]) {
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { sub_assign(dst, src) }
    }
    fn mul(&self, out: &mut [u64], x: &[u64], y: &[u64]) {
        if !MUL_IN_SIMD {
            return Portable.mul(out, x, y);
        }
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { mul(out, x, y) }
    }
    fn scale(&self, dst: &mut [u64], c: u64) {
        if !MUL_IN_SIMD {
            return Portable.scale(dst, c);
        }
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { scale(dst, c) }
    }
    fn axpy(&self, dst: &mut [u64], x: &[u64], c: u64) {
        if !MUL_IN_SIMD {
            return Portable.axpy(dst, x, c);
        }
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { axpy(dst, x, c) }
    }
    fn combine(&self, dst: &mut [u64], rows: &[u64], coeffs: &[u64]) {
        if !MUL_IN_SIMD {
            return Portable.combine(dst, rows, coeffs);
        }
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { combine(dst, rows, coeffs) }
    }
    fn mul_local(
        &self,
        out: &mut [u64],
        x: (&[u64], &[u64]),
        y: (&[u64], &[u64]),
        r: (&[u64], &[u64]),
    ) {
        if !MUL_IN_SIMD {
            return Portable.mul_local(out, x, y, r);
        }
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { mul_local(out, x, y, r) }
    }
    fn dot_local(&self, x: (&[u64], &[u64]), y: (&[u64], &[u64])) -> u64 {
        if !MUL_IN_SIMD {
            return Portable.dot_local(x, y);
        }
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { dot_local(x, y) }
    }
    fn sum(&self, x: &[u64]) -> u64 {
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { sum(x) }
    }
    fn xor_assign(&self, dst: &mut [u64], src: &[u64]) {
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { xor_assign(dst, src) }
    }
    fn and_local(
        &self,
        out: &mut [u64],
        x: (&[u64], &[u64]),
        y: (&[u64], &[u64]),
        r: (&[u64], &[u64]),
    ) {
        // SAFETY: an Avx2 value exists only after AVX2 was detected on this CPU.
        unsafe { and_local(out, x, y, r) }
    }
}
