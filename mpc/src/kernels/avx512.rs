//! AVX-512 kernels (8 ring elements per 512-bit vector; AVX-512F plus DQ for the 64-bit
//! multiply `_mm512_mullo_epi64`).
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use zeroize::Zeroize;

use super::portable::Portable;
use super::{Kernels, product_fits, same_len};

/// Lanes per vector.
const L: usize = 8;

/// AVX-512 kernels; only constructible through [`Avx512::detect`], so holding one proves the CPU
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

/// Vectors of `dst` [`combine`] holds in registers at once (64 words: a Galois-ring element
/// of the product proofs, or a row of a 64-wide table).
const BLOCK: usize = 8;

/// [`super::Kernels::combine`]: `dst` in blocks of up to [`BLOCK`] vectors held in registers
/// while every row's slice of the block is multiplied in. A block's last vector may be
/// partial: it is loaded and stored under a lane mask, so a 57-word element is one block.
#[target_feature(enable = "avx512f,avx512dq")]
fn combine(dst: &mut [u64], rows: &[u64], coeffs: &[u64]) {
    let m = dst.len();
    same_len(&[rows.len(), coeffs.len() * m]);
    let mut j0 = 0;
    while j0 < m {
        let words = (m - j0).min(BLOCK * L);
        let vectors = words.div_ceil(L);
        // lanes of the last vector inside dst: all 8, or the remainder
        let tail = (1u16 << (words - (vectors - 1) * L)) - 1;
        // SAFETY (all arms): the block covers words [j0, j0 + words) with words <= m - j0,
        // the last vector only in the lanes of `tail`, so every access is inside dst and
        // inside every row (rows holds coeffs.len() rows of m words).
        unsafe {
            match vectors {
                8 => combine_block::<8>(dst, rows, coeffs, j0, tail as u8),
                7 => combine_block::<7>(dst, rows, coeffs, j0, tail as u8),
                6 => combine_block::<6>(dst, rows, coeffs, j0, tail as u8),
                5 => combine_block::<5>(dst, rows, coeffs, j0, tail as u8),
                4 => combine_block::<4>(dst, rows, coeffs, j0, tail as u8),
                3 => combine_block::<3>(dst, rows, coeffs, j0, tail as u8),
                2 => combine_block::<2>(dst, rows, coeffs, j0, tail as u8),
                _ => combine_block::<1>(dst, rows, coeffs, j0, tail as u8),
            }
        }
        j0 += words;
    }
}

/// One block of V vectors of [`combine`], starting at word `j0`; the last vector only in the
/// lanes of `tail`.
///
/// # Safety
/// `j0 + (V - 1) * L + (lanes of tail) <= dst.len() = m`, `tail` is a nonzero run of low
/// bits, and `rows.len() == coeffs.len() * m`.
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn combine_block<const V: usize>(
    dst: &mut [u64],
    rows: &[u64],
    coeffs: &[u64],
    j0: usize,
    tail: u8,
) {
    let m = dst.len();
    let mut acc = [_mm512_setzero_si512(); V];
    // SAFETY: the first V - 1 vectors lie inside dst and inside row i (rows[i * m..(i + 1) *
    // m]) by the caller's bound; the last is read and written only in the lanes of `tail`,
    // which are inside too, and masked-off lanes are never touched (nor fault).
    unsafe {
        for (v, a) in acc.iter_mut().enumerate().take(V - 1) {
            *a = ld(dst.as_ptr().add(j0 + v * L));
        }
        acc[V - 1] = _mm512_maskz_loadu_epi64(tail, dst.as_ptr().add(j0 + (V - 1) * L).cast());
        for (i, c) in coeffs.iter().enumerate() {
            let cv = _mm512_set1_epi64(*c as i64);
            let row = rows.as_ptr().add(i * m + j0);
            for (v, a) in acc.iter_mut().enumerate().take(V - 1) {
                *a = _mm512_add_epi64(*a, mullo(ld(row.add(v * L)), cv));
            }
            let last = _mm512_maskz_loadu_epi64(tail, row.add((V - 1) * L).cast());
            acc[V - 1] = _mm512_add_epi64(acc[V - 1], mullo(last, cv));
        }
        for (v, a) in acc.iter().enumerate().take(V - 1) {
            st(dst.as_mut_ptr().add(j0 + v * L), *a);
        }
        _mm512_mask_storeu_epi64(
            dst.as_mut_ptr().add(j0 + (V - 1) * L).cast(),
            tail,
            acc[V - 1],
        );
    }
}

