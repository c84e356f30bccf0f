//! Overflow rules: aggregates must stay below 2^63 in magnitude so they decode exactly, and
//! comparison operands must differ by less than 2^63.

use super::StatsError;
use crate::protocols::a2b::Width;

/// The largest |value| the caller guarantees for an input vector (integer units), e.g. the
/// catalog's plausible range for the indicator at its precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueBound {
    /// max |x|.
    pub max_abs: u64,
}

/// 2^63: aggregates must stay strictly below it in magnitude.
const LIMIT: u128 = 1 << 63;

impl ValueBound {
    /// A bound of `max_abs`.
    pub fn new(max_abs: u64) -> ValueBound {
        ValueBound { max_abs }
    }

    /// Refuses unless `count` * max|x| < 2^63 (sums of `count` values).
    pub(crate) fn check_sum(self, count: u64, statistic: &'static str) -> Result<(), StatsError> {
        check(
            count as u128 * self.max_abs as u128,
            statistic,
            "count * max|x| must stay below 2^63",
        )
    }

    /// Refuses unless `count` * max|x| * max|y| < 2^63 (sums of `count` products).
    pub(crate) fn check_products(
        self,
        other: ValueBound,
        count: u64,
        statistic: &'static str,
    ) -> Result<(), StatsError> {
        let per = self.max_abs as u128 * other.max_abs as u128;
        check(
            per.saturating_mul(count as u128),
            statistic,
            "n * max|x| * max|y| must stay below 2^63",
        )
    }

    /// Refuses unless max|x| + |c| < 2^63 for every public constant c compared with x, and
    /// max|x| < 2^62 (so secret differences x - y of two bounded values also fit).
    pub(crate) fn check_comparable(
        self,
        constants: &[i64],
        statistic: &'static str,
    ) -> Result<(), StatsError> {
        let rule = "max|x| must stay below 2^62 and max|x| + |c| below 2^63";
        check(2 * self.max_abs as u128, statistic, rule)?;
        for c in constants {
            check(
                self.max_abs as u128 + c.unsigned_abs() as u128,
                statistic,
                rule,
            )?;
        }
        Ok(())
    }

    /// The width a comparison of x with each of `constants` reads (after
    /// [`ValueBound::check_comparable`]): |x - c| <= max|x| + max|c|.
    pub(crate) fn width_against(self, constants: &[i64]) -> Width {
        let c = constants
            .iter()
            .map(|c| c.unsigned_abs())
            .max()
            .unwrap_or(0);
        Width::for_magnitude(self.max_abs as u128 + c as u128)
    }
}

fn check(value: u128, statistic: &'static str, rule: &'static str) -> Result<(), StatsError> {
    if value < LIMIT {
        Ok(())
    } else {
        Err(StatsError::Overflow { statistic, rule })
    }
}
