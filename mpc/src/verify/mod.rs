//! Verifying what the parties computed, under [`Security::Malicious`](crate::Security): before
//! anything is opened or sealed, every AND gate since the last verification is checked by a
//! distributed zero-knowledge proof ([`and_proof`]), so a party that deviated in a comparison
//! is caught before its deviation can change a released value.
//!
//! Products over Z_2^64 (`mul`, dot products, `count_ones`) are checked by the same kind of
//! proof over a Galois ring ([`product_proof`]); both kinds are checked at the same points,
//! then the three parties agree on one verdict.

pub mod and_proof;
pub mod fp61;
pub mod galois;
pub(crate) mod lagrange;
pub mod product_proof;

use zeroize::Zeroizing;

use crate::verdict::{Deviation, agree};
use crate::{Party, PartyId, ProtocolError};

/// Verifies everything recorded since the last verification (nothing to do in semi-honest
/// mode, or when nothing was recorded). All three parties call it at the same points.
pub fn verify_pending(party: &mut Party) -> Result<(), ProtocolError> {
    let ands = Zeroizing::new(party.take_pending_ands());
    let products = party.take_pending_products();
    if ands.is_empty() && products.is_empty() {
        return Ok(());
    }
    let mut found = product_proof::check_products(party, &products)?;
    found.extend(and_proof::check_ands(party, &ands)?);
    agree(party, found.first().copied(), STEP)
}

/// The deviation a prover names when its right verifier sent it a challenge no honest
/// verifier draws: the challenges come from the key its next and previous parties share.
pub(crate) fn challenge_sender(me: PartyId) -> Deviation {
    Deviation {
        sender: me.next(),
        witness: me.prev(),
    }
}

/// The step name of a failed verification.
const STEP: &str = "verification";

/// Words and messages each party sends in one verification of `and_words` recorded AND words
/// and of product records of these shapes and gate counts: both proofs, then the verdicts
/// (signed, as every party with keys sends them: [`crate::verdict`]).
pub fn verification_cost(
    and_words: usize,
    products: &[(product_proof::Shape, usize)],
) -> (u64, u64) {
    let (aw, am) = and_proof::proof_cost(and_words);
    let (pw, pm) = product_proof::proof_cost(products);
    let (vw, vm) = crate::verdict::cost_per_peer(true);
    (aw + pw + 2 * vw as u64, am + pm + 2 * vm)
}
