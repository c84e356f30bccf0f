//! AVX-512 kernels (8 ring elements per 512-bit vector; AVX-512F plus DQ for the 64-bit
//! multiply `_mm512_mullo_epi64`).
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::portable::Portable;
use super::{Kernels, same_len};

/// Lanes per vector.
const L: usize = 8;

/// AVX2 kernels; only constructible through [`Avx512::detect`], so holding one proves the CPU
/// supports AVX-512F and DQ.
pub(super) struct Avx512(());

impl Avx512 {
    /// Returns the kernels when the CPU supports AVX-512F and DQ.
    pub(super) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq"))
            .then_some(Avx512(()))
    }
}

#[inline(always)]
unsafe fn ld(p: *const u64) -> __m512i {
    // SAFETY: the caller guarantees p..p+8 is inside one live slice; loadu has no alignment need.
    unsafe { _mm512_loadu_si512(p.cast()) }
}

#[inline(always)]
unsafe fn st(p: *mut u64, v: __m512i) {
    // SAFETY: the caller guarantees p..p+8 is inside one live, exclusively borrowed slice.
    unsafe { _mm512_storeu_si512(p.cast(), v) }
}

/// Low 64 bits of the lane-wise product.
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn mullo(a: __m512i, b: __m512i) -> __m512i {
    _mm512_mullo_epi64(a, b)
}

#[target_feature(enable = "avx512f,avx512dq")]
fn add_assign(dst: &mut [u64], src: &[u64]) {
    let n = same_len(&[dst.len(), src.len()]);
    let body = n - n % L;
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of both slices.
        unsafe {
            let v = _mm512_add_epi64(ld(dst.as_ptr().add(k)), ld(src.as_ptr().add(k)));
            st(dst.as_mut_ptr().add(k), v);
        }
    }
    Portable.add_assign(&mut dst[body..], &src[body..]);
}

#[target_feature(enable = "avx512f,avx512dq")]
fn sub_assign(dst: &mut [u64], src: &[u64]) {
    let n = same_len(&[dst.len(), src.len()]);
    let body = n - n % L;
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of both slices.
        unsafe {
            let v = _mm512_sub_epi64(ld(dst.as_ptr().add(k)), ld(src.as_ptr().add(k)));
            st(dst.as_mut_ptr().add(k), v);
        }
    }
    Portable.sub_assign(&mut dst[body..], &src[body..]);
}

#[target_feature(enable = "avx512f,avx512dq")]
fn xor_assign(dst: &mut [u64], src: &[u64]) {
    let n = same_len(&[dst.len(), src.len()]);
    let body = n - n % L;
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of both slices.
        unsafe {
            let v = _mm512_xor_si512(ld(dst.as_ptr().add(k)), ld(src.as_ptr().add(k)));
            st(dst.as_mut_ptr().add(k), v);
        }
    }
    Portable.xor_assign(&mut dst[body..], &src[body..]);
}

#[target_feature(enable = "avx512f,avx512dq")]
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

#[target_feature(enable = "avx512f,avx512dq")]
fn axpy(dst: &mut [u64], x: &[u64], c: u64) {
    let n = same_len(&[dst.len(), x.len()]);
    let body = n - n % L;
    let cv = _mm512_set1_epi64(c as i64);
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of both slices.
        unsafe {
            let v = _mm512_add_epi64(ld(dst.as_ptr().add(k)), mullo(ld(x.as_ptr().add(k)), cv));
            st(dst.as_mut_ptr().add(k), v);
        }
    }
    Portable.axpy(&mut dst[body..], &x[body..], c);
}

#[target_feature(enable = "avx512f,avx512dq")]
fn scale(dst: &mut [u64], c: u64) {
    let n = dst.len();
    let body = n - n % L;
    let cv = _mm512_set1_epi64(c as i64);
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the slice length.
        unsafe {
            let v = mullo(ld(dst.as_ptr().add(k)), cv);
            st(dst.as_mut_ptr().add(k), v);
        }
    }
    Portable.scale(&mut dst[body..], c);
}

#[target_feature(enable = "avx512f,avx512dq")]
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
            let t = _mm512_add_epi64(mullo(a, _mm512_add_epi64(c, d)), mullo(b, c));
            let r = _mm512_sub_epi64(ld(rp.as_ptr().add(k)), ld(rn.as_ptr().add(k)));
            st(out.as_mut_ptr().add(k), _mm512_add_epi64(t, r));
        }
    }
    Portable.mul_local(
        &mut out[body..],
        (&xa[body..], &xb[body..]),
        (&ya[body..], &yb[body..]),
        (&rp[body..], &rn[body..]),
    );
}

