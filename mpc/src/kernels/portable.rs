//! Portable kernels: the reference every SIMD path is tested against.

use super::{Kernels, same_len};

/// Plain-Rust kernels, usable on every CPU.
pub(super) struct Portable;

/// `out = xa*(ya+yb) + xb*ya + rp - rn` for one element.
#[inline(always)]
pub(super) fn mul_local_one(xa: u64, xb: u64, ya: u64, yb: u64, rp: u64, rn: u64) -> u64 {
    xa.wrapping_mul(ya.wrapping_add(yb))
        .wrapping_add(xb.wrapping_mul(ya))
        .wrapping_add(rp)
        .wrapping_sub(rn)
}

/// `xa&(ya^yb) ^ xb&ya ^ rp ^ rn` for one word.
#[inline(always)]
pub(super) fn and_local_one(xa: u64, xb: u64, ya: u64, yb: u64, rp: u64, rn: u64) -> u64 {
    (xa & (ya ^ yb)) ^ (xb & ya) ^ rp ^ rn
}

impl Kernels for Portable {
    fn name(&self) -> &'static str {
        "portable"
    }

    fn add_assign(&self, dst: &mut [u64], src: &[u64]) {
        same_len(&[dst.len(), src.len()]);
        for (d, s) in dst.iter_mut().zip(src) {
            *d = d.wrapping_add(*s);
        }
    }

    fn sub_assign(&self, dst: &mut [u64], src: &[u64]) {
        same_len(&[dst.len(), src.len()]);
        for (d, s) in dst.iter_mut().zip(src) {
            *d = d.wrapping_sub(*s);
        }
    }

    fn mul(&self, out: &mut [u64], x: &[u64], y: &[u64]) {
        same_len(&[out.len(), x.len(), y.len()]);
        for ((o, a), b) in out.iter_mut().zip(x).zip(y) {
            *o = a.wrapping_mul(*b);
        }
    }

    fn scale(&self, dst: &mut [u64], c: u64) {
        for d in dst.iter_mut() {
            *d = d.wrapping_mul(c);
        }
    }

    fn axpy(&self, dst: &mut [u64], x: &[u64], c: u64) {
        same_len(&[dst.len(), x.len()]);
        for (d, v) in dst.iter_mut().zip(x) {
            *d = d.wrapping_add(v.wrapping_mul(c));
        }
    }

    fn mul_local(
        &self,
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
        for k in 0..n {
            out[k] = mul_local_one(xa[k], xb[k], ya[k], yb[k], rp[k], rn[k]);
        }
    }

    fn dot_local(&self, (xa, xb): (&[u64], &[u64]), (ya, yb): (&[u64], &[u64])) -> u64 {
        let n = same_len(&[xa.len(), xb.len(), ya.len(), yb.len()]);
        let mut acc = 0u64;
        for k in 0..n {
            acc = acc.wrapping_add(mul_local_one(xa[k], xb[k], ya[k], yb[k], 0, 0));
        }
        acc
    }

    fn sum(&self, x: &[u64]) -> u64 {
        x.iter().fold(0u64, |acc, v| acc.wrapping_add(*v))
    }

    fn xor_assign(&self, dst: &mut [u64], src: &[u64]) {
        same_len(&[dst.len(), src.len()]);
        for (d, s) in dst.iter_mut().zip(src) {
            *d ^= *s;
        }
    }

    fn and_local(
        &self,
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
        for k in 0..n {
            out[k] = and_local_one(xa[k], xb[k], ya[k], yb[k], rp[k], rn[k]);
        }
    }
}
