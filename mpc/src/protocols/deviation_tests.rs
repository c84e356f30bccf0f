//! A party that deviates from the protocol is caught where the protocols check (SECURITY.md):
//! each test injects one deviation ([`crate::fault`]) at each party position and asserts that
//! no honest party goes on with a wrong value, that the deviation is named, and that the same
//! runs without a fault never abort.

use proptest::prelude::*;

use super::a2b::Width;
use super::compare::greater_than_public;
use super::reveal::{check_cost, reveal, reveal_bits};
use super::seal::{RevealError, open_sealed, seal_output};
use super::testing::share;
use crate::fault::{Fault, Point};
use crate::ring::decode_all;
use crate::verify::verify_pending;
use crate::{BoolShares, PartyId, ProtocolError, PublicKey, Security, StaticSecret, run_three};

/// Each party's outcome of opening `v` with `fault` injected at `cheat`.
fn open_with_fault(
    v: &[i64],
    cheat: PartyId,
    fault: Option<Fault>,
) -> [Result<Vec<i64>, ProtocolError>; 3] {
    run_three(|p| {
        let x = share(p, v);
        if let (true, Some(f)) = (p.id() == cheat, fault) {
            p.inject(f);
        }
        reveal(p, &x).map(|o| decode_all(&o))
    })
}

/// Bits `b` shared as P0's input (every party passes the same plaintext).
fn share_bits(p: &mut crate::Party, b: &[bool]) -> BoolShares {
    let ones: Vec<i64> = b.iter().map(|x| -(*x as i64)).collect();
    // the sign bit of -1 is 1: msb of the shared vector gives the bits
    let x = share(p, &ones);
    super::a2b::msb(p, &x).expect("msb")
}

fn fault(point: Point, element: u64, delta: u64) -> Fault {
    Fault {
        point,
        occurrence: 0,
        element,
        delta: delta.max(1),
    }
}

