//! Adding the parties' noise to shared aggregates.
//!
//! Each party draws its own noise vector from its own randomness (the caller passes the OS
//! generator) and inputs it as a secret share ([`crate::protocols::input`]); the three inputs
//! are added to the aggregates. No party sees another's draw, so the noise two honest parties
//! add stays secret from a third party colluding with the researcher, and no party ever sees
//! the un-noised aggregates (they stay shared until sealed).
//!
//! Cost: one round (the three inputs at once, [`input_sum`]); each party sends k ring
//! elements, for k aggregates. The draws are zeroized after use.

use rand::CryptoRng;
use zeroize::Zeroizing;

use super::accounting::NOISE_TAIL_SDS;
use super::sampler::discrete_gaussian;
use crate::protocols::input::input_sum;
use crate::ring::encode;
use crate::{ArithShares, Party, ProtocolError};

/// Adds to each aggregate the sum of the three parties' discrete Gaussian noise, party j
/// drawing coordinate i from N_Z(0, `party_sigma2[i]`) with `rng`. Every party passes the same
/// public `party_sigma2` (the three agree on it before computing).
///
/// Refuses (instead of letting an aggregate overflow) a draw beyond
/// [`NOISE_TAIL_SDS`] standard deviations, an event of probability below e^-2048.
pub fn add_noise<R: CryptoRng + ?Sized>(
    party: &mut Party,
    aggregates: &mut ArithShares,
    party_sigma2: &[u64],
    rng: &mut R,
) -> Result<(), ProtocolError> {
    let k = aggregates.len();
    if party_sigma2.len() != k {
        return Err(ProtocolError::InvalidArgument {
            step: "noise",
            reason: "one noise parameter per aggregate",
        });
    }
    let own = draw(party_sigma2, rng)?;
    let noise = input_sum(party, &own, k)?;
    aggregates.add_assign(&noise);
    Ok(())
}

/// This party's draws, as ring elements, each within its tail.
fn draw<R: CryptoRng + ?Sized>(
    party_sigma2: &[u64],
    rng: &mut R,
) -> Result<Zeroizing<Vec<u64>>, ProtocolError> {
    let mut out = Zeroizing::new(Vec::with_capacity(party_sigma2.len()));
    for &s in party_sigma2 {
        let z = discrete_gaussian(s, rng);
        let tail = NOISE_TAIL_SDS as f64 * (s as f64).sqrt();
        if z.unsigned_abs() as f64 > tail {
            return Err(ProtocolError::InvalidArgument {
                step: "noise",
                reason: "a noise draw fell beyond its tail (probability below e^-2048)",
            });
        }
        out.push(encode(z));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::reveal::reveal;
    use crate::ring::decode;
    use crate::run_three;

    /// The opened aggregates differ from the exact ones by noise of the planned spread, and
    /// each party's draw is its own: three parties, three independent draws.
    #[test]
    fn noise_is_added_to_every_aggregate_with_the_planned_spread() {
        let exact = [1000i64, -5, 0];
        let sigma2 = [400u64, 400, 400];
        let rounds = 300;
        let out = run_three(move |party| {
            let mut diffs = Vec::new();
            for _ in 0..rounds {
                let mut agg = ArithShares::public(
                    party.id(),
                    &exact.iter().map(|v| encode(*v)).collect::<Vec<_>>(),
                );
                add_noise(party, &mut agg, &sigma2, &mut rand::rng()).unwrap();
                let opened = reveal(party, &agg).unwrap();
                diffs.extend(
                    opened
                        .iter()
                        .zip(exact)
                        .map(|(o, e)| decode(*o) as f64 - e as f64),
                );
            }
            diffs
        });
        let diffs = &out[0];
        assert_eq!(diffs, &out[1]);
        let n = diffs.len() as f64;
        let mean = diffs.iter().sum::<f64>() / n;
        let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0);
        // Three parties of variance 400: 1200; the sample variance of 900 draws is within
        // about 5% (one standard error of a variance estimate is sqrt(2/n) = 4.7%).
        assert!((var / 1200.0 - 1.0).abs() < 0.25, "variance {var}");
        assert!(mean.abs() < 5.0 * (1200.0 / n).sqrt(), "mean {mean}");
        assert!(diffs.iter().any(|d| *d != 0.0));
    }

    #[test]
    fn a_plan_of_the_wrong_length_is_refused() {
        let out = run_three(|party| {
            let mut agg = ArithShares::zeros(2);
            add_noise(party, &mut agg, &[4], &mut rand::rng()).is_err()
        });
        assert_eq!(out, [true; 3]);
    }
}
