//! Three-party replicated secret sharing over Z_2^64 (semi-honest, honest majority), with SIMD
//! share arithmetic and a statistics library.
#![deny(unsafe_code)]

pub mod kernels;