/// Coefficients of a factor [`poly_mul_add`] multiplies in registers (more go a row at a
/// time).
const POLY_FACTOR: usize = 64;

/// [`super::Kernels::poly_mul_add`]: a product of up to 128 words is held in registers (16
/// vectors) while each coefficient of `a` adds its shifted, scaled copy of `b`, read from `b`
/// between zero pads so every shift is one unaligned load per vector and no lane needs a
/// bound. Coefficients 0 and 1 (the binary elements of the product proofs) need no multiply.
#[target_feature(enable = "avx512f,avx512dq")]
fn poly_mul_add(dst: &mut [u64], a: &[u64], b: &[u64]) {
    product_fits(dst.len(), a.len(), b.len());
    if a.len() > POLY_FACTOR || b.len() > POLY_FACTOR || dst.len() > 16 * L {
        for (j, c) in a.iter().enumerate() {
            if *c != 0 {
                axpy(&mut dst[j..j + b.len()], b, *c);
            }
        }
        return;
    }
    // padded[POLY_FACTOR + i] = b[i], zero elsewhere: word p of b shifted by j < POLY_FACTOR is
    // padded[POLY_FACTOR + p - j], b[p - j] or 0
    let mut padded = [0u64; POLY_FACTOR + 16 * L];
    padded[POLY_FACTOR..POLY_FACTOR + b.len()].copy_from_slice(b);
    // SAFETY (both): dst.len() <= V * L, a.len() <= POLY_FACTOR and padded holds
    // POLY_FACTOR + 16 * L words, as poly_mul_block requires.
    unsafe {
        if dst.len() <= 8 * L {
            poly_mul_block::<8>(dst, a, &padded);
        } else {
            poly_mul_block::<16>(dst, a, &padded);
        }
    }
    padded.zeroize();
}

/// [`poly_mul_add`] with dst in V vectors, each loaded and stored under the mask of its lanes
/// inside dst (none for vectors past its end, which are never touched).
///
/// # Safety
/// `dst.len() <= V * L`, `a.len() <= POLY_FACTOR` and `padded.len() >= POLY_FACTOR + V * L`.
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn poly_mul_block<const V: usize>(dst: &mut [u64], a: &[u64], padded: &[u64]) {
    let m = dst.len();
    let lanes = |v: usize| ((1u16 << m.saturating_sub(v * L).min(L)) - 1) as u8;
    let mut acc = [_mm512_setzero_si512(); V];
    // SAFETY: vector v is read and written only in the lanes of dst it covers (none past its
    // end: those are skipped); row j reads padded[POLY_FACTOR - j + v * L..][..L], inside
    // padded since j < POLY_FACTOR and v < V.
    unsafe {
        for (v, x) in acc.iter_mut().enumerate() {
            if lanes(v) != 0 {
                *x = _mm512_maskz_loadu_epi64(lanes(v), dst.as_ptr().add(v * L).cast());
            }
        }
        for (j, c) in a.iter().enumerate() {
            let row = padded.as_ptr().add(POLY_FACTOR - j);
            match *c {
                0 => {}
                1 => {
                    for (v, x) in acc.iter_mut().enumerate() {
                        *x = _mm512_add_epi64(*x, ld(row.add(v * L)));
                    }
                }
                c => {
                    let cv = _mm512_set1_epi64(c as i64);
                    for (v, x) in acc.iter_mut().enumerate() {
                        *x = _mm512_add_epi64(*x, mullo(ld(row.add(v * L)), cv));
                    }
                }
            }
        }
        for (v, x) in acc.iter().enumerate() {
            if lanes(v) != 0 {
                _mm512_mask_storeu_epi64(dst.as_mut_ptr().add(v * L).cast(), lanes(v), *x);
            }
        }
    }
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
    fn combine(&self, dst: &mut [u64], rows: &[u64], coeffs: &[u64]) {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { combine(dst, rows, coeffs) }
    }
    fn poly_mul_add(&self, dst: &mut [u64], a: &[u64], b: &[u64]) {
        // SAFETY: an Avx512 value exists only after AVX-512F and DQ were detected on this CPU.
        unsafe { poly_mul_add(dst, a, b) }
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
