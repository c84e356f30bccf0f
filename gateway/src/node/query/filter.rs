//! Public query parameters written in the indicator's units, converted to its fixed point with
//! the schema catalog: `--where 'value > 126'` (or `'value >= 7 mmol/L'`) becomes the threshold
//! of a filtered mean, `--edges 70,100,126` a histogram's edges.

use hdg_schema::{Catalog, Indicator};

use super::{QueryError, Statistic};

/// The catalog entry of `code`.
pub fn indicator(code: &str) -> Result<&'static Indicator, QueryError> {
    Catalog::active()
        .get(code)
        .ok_or_else(|| QueryError::UnknownIndicator {
            indicator: code.to_string(),
        })
}

/// Parses `value > NUMBER [UNIT]` or `value >= NUMBER [UNIT]` for `code` into the fixed-point
/// threshold t of "x > t" (`>=` becomes `> NUMBER - one unit of precision`, exact on the
/// fixed-point grid). Without a unit the number is in the indicator's canonical unit.
pub fn parse_filter(code: &str, clause: &str) -> Result<i64, QueryError> {
    let ind = indicator(code)?;
    let mut words = clause.split_whitespace();
    if words.next() != Some("value") {
        return Err(QueryError::Filter {
            reason: "must read `value > NUMBER [UNIT]` or `value >= NUMBER [UNIT]`",
        });
    }
    let inclusive = match words.next() {
        Some(">") => false,
        Some(">=") => true,
        _ => {
            return Err(QueryError::Filter {
                reason: "only `>` and `>=` are supported",
            });
        }
    };
    let number = words.next().ok_or(QueryError::Filter {
        reason: "a number must follow the comparison",
    })?;
    let unit = words.next().unwrap_or(&ind.unit);
    if words.next().is_some() {
        return Err(QueryError::Filter {
            reason: "unexpected words after the unit",
        });
    }
    let fixed = ind.encode(number, unit)?;
    Ok(if inclusive { fixed - 1 } else { fixed })
}

/// A filtered mean from a `--where` clause, with the minimum filtered cohort `min_cohort`.
pub fn filtered_mean(code: &str, clause: &str, min_cohort: u64) -> Result<Statistic, QueryError> {
    Ok(Statistic::FilteredMean {
        threshold: parse_filter(code, clause)?,
        min_cohort,
    })
}

/// Parses comma-separated histogram edges in the canonical unit of `code` into fixed point.
pub fn parse_edges(code: &str, edges: &str) -> Result<Vec<i64>, QueryError> {
    let ind = indicator(code)?;
    let fixed = edges
        .split(',')
        .map(|e| ind.encode(e.trim(), &ind.unit))
        .collect::<Result<Vec<i64>, _>>()?;
    if fixed.windows(2).any(|w| w[0] >= w[1]) {
        return Err(QueryError::Filter {
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
                Err(QueryError::Filter { .. })
            ));
        }
        assert!(matches!(
            parse_filter("2339-0", "value > 1 furlongs"),
            Err(QueryError::Value(_))
        ));
        assert!(matches!(
            parse_filter("0000-0", "value > 1"),
            Err(QueryError::UnknownIndicator { .. })
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
