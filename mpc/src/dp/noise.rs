//! Adding noise to shared aggregates, drawn as [`Draws`] says for the party's security.
//!
//! - **Own draws** (semi-honest): each party draws its own noise vector from its own randomness
//!   (the caller passes the OS generator) and inputs it as a secret share
//!   ([`crate::protocols::input`]); the three inputs are added to the aggregates. No party sees
//!   another's draw. Cost: one round; each party sends k ring elements, for k aggregates. But a
//!   party could input anything: nobody can check a draw only its maker knows.
//! - **Pair draws** (malicious): share component x_m of the noise is drawn by its two holders,
//!   P_{m-1} and P_m, with the same exact sampler, reading the PRF stream of the key k_m they
//!   share for the session at one operation counter. So both draw the same value, and the third
//!   party, which lacks k_m, learns nothing of it. Each holder then sends the other a digest of
//!   its copy (as a checked opening does), and the three exchange verdicts: a party that shifts
//!   its copy of a draw is named with its co-holder, and every party stops before anything is
//!   sealed. Cost: one round of a 4-word digest to each peer, and the verdict round.
//!
//! No party ever sees the un-noised aggregates (they stay shared until sealed). The draws are
//! zeroized after use.

use rand::CryptoRng;
use zeroize::Zeroizing;

use super::accounting::{Draws, NOISE_TAIL_SDS};
use super::sampler::discrete_gaussian;
use crate::fault::Point;
use crate::protocols::input::input_sum;
use crate::protocols::reveal::DIGEST_WORDS;
use crate::ring::encode;
use crate::verdict::{Deviation, agree};
use crate::words;
use crate::{ArithShares, Party, ProtocolError};

/// Adds to each aggregate three discrete Gaussian draws, coordinate i from N_Z(0,
/// `party_sigma2[i]`), drawn as [`Draws::for_security`] says for the party's security (module
/// doc); `rng` serves own draws only. Every party passes the same public `party_sigma2` (the
/// three agree on it before computing).
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
    let noise = match Draws::for_security(party.security()) {
        Draws::Own => own_draws(party, party_sigma2, rng)?,
        Draws::Pairs => pair_draws(party, party_sigma2)?,
    };
    aggregates.add_assign(&noise);
    Ok(())
}

/// This party's own draws, input as shares (one round).
fn own_draws<R: CryptoRng + ?Sized>(
    party: &mut Party,
    party_sigma2: &[u64],
    rng: &mut R,
) -> Result<ArithShares, ProtocolError> {
    let mut own = Zeroizing::new(Vec::with_capacity(party_sigma2.len()));
    draw_into(&mut own, party_sigma2, rng)?;
    if let Some(altered) = party.tampered(Point::Noise, &own) {
        own.copy_from_slice(&altered);
    }
    input_sum(party, &own, party_sigma2.len())
}

/// The two components this party holds, each drawn alike by its other holder, and checked
/// against that holder's copy.
fn pair_draws(party: &mut Party, party_sigma2: &[u64]) -> Result<ArithShares, ProtocolError> {
    let k = party_sigma2.len();
    let op = party.next_op();
    // Both components in one buffer sized up front, so no unwiped copy is left behind.
    let mut both = Zeroizing::new(Vec::with_capacity(2 * k));
    draw_into(&mut both, party_sigma2, &mut party.rng_prev(op))?;
    draw_into(&mut both, party_sigma2, &mut party.rng_next(op))?;
    if let Some(altered) = party.tampered(Point::Noise, &both) {
        both.copy_from_slice(&altered);
    }
    let (a, b) = both.split_at(k);
    compare_copies(party, op, a, b)?;
    Ok(ArithShares::new(a.to_vec(), b.to_vec()))
}