/// What every honest party must return when `cheat` deviated and `found` names the pair.
fn all_honest_abort<T: std::fmt::Debug + PartialEq>(
    out: &[Result<T, ProtocolError>; 3],
    cheat: PartyId,
    found: &ProtocolError,
) -> Result<(), TestCaseError> {
    for me in [cheat.next(), cheat.prev()] {
        prop_assert_eq!(out[me.index()].as_ref().err(), Some(found), "at {}", me);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A lie about an opened share is caught by the party it was sent to, which names the liar
    /// and the holder of the second copy and tells the third party: both honest parties stop.
    #[test]
    fn a_lie_about_an_opened_share_stops_both_honest_parties(
        v in proptest::collection::vec(any::<i64>(), 1..50),
        cheat in 0usize..3, element in any::<u64>(), delta in any::<u64>(),
    ) {
        let cheat = PartyId::new(cheat).unwrap();
        let out = open_with_fault(&v, cheat, Some(fault(Point::Opening, element, delta)));
        all_honest_abort(&out, cheat, &ProtocolError::Deviation {
            step: "reveal", sender: cheat, witness: cheat.prev(), reporter: cheat.next(),
        })?;
    }

    /// A false digest of the second copy stops both honest parties too, naming the pair.
    #[test]
    fn a_false_check_digest_stops_both_honest_parties(
        v in proptest::collection::vec(any::<i64>(), 1..50),
        cheat in 0usize..3, element in 0u64..4, delta in any::<u64>(),
    ) {
        let cheat = PartyId::new(cheat).unwrap();
        let out = open_with_fault(&v, cheat, Some(fault(Point::OpeningCheck, element, delta)));
        all_honest_abort(&out, cheat, &ProtocolError::Deviation {
            step: "reveal", sender: cheat.next(), witness: cheat, reporter: cheat.prev(),
        })?;
    }

    /// A signed false finding sent to one honest party only (the verdict to the next party is
    /// the first, to the previous one the second) stops both: the one it reached forwards it.
    /// The abort is unanimous, naming the cheat as the reporter of the finding.
    #[test]
    fn a_lie_in_a_signed_verdict_to_one_party_stops_both_honest_parties(
        v in proptest::collection::vec(any::<i64>(), 1..50),
        cheat in 0usize..3, element in 0u64..3, delta in any::<u64>(), occurrence in 0u64..2,
    ) {
        let cheat = PartyId::new(cheat).unwrap();
        let f = Fault { point: Point::Verdict, occurrence, element, delta: delta.max(1) };
        let out = open_with_fault(&v, cheat, Some(f));
        for me in [cheat.next(), cheat.prev()] {
            match &out[me.index()] {
                Err(ProtocolError::Deviation { step: "reveal", reporter, .. }) => {
                    prop_assert_eq!(*reporter, cheat, "at {}", me);
                }
                other => prop_assert!(false, "{} went on: {:?}", me, other),
            }
        }
    }

    /// Without verdict keys (one unsigned round), a malformed verdict stops the party it
    /// reaches, naming its sender; no honest party returns a wrong value, but the other may
    /// finish: the gap the signed verdicts close.
    #[test]
    fn an_unsigned_malformed_verdict_is_named(
        v in proptest::collection::vec(any::<i64>(), 1..50),
        cheat in 0usize..3, element in 0u64..3, delta in any::<u64>(), occurrence in 0u64..2,
    ) {
        let cheat = PartyId::new(cheat).unwrap();
        let f = Fault { point: Point::Verdict, occurrence, element, delta: delta.max(1) };
        let out = crate::memory::run_three_unsigned(|p| {
            let x = share(p, &v);
            if p.id() == cheat {
                p.inject(f);
            }
            reveal(p, &x).map(|o| decode_all(&o))
        });
        // the verdict goes to the next party first, then to the previous one
        let victim = if occurrence == 0 { cheat.next() } else { cheat.prev() };
        prop_assert_eq!(&out[victim.index()], &Err(ProtocolError::MalformedVerdict {
            step: "reveal", peer: cheat,
        }));
        for me in [cheat.next(), cheat.prev()] {
            if let Ok(got) = &out[me.index()] {
                prop_assert_eq!(got, &v);
            }
        }
    }

    /// Opened bits are checked the same way.
    #[test]
    fn a_lie_about_opened_bits_stops_both_honest_parties(
        b in proptest::collection::vec(any::<bool>(), 1..150),
        cheat in 0usize..3, element in any::<u64>(), delta in any::<u64>(),
    ) {
        let cheat = PartyId::new(cheat).unwrap();
        let out = run_three(|p| {
            let x = share_bits(p, &b);
            if p.id() == cheat {
                p.inject(fault(Point::Opening, element, delta));
            }
            reveal_bits(p, &x)
        });
        all_honest_abort(&out, cheat, &ProtocolError::Deviation {
            step: "reveal bits", sender: cheat, witness: cheat.prev(), reporter: cheat.next(),
        })?;
    }

    /// Shares sealed wrong to the recipient disagree with their second copy: the recipient
    /// refuses to open them, naming the share, whichever party and element it was.
    #[test]
    fn wrong_sealed_shares_are_refused_by_the_recipient(
        v in proptest::collection::vec(any::<i64>(), 1..20),
        cheat in 0usize..3, element in any::<u64>(), delta in any::<u64>(),
    ) {
        let cheat = PartyId::new(cheat).unwrap();
        let recipient = StaticSecret::random_from_rng(&mut rand::rng());
        let to = PublicKey::from(&recipient);
        let sealed = run_three(|p| {
            let x = share(p, &v);
            if p.id() == cheat {
                p.inject(fault(Point::Seal, element, delta));
            }
            seal_output(p, &x, &to, b"query", &mut rand::rng()).unwrap()
        });
        // the pair is (x_i, x_{i+1}) of n values each
        let k = (element % (2 * v.len() as u64)) as usize / v.len();
        let share = (cheat.index() + k) % 3;
        let prev = (share + 2) % 3;
        prop_assert_eq!(
            open_sealed(&recipient, &sealed, b"query"),
            Err(RevealError::Inconsistent { share, prev })
        );
    }

    /// Without a fault, both modes open correctly and never abort; the checked opening costs
    /// [`check_cost`] more per party.
    #[test]
    fn honest_openings_never_abort_in_either_mode(
        v in proptest::collection::vec(any::<i64>(), 0..80),
    ) {
        for security in Security::ALL {
            let out = run_three(|p| {
                p.set_security(security);
                let x = share(p, &v);
                let bits = share_bits(p, &v.iter().map(|a| *a < 0).collect::<Vec<_>>());
                verify_pending(p).unwrap();
                let before = p.stats();
                let opened = reveal(p, &x).unwrap();
                let d = p.stats().since(&before);
                let signs = reveal_bits(p, &bits).unwrap();
                (decode_all(&opened), signs, d.bytes_sent, d.messages_sent)
            });
            let checked = security.checks();
            // run_three signs verdicts.
            let (words, msgs) = if checked { check_cost(true) } else { (0, 0) };
            for (opened, signs, bytes, sent) in out {
                prop_assert_eq!(&opened, &v);
                prop_assert_eq!(signs, v.iter().map(|a| *a < 0).collect::<Vec<_>>());
                prop_assert_eq!(bytes, 8 * (v.len() + words) as u64);
                prop_assert_eq!(sent, 1 + msgs);
            }
        }
    }
}

/// Whether every honest party stopped with a deviation that names `cheat` (as the party checked
/// or as the other holder of what it was checked against).
pub(super) fn every_honest_party_names<T: std::fmt::Debug>(
    out: &[Result<T, ProtocolError>; 3],
    cheat: PartyId,
    step: &str,
) -> Result<(), TestCaseError> {
    for me in [cheat.next(), cheat.prev()] {
        match &out[me.index()] {
            Err(ProtocolError::Deviation {
                step: s,
                sender,
                witness,
                ..
            }) => {
                prop_assert_eq!(*s, step);
                prop_assert!(
                    *sender == cheat || *witness == cheat,
                    "{} names {} and {}",
                    me,
                    sender,
                    witness
                );
            }
            other => prop_assert!(false, "{} did not stop: {:?}", me, other),
        }
    }
    Ok(())
}

/// Compares shared values with a public threshold and opens the result bits, with `fault` at
/// party `cheat`; each party's outcome and whether its fault fired.
fn compare_with_fault(
    v: &[i64],
    cheat: PartyId,
    fault: Fault,
) -> [(Result<Vec<bool>, ProtocolError>, bool); 3] {
    run_three(|p| {
        let x = share(p, v);
        if p.id() == cheat {
            p.inject(fault);
        }
        let out = greater_than_public(p, &x, 0, Width::FULL).and_then(|b| reveal_bits(p, &b));
        (out, p.id() == cheat && p.fault_fired())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// An additive attack on any AND message of a comparison (the carry-save layer, the
    /// generate layer or a level of the prefix tree) is caught by the proof before the result
    /// bits open: both honest parties stop, naming the cheat.
    #[test]
    fn an_altered_and_message_is_caught_before_opening(
        v in proptest::collection::vec(-1000i64..1000, 1..200),
        cheat in 0usize..3, occurrence in 0u64..8, element in any::<u64>(), delta in any::<u64>(),
    ) {
        let cheat = PartyId::new(cheat).unwrap();
        let f = Fault { point: Point::And, occurrence, element, delta: delta.max(1) };
        let out = compare_with_fault(&v, cheat, f);
        prop_assert!(out[cheat.index()].1, "the fault fired");
        let results = out.map(|(r, _)| r);
        every_honest_party_names(&results, cheat, "verification")?;
    }

    /// A party that lies in the proof itself (a share of a round polynomial, a closing report)
    /// or sends a wrong challenge stops the honest parties too.
    #[test]
    fn a_lie_in_the_proof_is_caught(
        v in proptest::collection::vec(-1000i64..1000, 1..200),
        cheat in 0usize..3, challenge in any::<bool>(), occurrence in 0u64..6,
        element in any::<u64>(), delta in any::<u64>(),
    ) {
        let cheat = PartyId::new(cheat).unwrap();
        let point = if challenge { Point::Challenge } else { Point::Proof };
        let f = Fault { point, occurrence, element, delta: delta.max(1) };
        let out = compare_with_fault(&v, cheat, f);
        prop_assert!(out[cheat.index()].1, "the fault fired");
        let results = out.map(|(r, _)| r);
        every_honest_party_names(&results, cheat, "verification")?;
    }
}

/// Honest comparisons in malicious mode are verified and never abort, at sizes around the
/// word and batch boundaries.
#[test]
fn honest_comparisons_pass_verification() {
    for n in [1usize, 63, 64, 65, 1000] {
        let v: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 2001 - 1000).collect();
        let out = run_three(|p| {
            let x = share(p, &v);
            greater_than_public(p, &x, 0, Width::FULL).and_then(|b| reveal_bits(p, &b))
        });
        for o in out {
            assert_eq!(o.unwrap(), v.iter().map(|a| *a > 0).collect::<Vec<_>>());
        }
    }
}

/// In semi-honest mode nothing is checked: the same lie goes through (what the malicious mode
/// is for).
#[test]
fn semi_honest_mode_does_not_catch_a_lie() {
    let v = [5i64, 7, 11];
    let out = run_three(|p| {
        p.set_security(Security::SemiHonest);
        let x = share(p, &v);
        if p.id() == PartyId::P0 {
            p.inject(fault(Point::Opening, 0, 1));
        }
        reveal(p, &x).map(|o| decode_all(&o))
    });
    assert_eq!(out[1], Ok(vec![6, 7, 11]));
}

/// Faults as the environment spells them parse back; anything else is refused by name.
#[test]
fn faults_parse_from_their_environment_spelling() {
    for point in Point::ALL {
        let f: Fault = format!("{}:3:7:9", point.name()).parse().unwrap();
        assert_eq!(
            f,
            Fault {
                point,
                occurrence: 3,
                element: 7,
                delta: 9
            }
        );
    }
    for bad in [
        "",
        "product",
        "product:1:2",
        "product:1:2:0",
        "lie:1:2:3",
        "product:x:2:3",
    ] {
        let e = bad.parse::<Fault>().unwrap_err();
        assert!(e.contains("POINT:OCCURRENCE"), "{e}");
    }
}
