//! Streaming: a computation over n values runs part by part, so what a party holds at once is
//! bounded by the part, not by n.
//!
//! Every statistic here is a sum over values of per-value contributions (its aggregates, see
//! [`crate::stats`]), so a party can share, compute and add up one part at a time and open the
//! sum once at the end. Under malicious security the products and AND gates of a part are
//! verified at the part's end ([`crate::verify::verify_pending`]), so the records a proof needs
//! are bounded by the part too.

use std::borrow::Cow;
use std::ops::Range;

use crate::verify::verify_pending;
use crate::{ArithShares, Party, ProtocolError};

/// Values per part: 2^20, where the protocols' working set (about 100 B/value inside a
/// comparison) stays near 100 MiB and the per-part overhead (a verification under malicious
/// security, a few rounds) is small against a million values.
pub const PART_VALUES: usize = 1 << 20;

/// The parts of 0..n of at most `size` values, in order; one empty part when n = 0, so that a
/// computation over no values still runs (and opens) exactly once.
pub fn parts(n: usize, size: usize) -> impl Iterator<Item = Range<usize>> {
    assert!(size > 0, "a part holds at least one value");
    let count = n.div_ceil(size).max(1);
    (0..count).map(move |i| i * size..((i + 1) * size).min(n))
}

/// The shares of `x` in `range`: `x` itself when the range covers it (one part: no copy), else
/// a copy of the part.
pub fn part_of(x: &ArithShares, range: Range<usize>) -> Cow<'_, ArithShares> {
    if range == (0..x.len()) {
        Cow::Borrowed(x)
    } else {
        Cow::Owned(x.slice(range))
    }
}

/// Values per part for a computation doing `per_value` units of work (comparisons, say) per
/// value: the party's part size divided by it, at least one value.
pub fn part_size(party: &Party, per_value: usize) -> usize {
    (party.part_values() / per_value.max(1)).max(1)
}

/// The sum of what `part` computes on each part of 0..n of at most `size` values (a vector of
/// the same length from every part), verifying what a part recorded for the proofs before the
/// next part starts. What the last part recorded stays pending: it is verified with whatever
/// the caller opens next, as if the computation had run in one part. All three parties call it
/// alike (the same n and size).
pub fn sum_over_parts<E: From<ProtocolError>>(
    party: &mut Party,
    n: usize,
    size: usize,
    mut part: impl FnMut(&mut Party, Range<usize>) -> Result<ArithShares, E>,
) -> Result<ArithShares, E> {
    let mut total: Option<ArithShares> = None;
    for range in parts(n, size) {
        let last = range.end == n;
        let sum = part(party, range)?;
        match &mut total {
            Some(t) => t.add_assign(&sum),
            None => total = Some(sum),
        }
        if !last {
            verify_pending(party)?;
        }
    }
    Ok(total.expect("at least one part"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn no_values_is_one_empty_part() {
        assert_eq!(parts(0, 4).collect::<Vec<_>>(), vec![0..0]);
    }

    #[test]
    fn a_part_covering_everything_is_borrowed_and_another_is_copied() {
        let x = ArithShares::new(vec![1, 2, 3], vec![4, 5, 6]);
        assert!(matches!(part_of(&x, 0..3), Cow::Borrowed(_)));
        let p = part_of(&x, 1..3);
        assert!(matches!(p, Cow::Owned(_)));
        assert_eq!(*p, ArithShares::new(vec![2, 3], vec![5, 6]));
    }

    #[test]
    fn the_last_part_holds_the_rest() {
        assert_eq!(parts(10, 4).collect::<Vec<_>>(), vec![0..4, 4..8, 8..10]);
        assert_eq!(parts(8, 4).collect::<Vec<_>>(), vec![0..4, 4..8]);
    }

    proptest! {
        #[test]
        fn parts_tile_the_range(n in 0usize..5000, size in 1usize..700) {
            let ps: Vec<_> = parts(n, size).collect();
            let mut next = 0;
            for p in &ps {
                prop_assert_eq!(p.start, next);
                prop_assert!(p.len() <= size);
                prop_assert!(!p.is_empty() || n == 0);
                next = p.end;
            }
            prop_assert_eq!(next, n);
            prop_assert_eq!(ps.len(), n.div_ceil(size).max(1));
        }
    }
}
