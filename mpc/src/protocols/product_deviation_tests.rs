//! Additive attacks on products over Z_2^64 (SECURITY.md): a party that adds a constant to its
//! share of a product, a dot product or a count is caught by the product proof
//! ([`crate::verify::product_proof`]) before anything opens, whatever the constant (2^63
//! included, the error a multiplier from Z_2^64 misses half the time), at every party
//! position; honest runs verify and give the plaintext results.

use proptest::prelude::*;

use super::a2b::Width;
use super::b2a::{bits_to_arith, count_ones};
use super::compare::greater_than_public;
use super::deviation_tests::every_honest_party_names;
use super::mul::{dot_many, dot_segments, mul};
use super::reveal::reveal;
use super::testing::share;
use crate::fault::{Fault, Point};
use crate::ring::decode_all;
use crate::{Party, PartyId, ProtocolError, run_three};

/// The product operations an attack can target.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// x * y element-wise.
    Mul,
    /// <x, y> and <y, y> (a dot product and a square).
    Dots,
    /// <x, x> alone (a square).
    Square,
    /// <x, y> per segment of `segments`.
    Segments(usize),
    /// The number of x > 0, a dot product of bit injection.
    CountPositive,
    /// Each bit x > 0 as 0 or 1 (bit injection: P0's input t = b0 ^ b1, then t ^ b2).
    InjectPositive,
}

fn ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Mul),
        Just(Op::Dots),
        Just(Op::Square),
        (1usize..4).prop_map(Op::Segments),
        Just(Op::CountPositive),
        Just(Op::InjectPositive),
    ]
}

/// What the operation computes, in plaintext (wrapping, as the ring does).
fn plaintext(op: Op, x: &[i64], y: &[i64]) -> Vec<i64> {
    let dot = |a: &[i64], b: &[i64]| {
        a.iter()
            .zip(b)
            .fold(0i64, |s, (p, q)| s.wrapping_add(p.wrapping_mul(*q)))
    };
    match op {
        Op::Mul => x.iter().zip(y).map(|(a, b)| a.wrapping_mul(*b)).collect(),
        Op::Dots => vec![dot(x, y), dot(y, y)],
        Op::Square => vec![dot(x, x)],
        Op::Segments(s) => {
            let len = x.len() / s;
            (0..s)
                .map(|k| dot(&x[k * len..(k + 1) * len], &y[k * len..(k + 1) * len]))
                .collect()
        }
        Op::CountPositive => vec![x.iter().filter(|a| **a > 0).count() as i64],
        Op::InjectPositive => x.iter().map(|a| i64::from(*a > 0)).collect(),
    }
}

fn compute(p: &mut Party, op: Op, x: &[i64], y: &[i64]) -> Result<Vec<i64>, ProtocolError> {
    let (xs, ys) = (share(p, x), share(p, y));
    let z = match op {
        Op::Mul => mul(p, &xs, &ys)?,
        Op::Dots => dot_many(p, &[(&xs, &ys), (&ys, &ys)])?,
        Op::Square => dot_many(p, &[(&xs, &xs)])?,
        Op::Segments(s) => dot_segments(p, &xs, &ys, s)?,
        Op::CountPositive => {
            let bits = greater_than_public(p, &xs, 0, Width::FULL)?;
            count_ones(p, &bits, 1)?
        }
        Op::InjectPositive => {
            let bits = greater_than_public(p, &xs, 0, Width::FULL)?;
            bits_to_arith(p, &bits)?
        }
    };
    reveal(p, &z).map(|o| decode_all(&o))
}

/// Each party's outcome of `op` with `fault` injected at `cheat`, and whether it fired.
fn with_fault(
    op: Op,
    x: &[i64],
    y: &[i64],
    cheat: PartyId,
    fault: Fault,
) -> [(Result<Vec<i64>, ProtocolError>, bool); 3] {
    run_three(|p| {
        if p.id() == cheat {
            p.inject(fault);
        }
        let out = compute(p, op, x, y);
        (out, p.id() == cheat && p.fault_fired())
    })
}

/// Operands of a length every segment count below 4 divides.
fn operands() -> impl Strategy<Value = (Vec<i64>, Vec<i64>)> {
    (1usize..40).prop_flat_map(|k| {
        let n = 6 * k;
        (
            proptest::collection::vec(-100_000i64..100_000, n),
            proptest::collection::vec(-100_000i64..100_000, n),
        )
    })
}