/// Sends each co-holder the digest of the component held in common (`a` to the previous party,
/// which holds it as its `b`; `b` to the next, which holds it as its `a`), checks theirs, and
/// agrees with both peers on the outcome: a difference names the co-holder and this party.
fn compare_copies(party: &mut Party, op: u64, a: &[u64], b: &[u64]) -> Result<(), ProtocolError> {
    let me = party.id();
    let (mine_a, mine_b) = (copy_digest(party, op, a), copy_digest(party, op, b));
    party.send(me.prev(), &mine_a, Point::Noise)?;
    party.send(me.next(), &mine_b, Point::Noise)?;
    let from_prev = party.recv(me.prev(), DIGEST_WORDS, "noise")?;
    let from_next = party.recv(me.next(), DIGEST_WORDS, "noise")?;
    let found = if from_prev != mine_a {
        Some(me.prev())
    } else if from_next != mine_b {
        Some(me.next())
    } else {
        None
    };
    let found = found.map(|peer| Deviation {
        sender: peer,
        witness: me,
    });
    agree(party, found, "noise")
}

/// The digest of one component's draws ([`words::op_digest`]). It hides nothing from its
/// receiver, which holds the same component.
fn copy_digest(party: &Party, op: u64, values: &[u64]) -> [u64; DIGEST_WORDS] {
    words::op_digest("hdg-mpc 2026 noise copy v1", &party.session().0, op, values)
}

/// Appends one draw per parameter to `out`, as ring elements, each within its tail.
fn draw_into<R: rand::Rng + ?Sized>(
    out: &mut Vec<u64>,
    party_sigma2: &[u64],
    rng: &mut R,
) -> Result<(), ProtocolError> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::reveal::reveal;
    use crate::ring::decode;
    use crate::{Security, run_three};

    /// The opened aggregates differ from the exact ones by noise of the planned spread: three
    /// independent draws, whoever draws them (own draws, or pair draws whose two holders agree:
    /// the honest runs never stop).
    #[test]
    fn noise_is_added_to_every_aggregate_with_the_planned_spread() {
        for security in Security::ALL {
            planned_spread(security);
        }
    }

    fn planned_spread(security: Security) {
        let exact = [1000i64, -5, 0];
        let sigma2 = [400u64, 400, 400];
        let rounds = 300;
        let out = run_three(move |party| {
            party.set_security(security);
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
        assert!(
            (var / 1200.0 - 1.0).abs() < 0.25,
            "{security}: variance {var}"
        );
        assert!(
            mean.abs() < 5.0 * (1200.0 / n).sqrt(),
            "{security}: mean {mean}"
        );
        assert!(diffs.iter().any(|d| *d != 0.0));
    }

    /// The attack: a party shifts its noise to move the answer (occurrence 0: its copy of a
    /// draw), or lies in the digest of a copy (1, 2). Under malicious security every honest
    /// party stops, naming a pair that contains the cheat, whichever party it is and whichever
    /// coordinate of either component it changes.
    #[test]
    fn a_shifted_noise_draw_stops_every_honest_party() {
        use crate::fault::Fault;
        for cheat in 0..3 {
            for (occurrence, element) in (0..3).flat_map(|o| (0..4).map(move |e| (o, e))) {
                let out = run_three(move |party| {
                    if party.id().index() == cheat {
                        party.inject(Fault {
                            point: Point::Noise,
                            occurrence,
                            element,
                            delta: 1_000_000,
                        });
                    }
                    let mut agg = ArithShares::public(party.id(), &[encode(1000), encode(7)]);
                    add_noise(party, &mut agg, &[400, 400], &mut rand::rng())?;
                    reveal(party, &agg)
                });
                for (i, o) in out.iter().enumerate() {
                    if i == cheat {
                        continue;
                    }
                    match o {
                        Err(ProtocolError::Deviation {
                            sender, witness, ..
                        }) => assert!(
                            [sender, witness].iter().any(|p| p.index() == cheat),
                            "cheat {cheat}: party {i} named {sender} and {witness}"
                        ),
                        other => panic!(
                            "cheat {cheat}, occurrence {occurrence}, element {element}: party {i} got {other:?}"
                        ),
                    }
                }
            }
        }
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
