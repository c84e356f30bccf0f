//! Verdicts on a check: after a check, every party tells both peers whether it found a
//! deviation, so all three stop when any one does, and each learns which pair was named and by
//! whom (the honest member of a named pair then knows the other one deviated).
//!
//! **Unsigned** (no [`VerdictKeys`]): one round. A cheat can tell one honest party it found a
//! deviation and the other it found none; then only the first stops. Nothing was computed
//! wrong (both honest parties checked every message themselves), so the other may finish.
//!
//! **Signed** (the parties' long-term keys, [`crate::Party::sign_verdicts`]): two rounds, after
//! Dolev and Strong's authenticated broadcast for one faulty party in three. Round one: each
//! party sends both peers its verdict, signed over the session, the verdict's number and its
//! index. Round two: each party forwards to each peer the other peer's signed finding of a
//! deviation, if it received one. A party stops when it found a deviation itself, received a
//! signed finding from a peer in round one, or received in round two a finding signed by the
//! *third* party (never one the forwarder signed itself: a cheat could send that late, to one
//! party only). Then if one honest party stops, so does the other: it signed the finding itself,
//! received it in round one and forwarded it, or forwarded the cheat's in round two. A verdict
//! whose signature does not verify, that is malformed or of the wrong length, is ignored: only
//! the cheat sends one, and stopping on it would stop one honest party alone. (A cheat that
//! sends nothing stops both: each waits for a message that never comes.)

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::fault::Point;
use crate::{Party, PartyId, ProtocolError};

/// A difference one party found: the sender of the values and the holder of the second copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Deviation {
    /// The party whose message was checked.
    pub sender: PartyId,
    /// The party whose copy or view it was checked against.
    pub witness: PartyId,
}

/// The keys a party signs its verdicts with and checks its peers' under: the parties'
/// long-term identities, which they already pin (a cluster's node keys).
#[derive(Clone)]
pub struct VerdictKeys {
    /// This party's key.
    pub signer: SigningKey,
    /// The three parties' public keys, in party order (this party's own included).
    pub parties: [VerifyingKey; 3],
}

impl VerdictKeys {
    /// Fresh keys for the three parties of one run in one process (tests and the in-memory
    /// benches; nodes use their node keys), in party order.
    pub fn fresh_three() -> [VerdictKeys; 3] {
        let signers = PartyId::ALL.map(|_| SigningKey::from_bytes(&rand::random::<[u8; 32]>()));
        let parties = [0, 1, 2].map(|i| signers[i].verifying_key());
        signers.map(|signer| VerdictKeys { signer, parties })
    }
}

/// Words of a verdict: [0, 0, 0] for agreement, [1, sender, witness] for a difference found.
pub(crate) const VERDICT_WORDS: usize = 3;
/// Words of an ed25519 signature.
const SIGNATURE_WORDS: usize = crate::words::WORDS_64;
/// A signed verdict: the verdict, then its signature.
const SIGNED_WORDS: usize = VERDICT_WORDS + SIGNATURE_WORDS;
/// A forwarded verdict: 1 and a signed verdict, or all zero for none.
const FORWARD_WORDS: usize = 1 + SIGNED_WORDS;
/// Words and messages one verdict sends to each peer: 3 in one message unsigned; signed, a
/// signed verdict and a forward (11 + 12 words) in two.
pub fn cost_per_peer(signed: bool) -> (usize, u64) {
    if signed {
        (SIGNED_WORDS + FORWARD_WORDS, 2)
    } else {
        (VERDICT_WORDS, 1)
    }
}

/// Domain of a verdict signature.
const DOMAIN: &[u8] = b"hdg mpc verdict v1\n";

/// Tells both peers whether this party found a difference and hears theirs, so that every
/// party stops when any one of them does, and each learns which pair was named and by whom.
/// (The honest member of a named pair then knows the other one deviated.)
///
/// Cost: one round and 3 words to each peer unsigned; signed, two rounds, 11 and 12 words to
/// each peer, one signature and two to four verifications.
pub(crate) fn agree(
    party: &mut Party,
    found: Option<Deviation>,
    step: &'static str,
) -> Result<(), ProtocolError> {
    match party.next_verdict() {
        (Some(keys), number) => agree_signed(party, found, step, &keys, number),
        (None, _) => agree_unsigned(party, found, step),
    }
}