#[target_feature(enable = "avx512f,avx512dq")]
fn dot_local((xa, xb): (&[u64], &[u64]), (ya, yb): (&[u64], &[u64])) -> u64 {
    let n = same_len(&[xa.len(), xb.len(), ya.len(), yb.len()]);
    let body = n - n % L;
    let mut acc = _mm512_setzero_si512();
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the length of all four slices.
        unsafe {
            let a = ld(xa.as_ptr().add(k));
            let b = ld(xb.as_ptr().add(k));
            let c = ld(ya.as_ptr().add(k));
            let d = ld(yb.as_ptr().add(k));
            let t = _mm512_add_epi64(mullo(a, _mm512_add_epi64(c, d)), mullo(b, c));
            acc = _mm512_add_epi64(acc, t);
        }
    }
    let mut lanes = [0u64; L];
    // SAFETY: lanes holds exactly L u64.
    unsafe { st(lanes.as_mut_ptr(), acc) };
    let head = lanes.iter().fold(0u64, |s, v| s.wrapping_add(*v));
    head.wrapping_add(Portable.dot_local((&xa[body..], &xb[body..]), (&ya[body..], &yb[body..])))
}

#[target_feature(enable = "avx512f,avx512dq")]
fn sum(x: &[u64]) -> u64 {
    let n = x.len();
    let body = n - n % L;
    let mut acc = _mm512_setzero_si512();
    for k in (0..body).step_by(L) {
        // SAFETY: k + L <= body <= n, the slice length.
        unsafe { acc = _mm512_add_epi64(acc, ld(x.as_ptr().add(k))) };
    }
    let mut lanes = [0u64; L];
    // SAFETY: lanes holds exactly L u64.
    unsafe { st(lanes.as_mut_ptr(), acc) };
    let head = lanes.iter().fold(0u64, |s, v| s.wrapping_add(*v));
    head.wrapping_add(Portable.sum(&x[body..]))
}

#[target_feature(enable = "avx512f,avx512dq")]
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
            let t = _mm512_xor_si512(
                _mm512_and_si512(a, _mm512_xor_si512(c, d)),
                _mm512_and_si512(b, c),
            );
            let r = _mm512_xor_si512(ld(rp.as_ptr().add(k)), ld(rn.as_ptr().add(k)));
            st(out.as_mut_ptr().add(k), _mm512_xor_si512(t, r));
        }
    }
    Portable.and_local(
        &mut out[body..],
        (&xa[body..], &xb[body..]),
        (&ya[body..], &yb[body..]),
        (&rp[body..], &rn[body..]),
    );
}

impl Kernels for Avx512 {
    fn name(&self) -> &'static str {
        "avx512"
    }
    fn add_assign(&self, dst: &mut [u64], src: &[u64]) {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { add_assign(dst, src) }
    }
    fn sub_assign(&self, dst: &mut [u64], src: &[u64]) {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { sub_assign(dst, src) }
    }
    fn mul(&self, out: &mut [u64], x: &[u64], y: &[u64]) {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { mul(out, x, y) }
    }
    fn scale(&self, dst: &mut [u64], c: u64) {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { scale(dst, c) }
    }
    fn axpy(&self, dst: &mut [u64], x: &[u64], c: u64) {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { axpy(dst, x, c) }
    }
    fn mul_local(
        &self,
        out: &mut [u64],
        x: (&[u64], &[u64]),
        y: (&[u64], &[u64]),
        r: (&[u64], &[u64]),
    ) {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { mul_local(out, x, y, r) }
    }
    fn dot_local(&self, x: (&[u64], &[u64]), y: (&[u64], &[u64])) -> u64 {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { dot_local(x, y) }
    }
    fn sum(&self, x: &[u64]) -> u64 {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { sum(x) }
    }
    fn xor_assign(&self, dst: &mut [u64], src: &[u64]) {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { xor_assign(dst, src) }
    }
    fn and_local(
        &self,
        out: &mut [u64],
        x: (&[u64], &[u64]),
        y: (&[u64], &[u64]),
        r: (&[u64], &[u64]),
    ) {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { and_local(out, x, y, r) }
    }
}
