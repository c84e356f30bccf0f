//! Verifying what the parties computed, under [`Security::Malicious`](crate::Security): before
//! anything is opened or sealed, every AND gate since the last verification is checked by a
//! distributed zero-knowledge proof ([`and_proof`]), so a party that deviated in a comparison
//! is caught before its deviation can change a released value.
//!
//! Multiplications over Z_2^64 (products, dot products, bit injection) are not verified yet:
//! that needs the same kind of proof over a Galois ring (PROTOCOLS.md).

pub mod and_proof;
pub mod fp61;
pub(crate) mod lagrange;

use zeroize::Zeroizing;

use crate::{Party, ProtocolError};

/// Verifies everything recorded since the last verification (nothing to do in semi-honest
/// mode, or when nothing was recorded). All three parties call it at the same points.
pub fn verify_pending(party: &mut Party) -> Result<(), ProtocolError> {
    let ands = Zeroizing::new(party.take_pending_ands());
    if ands.is_empty() {
        return Ok(());
    }
    and_proof::verify_ands(party, &ands)
}
