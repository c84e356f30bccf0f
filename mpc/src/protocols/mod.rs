//! The protocols over shared vectors. Each function's doc states its rounds and what each
//! party sends (in ring elements or 64-bit words, 8 bytes each); the tests check those figures
//! against the channel counters. All parties call the same function with the same public
//! arguments.

pub mod a2b;
pub mod b2a;
pub mod boolean;
pub mod compare;
pub mod input;
pub mod mul;
pub mod reveal;
pub mod seal;
pub mod select;

#[cfg(test)]
pub(crate) mod testing;

/// Elements per block when PRF output is expanded into cache-resident scratch buffers.
pub(crate) const BLOCK: usize = 4096;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod privacy_tests;

#[cfg(test)]
mod deviation_tests;

#[cfg(test)]
mod product_deviation_tests;