fn agree_unsigned(
    party: &mut Party,
    found: Option<Deviation>,
    step: &'static str,
) -> Result<(), ProtocolError> {
    let me = party.id();
    let mine = verdict_words(found);
    party.send(me.next(), &mine, Point::Verdict)?;
    party.send(me.prev(), &mine, Point::Verdict)?;
    let mut reports = vec![(me, found)];
    for peer in [me.prev(), me.next()] {
        let v = party.recv(peer, VERDICT_WORDS, step)?;
        reports.push((
            peer,
            read_verdict(&v).ok_or(ProtocolError::MalformedVerdict { step, peer })?,
        ));
    }
    stop_if_found(
        reports.into_iter().filter_map(|(by, d)| d.map(|d| (by, d))),
        step,
    )
}

fn agree_signed(
    party: &mut Party,
    found: Option<Deviation>,
    step: &'static str,
    keys: &VerdictKeys,
    number: u64,
) -> Result<(), ProtocolError> {
    let me = party.id();
    let session = party.session().0;
    // Whether `msg` is a finding `by` signed for this verdict; the finding.
    let finding = |by: PartyId, msg: &[u64]| -> Option<Deviation> {
        let (words, signature) = msg.split_at(VERDICT_WORDS);
        let words: [u64; VERDICT_WORDS] = words.try_into().ok()?;
        let deviation = read_verdict(&words)??;
        let signature = crate::words::to_64_bytes(signature)?;
        keys.parties[by.index()]
            .verify(
                &message(&session, number, by, &words),
                &Signature::from_bytes(&signature),
            )
            .ok()?;
        Some(deviation)
    };

    // Round one: the verdict, signed, to the next party then the previous one. An injected
    // fault makes it a signed false finding to one of them (see `lie`).
    let mine = verdict_words(found);
    for to in [me.next(), me.prev()] {
        let words = party
            .tampered(Point::Verdict, &mine)
            .map_or(mine, |w| lie(&w));
        party.send_as_is(to, &signed(keys, &session, number, me, &words))?;
    }
    let mut stops: Vec<(PartyId, Deviation)> = found.map(|d| (me, d)).into_iter().collect();
    let mut heard: [Option<Vec<u64>>; 3] = Default::default();
    for peer in [me.prev(), me.next()] {
        // A message of the wrong length is ignored like a bad signature: stopping on it would
        // stop this party alone.
        let msg = party.recv_any(peer)?;
        if msg.len() == SIGNED_WORDS
            && let Some(d) = finding(peer, &msg)
        {
            stops.push((peer, d));
            heard[peer.index()] = Some(msg);
        }
    }
    // Round two: to each peer, the other peer's signed finding.
    for to in [me.next(), me.prev()] {
        let other = third(me, to);
        let forward = match &heard[other.index()] {
            Some(msg) => [&[1][..], msg].concat(),
            None => vec![0; FORWARD_WORDS],
        };
        party.send_as_is(to, &forward)?;
    }
    for peer in [me.prev(), me.next()] {
        let msg = party.recv_any(peer)?;
        let origin = third(me, peer);
        if msg.len() == FORWARD_WORDS
            && msg[0] == 1
            && let Some(d) = finding(origin, &msg[1..])
        {
            stops.push((origin, d));
        }
    }
    stop_if_found(stops.into_iter(), step)
}

/// The first finding, as the error every honest party stops with; `Ok` when there is none.
fn stop_if_found(
    mut found: impl Iterator<Item = (PartyId, Deviation)>,
    step: &'static str,
) -> Result<(), ProtocolError> {
    match found.next() {
        None => Ok(()),
        Some((reporter, d)) => Err(ProtocolError::Deviation {
            step,
            sender: d.sender,
            witness: d.witness,
            reporter,
        }),
    }
}

fn verdict_words(found: Option<Deviation>) -> [u64; VERDICT_WORDS] {
    match found {
        None => [0; VERDICT_WORDS],
        Some(d) => [1, d.sender.index() as u64, d.witness.index() as u64],
    }
}

