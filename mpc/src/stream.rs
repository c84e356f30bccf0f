//! Streaming: a computation over n values runs part by part, so what a party holds at once is
//! bounded by the part, not by n.
//!
//! Every statistic here is a sum over values of per-value contributions (its aggregates, see
//! [`crate::stats`]), so a party can share, compute and add up one part at a time and open the
//! sum once at the end. Under malicious security the products and AND gates of a part are
//! verified at the part's end ([`crate::verify::verify_pending`]), so the records a proof needs
//! are bounded by the part too.

use std::ops::Range;

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn no_values_is_one_empty_part() {
        assert_eq!(parts(0, 4).collect::<Vec<_>>(), vec![0..0]);
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