/// Any constant, and often a power of two (2^63 among them).
fn deltas() -> impl Strategy<Value = u64> {
    prop_oneof![any::<u64>(), (0u32..64).prop_map(|k| 1u64 << k)].prop_map(|d| d.max(1))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The additive attack: both honest parties stop before the result opens, naming the cheat.
    #[test]
    fn an_altered_product_share_is_caught_before_opening(
        op in ops(), (x, y) in operands(), cheat in 0usize..3,
        element in any::<u64>(), delta in deltas(),
    ) {
        let cheat = PartyId::new(cheat).unwrap();
        let f = Fault { point: Point::Product, occurrence: 0, element, delta };
        let out = with_fault(op, &x, &y, cheat, f);
        prop_assert!(out[cheat.index()].1, "the fault fired");
        let results = out.map(|(r, _)| r);
        every_honest_party_names(&results, cheat, "verification")?;
    }

    /// P0 inputs t = b0 ^ b1 in bit injection, which it alone knows: a wrong t (any element,
    /// any constant) is caught by its proof before anything opens. (Its inputs 0 and 1 are
    /// the operands, which a data owner chooses freely.)
    #[test]
    fn a_wrong_bit_injection_input_is_caught(
        op in prop_oneof![Just(Op::CountPositive), Just(Op::InjectPositive)],
        (x, y) in operands(), element in any::<u64>(), delta in deltas(),
    ) {
        let f = Fault { point: Point::Input, occurrence: 2, element, delta };
        let out = with_fault(op, &x, &y, PartyId::P0, f);
        prop_assert!(out[0].1, "the fault fired");
        let results = out.map(|(r, _)| r);
        every_honest_party_names(&results, PartyId::P0, "verification")?;
    }

    /// A lie in the product proof itself (a share of a round polynomial, a report, the seed of
    /// the weights or a challenge) stops the honest parties too.
    #[test]
    fn a_lie_in_the_product_proof_is_caught(
        op in prop_oneof![Just(Op::Mul), Just(Op::Dots), Just(Op::Square)], (x, y) in operands(),
        cheat in 0usize..3, challenge in any::<bool>(), occurrence in 0u64..5,
        element in any::<u64>(), delta in deltas(),
    ) {
        let cheat = PartyId::new(cheat).unwrap();
        // the fewest a proof sends (6 gates, one halving round): 3 challenges (the seed,
        // round one's, the halving round's) and 5 proof messages (three shares, two reports);
        // a square of 6 entries is one chunk, with no halving round: 2 and 4
        let halving = u64::from(!matches!(op, Op::Square));
        let (point, occurrence) = if challenge {
            (Point::Challenge, occurrence % (2 + halving))
        } else {
            (Point::Proof, occurrence % (4 + halving))
        };
        let f = Fault { point, occurrence, element, delta };
        let out = with_fault(op, &x, &y, cheat, f);
        prop_assert!(out[cheat.index()].1, "the fault fired");
        let results = out.map(|(r, _)| r);
        every_honest_party_names(&results, cheat, "verification")?;
    }

    /// Without a fault every product verifies and equals the plaintext.
    #[test]
    fn honest_products_verify_and_equal_plaintext(op in ops(), (x, y) in operands()) {
        let want = plaintext(op, &x, &y);
        for got in run_three(|p| compute(p, op, &x, &y)) {
            prop_assert_eq!(got.as_ref(), Ok(&want));
        }
    }
}

/// Sizes around the chunk widths (64 gates, 64 entries) and past one batch (2^15 chunks:
/// 2^14 dot products of one entry): all verify.
#[test]
fn honest_products_verify_around_chunk_and_batch_boundaries() {
    for n in [1usize, 31, 32, 33, 63, 64, 65, 129] {
        let x: Vec<i64> = (0..n as i64).map(|i| i * 7919 % 2001 - 1000).collect();
        let y: Vec<i64> = (0..n as i64).map(|i| i * 104_729 % 3001 - 1500).collect();
        for op in [
            Op::Mul,
            Op::Dots,
            Op::Square,
            Op::CountPositive,
            Op::InjectPositive,
        ] {
            let want = plaintext(op, &x, &y);
            for got in run_three(|p| compute(p, op, &x, &y)) {
                assert_eq!(got, Ok(want.clone()), "{op:?} n={n}");
            }
        }
    }
    let segments = (1 << 14) + 3;
    let x: Vec<i64> = (0..segments as i64).map(|i| i % 97 - 48).collect();
    let op = Op::Segments(segments);
    let want = plaintext(op, &x, &x);
    for got in run_three(|p| compute(p, op, &x, &x)) {
        assert_eq!(got, Ok(want.clone()));
    }
}

/// A dot product of a vector with itself is recorded as a square (one component, half the
/// entries); of two vectors, even equal ones, as a dot product.
#[test]
fn the_same_operand_twice_is_recorded_as_a_square() {
    use crate::verify::product_proof::{Record, Shape};
    let shapes = run_three(|p| {
        let x = share(p, &[3, -4, 5]);
        let copy = x.clone();
        dot_many(p, &[(&x, &x), (&x, &copy)]).unwrap();
        p.take_pending_products()
            .iter()
            .map(|r| match r {
                Record::Product(r) => r.shape,
                Record::Input(_) => unreachable!("no bit injection here"),
            })
            .collect::<Vec<_>>()
    });
    for s in shapes {
        assert_eq!(s, [Shape::Square { len: 3 }, Shape::Segments { len: 3 }]);
    }
}