/// The party that is neither `a` nor `b`.
fn third(a: PartyId, b: PartyId) -> PartyId {
    PartyId::ALL
        .into_iter()
        .find(|p| *p != a && *p != b)
        .expect("three parties")
}

/// What a cheating party signs in place of its verdict when a test injects a fault at
/// [`Point::Verdict`] with signed verdicts: a well-formed finding naming a pair taken from the
/// altered words (a malformed one would only be ignored).
fn lie(altered: &[u64]) -> [u64; VERDICT_WORDS] {
    let sender = altered[1] % 3;
    let witness = (sender + 1 + altered[2] % 2) % 3;
    [1, sender, witness]
}

/// `words` signed by `signer` with `keys` for verdict `number` of `session`: the words, then
/// the signature (what round one sends).
fn signed(
    keys: &VerdictKeys,
    session: &[u8; 32],
    number: u64,
    signer: PartyId,
    words: &[u64; VERDICT_WORDS],
) -> Vec<u64> {
    let signature = keys.signer.sign(&message(session, number, signer, words));
    [
        &words[..],
        &crate::words::from_64_bytes(&signature.to_bytes()),
    ]
    .concat()
}

/// The bytes a verdict's signature covers: the domain, the session, the verdict's number in the
/// session, the signer and the verdict.
fn message(session: &[u8; 32], number: u64, signer: PartyId, words: &[u64]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 32 + 8 + 1 + 8 * words.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(session);
    m.extend_from_slice(&number.to_be_bytes());
    m.push(signer.index() as u8);
    for w in words {
        m.extend_from_slice(&w.to_be_bytes());
    }
    m
}

