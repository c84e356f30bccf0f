//! Public query parameters written in the indicator's units, converted to its fixed point with
//! the schema catalog: `--where 'value > 126'` (or `'value >= 7 mmol/L'`) becomes the threshold
//! of a filtered mean, `--edges 70,100,126` a histogram's edges.

use hdg_schema::{Catalog, Indicator, ValueError};
use thiserror::Error;

use crate::query::Statistic;

/// Why a parameter was refused. Names the rule, never a health value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    /// The indicator is not in the catalog.
    #[error("indicator {indicator} is not in the catalog")]
    UnknownIndicator {
        /// The code asked for.
        indicator: String,
    },
    /// The `--where` clause or the edges do not parse.
    #[error("filter refused: {reason}")]
    Filter {
        /// What is wrong.
        reason: &'static str,
    },
    /// A filter or histogram value does not encode for the indicator.
    #[error("filter value refused: {0}")]
    Value(#[from] ValueError),
}

/// The catalog entry of `code` in this process's active catalog.
pub fn indicator(code: &str) -> Result<&'static Indicator, FilterError> {
    Catalog::active()
        .get(code)
        .ok_or_else(|| FilterError::UnknownIndicator {
            indicator: code.to_string(),
        })
}

/// Parses `value > NUMBER [UNIT]` or `value >= NUMBER [UNIT]` for `code` into the fixed-point
/// threshold t of "x > t" (`>=` becomes `> NUMBER - one unit of precision`, exact on the
/// fixed-point grid). Without a unit the number is in the indicator's canonical unit.
pub fn parse_filter(code: &str, clause: &str) -> Result<i64, FilterError> {
    let ind = indicator(code)?;
    let mut words = clause.split_whitespace();
    if words.next() != Some("value") {
        return Err(FilterError::Filter {
            reason: "must read `value > NUMBER [UNIT]` or `value >= NUMBER [UNIT]`",
        });
    }
    let inclusive = match words.next() {
        Some(">") => false,
        Some(">=") => true,
        _ => {
            return Err(FilterError::Filter {
                reason: "only `>` and `>=` are supported",
            });
        }
    };
    let number = words.next().ok_or(FilterError::Filter {
        reason: "a number must follow the comparison",
    })?;
    let unit = words.next().unwrap_or(&ind.unit);
    if words.next().is_some() {
        return Err(FilterError::Filter {
            reason: "unexpected words after the unit",
        });
    }
    let fixed = ind.encode(number, unit)?;
    Ok(if inclusive { fixed - 1 } else { fixed })
}

/// A filtered mean from a `--where` clause, with the minimum filtered cohort `min_cohort`.
pub fn filtered_mean(code: &str, clause: &str, min_cohort: u64) -> Result<Statistic, FilterError> {
    Ok(Statistic::FilteredMean {
        threshold: parse_filter(code, clause)?,
        min_cohort,
    })
}

/// Parses comma-separated histogram edges in the canonical unit of `code` into fixed point.
pub fn parse_edges(code: &str, edges: &str) -> Result<Vec<i64>, FilterError> {
    let ind = indicator(code)?;
    let fixed = edges
        .split(',')
        .map(|e| ind.encode(e.trim(), &ind.unit))
        .collect::<Result<Vec<i64>, _>>()?;
    if fixed.windows(2).any(|w| w[0] >= w[1]) {
        return Err(FilterError::Filter {
            reason: "histogram edges must be strictly increasing",
        });
    }
    Ok(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale(code: &str) -> i64 {
        10i64.pow(indicator(code).unwrap().precision)
    }

    #[test]
    fn threshold_in_canonical_unit_uses_the_precision() {
        let s = scale("2339-0");
        assert_eq!(parse_filter("2339-0", "value > 126").unwrap(), 126 * s);
        assert_eq!(
            parse_filter("2339-0", " value  >  126.5 ").unwrap(),
            1265 * s / 10
        );
    }

    #[test]
    fn inclusive_threshold_is_one_step_lower() {
        let s = scale("2339-0");
        assert_eq!(parse_filter("2339-0", "value >= 126").unwrap(), 126 * s - 1);
    }

    #[test]
    fn threshold_in_another_unit_is_converted() {
        let ind = indicator("2339-0").unwrap();
        let other = ind
            .conversions
            .first()
            .expect("glucose has an alternative unit");
        let in_other = ind
            .format_in_unit(126 * scale("2339-0"), &other.unit)
            .unwrap();
        let clause = format!("value > {in_other} {}", other.unit);
        assert_eq!(
            parse_filter("2339-0", &clause).unwrap(),
            126 * scale("2339-0")
        );
    }

    #[test]
    fn refusals_name_the_rule() {
        for bad in ["x > 1", "value < 1", "value >", "value > 1 mg/dL extra"] {
            assert!(matches!(
                parse_filter("2339-0", bad),
                Err(FilterError::Filter { .. })
            ));
        }
        assert!(matches!(
            parse_filter("2339-0", "value > 1 furlongs"),
            Err(FilterError::Value(_))
        ));
        assert!(matches!(
            parse_filter("0000-0", "value > 1"),
            Err(FilterError::UnknownIndicator { .. })
        ));
        let msg = parse_filter("2339-0", "value > 99999999")
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("99999999"));
    }

    #[test]
    fn edges_parse_and_must_increase() {
        let s = scale("2339-0");
        assert_eq!(
            parse_edges("2339-0", "70, 100,126").unwrap(),
            vec![70 * s, 100 * s, 126 * s]
        );
        assert!(parse_edges("2339-0", "100,70").is_err());
    }
}