/// A verdict's meaning; `None` when it is malformed (a flag other than 0 or 1, or not two
/// distinct parties named).
fn read_verdict(v: &[u64]) -> Option<Option<Deviation>> {
    match v {
        [0, 0, 0] => Some(None),
        [1, s, w] if s != w => Some(Some(Deviation {
            sender: PartyId::new(usize::try_from(*s).ok()?)?,
            witness: PartyId::new(usize::try_from(*w).ok()?)?,
        })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_three;

    const STEP: &str = "test";

    /// Runs one signed verdict: the honest parties find nothing, `cheat` plays `lie` instead.
    fn with_cheat(
        cheat: PartyId,
        lie: impl Fn(&mut Party, &VerdictKeys, u64) -> Result<(), ProtocolError> + Sync,
    ) -> [Result<(), ProtocolError>; 3] {
        run_three(|p| {
            if p.id() == cheat {
                let (keys, number) = p.next_verdict();
                lie(p, &keys.expect("run_three signs verdicts"), number)
            } else {
                agree(p, None, STEP)
            }
        })
    }

    /// The cheat's own round-one message: `words`, signed by it.
    fn signed_by(p: &Party, keys: &VerdictKeys, number: u64, words: [u64; 3]) -> Vec<u64> {
        signed(keys, &p.session().0, number, p.id(), &words)
    }

    /// Receives both peers' messages of `words` words (what an honest party would send).
    fn hear(p: &mut Party, words: usize) -> Result<(), ProtocolError> {
        let me = p.id();
        for peer in [me.prev(), me.next()] {
            p.recv(peer, words, STEP)?;
        }
        Ok(())
    }

    #[test]
    fn honest_parties_agree_in_two_signed_rounds() {
        let out = run_three(|p| agree(p, None, STEP));
        assert_eq!(out, [Ok(()), Ok(()), Ok(())]);
        // A finding by one party stops all three, each naming it as the reporter.
        let out = run_three(|p| {
            let found = (p.id() == PartyId::ALL[1]).then_some(Deviation {
                sender: PartyId::ALL[0],
                witness: PartyId::ALL[2],
            });
            agree(p, found, STEP)
        });
        for o in out {
            assert!(
                matches!(o, Err(ProtocolError::Deviation { reporter, .. }) if reporter == PartyId::ALL[1]),
                "{o:?}"
            );
        }
    }

    #[test]
    fn a_verdict_that_does_not_verify_is_ignored_by_both_honest_parties() {
        for cheat in PartyId::ALL {
            // Garbage, a finding with a forged signature, and a forward of garbage.
            let out = with_cheat(cheat, |p, _, _| {
                let me = p.id();
                let forged = [&[1, 0, 1][..], &[7; SIGNATURE_WORDS]].concat();
                p.send_as_is(me.next(), &forged)?;
                p.send_as_is(me.prev(), &[9; SIGNED_WORDS])?;
                hear(p, SIGNED_WORDS)?;
                p.send_as_is(me.next(), &[1; FORWARD_WORDS])?;
                p.send_as_is(me.prev(), &[0; FORWARD_WORDS])?;
                hear(p, FORWARD_WORDS)
            });
            for honest in [cheat.next(), cheat.prev()] {
                assert_eq!(out[honest.index()], Ok(()), "cheat {cheat}, at {honest}");
            }
        }
    }

    #[test]
    fn a_verdict_of_the_wrong_length_is_ignored_by_both_honest_parties() {
        for cheat in PartyId::ALL {
            let out = with_cheat(cheat, |p, _, _| {
                let me = p.id();
                p.send_as_is(me.next(), &[1, 0, 1])?;
                p.send_as_is(me.prev(), &[0; SIGNED_WORDS + 1])?;
                hear(p, SIGNED_WORDS)?;
                p.send_as_is(me.next(), &[1])?;
                p.send_as_is(me.prev(), &[])?;
                hear(p, FORWARD_WORDS)
            });
            for honest in [cheat.next(), cheat.prev()] {
                assert_eq!(out[honest.index()], Ok(()), "cheat {cheat}, at {honest}");
            }
        }
    }

    #[test]
    fn a_cheat_cannot_forward_its_own_finding_late_to_one_party() {
        for cheat in PartyId::ALL {
            // Round one: "nothing found" to both. Round two: its own signed finding, to the
            // next party only, as if it were forwarding it.
            let out = with_cheat(cheat, |p, keys, number| {
                let me = p.id();
                let ok = signed_by(p, keys, number, [0; 3]);
                p.send_as_is(me.next(), &ok)?;
                p.send_as_is(me.prev(), &ok)?;
                hear(p, SIGNED_WORDS)?;
                let late = signed_by(
                    p,
                    keys,
                    number,
                    [1, me.next().index() as u64, me.prev().index() as u64],
                );
                p.send_as_is(me.next(), &[&[1][..], &late].concat())?;
                p.send_as_is(me.prev(), &[0; FORWARD_WORDS])?;
                hear(p, FORWARD_WORDS)
            });
            for honest in [cheat.next(), cheat.prev()] {
                assert_eq!(out[honest.index()], Ok(()), "cheat {cheat}, at {honest}");
            }
        }
    }

    #[test]
    fn a_verdict_signed_for_another_session_or_number_does_not_count() {
        let session = [5u8; 32];
        let key = SigningKey::from_bytes(&[1; 32]);
        let words = [1, 0, 2];
        let m = message(&session, 3, PartyId::ALL[1], &words);
        let sig = key.sign(&m);
        let v = key.verifying_key();
        assert!(v.verify(&m, &sig).is_ok());
        for other in [
            message(&[6; 32], 3, PartyId::ALL[1], &words),
            message(&session, 4, PartyId::ALL[1], &words),
            message(&session, 3, PartyId::ALL[2], &words),
            message(&session, 3, PartyId::ALL[1], &[1, 2, 0]),
        ] {
            assert!(v.verify(&other, &sig).is_err());
        }
    }

    #[test]
    fn a_party_refuses_a_signer_that_is_not_its_key_in_the_list() {
        let out = crate::memory::run_three_unsigned(|p| {
            let keys = [1u8, 2, 3].map(|b| SigningKey::from_bytes(&[b; 32]));
            let parties = [0, 1, 2].map(|i| keys[i].verifying_key());
            let wrong = VerdictKeys {
                signer: keys[(p.id().index() + 1) % 3].clone(),
                parties,
            };
            p.sign_verdicts(wrong).is_err()
        });
        assert_eq!(out, [true, true, true]);
    }
}
