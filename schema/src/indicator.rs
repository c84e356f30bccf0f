//! `Indicator`: one catalog entry and its exact fixed-point encoding of `(decimal, unit)`.

use crate::decimal::{DecimalError, Ratio, format_scaled, parse_decimal};

/// Digits after the canonical precision used when writing a value in another unit, so that
/// converting back lands on the same fixed-point integer.
const EXTRA_DIGITS: u32 = 6;

/// True for the UCUM unit `1` and for a bare UCUM annotation `{...}`, which UCUM defines as the
/// unit 1. The annotation text is at least one printable ASCII character other than a brace or a
/// space; anything outside the braces (`{copies}/mL`, `mL/min/{1.73_m2}`) makes it a real unit.
fn is_unity(unit: &str) -> bool {
    unit == "1"
        || unit
            .strip_prefix('{')
            .and_then(|u| u.strip_suffix('}'))
            .is_some_and(|text| {
                !text.is_empty()
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}')
            })
}

/// An accepted non-canonical unit: `canonical = value * factor + offset`, exactly.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnitConversion {
    /// UCUM unit code, e.g. `"mmol/L"`.
    pub unit: String,
    /// Multiplier to the canonical unit.
    pub factor: Ratio,
    /// Added after multiplying (non-zero only for affine scales such as `[degF]`).
    pub offset: Ratio,
}

/// One indicator of the catalog: its code, canonical unit, precision and plausible range.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Indicator {
    /// LOINC code (other systems as `"system|code"`).
    pub code: String,
    /// Human-readable name.
    pub display: String,
    /// Canonical UCUM unit: fixed-point values are in this unit.
    pub unit: String,
    /// Decimal digits kept: the stored integer is `value * 10^precision`.
    pub precision: u32,
    /// Smallest plausible value, fixed-point.
    pub min_fixed: i64,
    /// Largest plausible value, fixed-point.
    pub max_fixed: i64,
    /// Other accepted units with their exact conversions.
    pub conversions: Vec<UnitConversion>,
}

/// Why a `(value, unit)` could not be encoded for an indicator. Never carries the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value text is not a decimal number.
    #[error("value is not a decimal number (indicator {indicator})")]
    NotADecimal {
        /// Indicator code.
        indicator: String,
    },
    /// The unit is neither the canonical unit nor an accepted one.
    #[error("unit {unit:?} is not accepted for {indicator}")]
    UnknownUnit {
        /// Indicator code.
        indicator: String,
        /// The unit given.
        unit: String,
    },
    /// Outside the indicator's plausible range.
    #[error("value out of plausible range for {indicator}")]
    OutOfRange {
        /// Indicator code.
        indicator: String,
    },
    /// Too many digits to convert exactly.
    #[error("value has too many digits to convert exactly (indicator {indicator})")]
    TooPrecise {
        /// Indicator code.
        indicator: String,
    },
}

impl Indicator {
    /// Encodes a decimal text in `unit` as the fixed-point integer in the canonical unit: exact
    /// rational conversion, rounded half away from zero to the precision, then range-checked.
    pub fn encode(&self, decimal: &str, unit: &str) -> Result<i64, ValueError> {
        let value = parse_decimal(decimal).map_err(|e| match e {
            DecimalError::Syntax => ValueError::NotADecimal {
                indicator: self.code.clone(),
            },
            DecimalError::Overflow => self.too_precise(),
        })?;
        self.encode_ratio(value, unit)
    }

    /// [`Indicator::encode`] for a value that is already an exact rational.
    pub fn encode_ratio(&self, value: Ratio, unit: &str) -> Result<i64, ValueError> {
        let (factor, offset) = self
            .conversion(unit)
            .ok_or_else(|| ValueError::UnknownUnit {
                indicator: self.code.clone(),
                unit: unit.to_string(),
            })?;
        let scaled = value
            .checked_mul(factor)
            .and_then(|v| v.checked_add(offset))
            .and_then(|v| v.checked_mul(self.scale()))
            .ok_or_else(|| self.too_precise())?;
        let fixed = scaled.round_half_away();
        match i64::try_from(fixed) {
            Ok(f) if (self.min_fixed..=self.max_fixed).contains(&f) => Ok(f),
            _ => Err(ValueError::OutOfRange {
                indicator: self.code.clone(),
            }),
        }
    }

    /// `(factor, offset)` taking a value in `unit` to the canonical unit, if `unit` is accepted:
    /// the canonical unit, a listed conversion, or (UCUM's rule that a bare annotation such as
    /// `{score}`, `{SG}` or `{INR}` is the unit 1) any of `1` and the bare annotations when the
    /// canonical unit is itself `1` or a bare annotation. An annotation attached to a unit is not
    /// bare: `mL/min/{1.73_m2}` matches only itself or a listed conversion, never `mL/min`.
    pub fn conversion(&self, unit: &str) -> Option<(Ratio, Ratio)> {
        if unit == self.unit {
            return Some((Ratio::ONE, Ratio::ZERO));
        }
        if let Some(c) = self.conversions.iter().find(|c| c.unit == unit) {
            return Some((c.factor, c.offset));
        }
        (is_unity(&self.unit) && is_unity(unit)).then_some((Ratio::ONE, Ratio::ZERO))
    }

    /// True when `unit` is the canonical unit or an accepted one.
    pub fn accepts_unit(&self, unit: &str) -> bool {
        self.conversion(unit).is_some()
    }

    /// The fixed-point value as a decimal string in the canonical unit (`precision` decimals).
    pub fn format(&self, fixed: i64) -> String {
        format_scaled(i128::from(fixed), self.precision)
    }

    /// The fixed-point value written in another accepted unit, exact to `precision + 6`
    /// decimals (trailing zeros trimmed), so that `encode(format_in_unit(f, u), u) == f`.
    pub fn format_in_unit(&self, fixed: i64, unit: &str) -> Result<String, ValueError> {
        let (factor, offset) = self
            .conversion(unit)
            .ok_or_else(|| ValueError::UnknownUnit {
                indicator: self.code.clone(),
                unit: unit.to_string(),
            })?;
        let decimals = self.precision + EXTRA_DIGITS;
        let scaled = Ratio::new(i128::from(fixed), 1)
            .and_then(|f| f.checked_div(self.scale()))
            .and_then(|c| c.checked_sub(offset))
            .and_then(|c| c.checked_div(factor))
            .and_then(|u| u.checked_mul(Ratio::pow10(decimals)?))
            .ok_or_else(|| self.too_precise())?;
        let text = format_scaled(scaled.round_half_away(), decimals);
        let trimmed = text.trim_end_matches('0').trim_end_matches('.');
        Ok(if trimmed == "-0" {
            "0".to_string()
        } else {
            trimmed.to_string()
        })
    }

    /// The fixed-point value as a float in the canonical unit (for display and statistics only).
    pub fn to_f64(&self, fixed: i64) -> f64 {
        fixed as f64 / 10f64.powi(self.precision as i32)
    }

    /// The largest absolute fixed-point value a valid observation can hold (MPC overflow bounds).
    pub fn max_abs_fixed(&self) -> u64 {
        self.min_fixed
            .unsigned_abs()
            .max(self.max_fixed.unsigned_abs())
    }

    fn scale(&self) -> Ratio {
        Ratio::pow10(self.precision).expect("catalog precision is at most 9")
    }

    fn too_precise(&self) -> ValueError {
        ValueError::TooPrecise {
            indicator: self.code.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indicator(unit: &str, conversions: &[(&str, &str)]) -> Indicator {
        Indicator {
            code: "test".into(),
            display: "test".into(),
            unit: unit.into(),
            precision: 2,
            min_fixed: -100_000,
            max_fixed: 100_000,
            conversions: conversions
                .iter()
                .map(|(u, f)| UnitConversion {
                    unit: (*u).into(),
                    factor: Ratio::parse(f).unwrap(),
                    offset: Ratio::ZERO,
                })
                .collect(),
        }
    }

    fn unknown(unit: &str) -> Result<i64, ValueError> {
        Err(ValueError::UnknownUnit {
            indicator: "test".into(),
            unit: unit.into(),
        })
    }

    #[test]
    fn bare_annotations_are_the_unit_one() {
        assert!(is_unity("1") && is_unity("{SG}") && is_unity("{score}") && is_unity("{#}"));
        assert!(is_unity("{1.73_m2}") && is_unity("{T-score}"));
        for not in [
            "",
            "{}",
            "{a b}",
            "{{x}}",
            "{x",
            "x}",
            "%",
            "10*3",
            "{copies}/mL",
        ] {
            assert!(!is_unity(not), "{not:?}");
        }
        assert!(!is_unity("mL/min/{1.73_m2}") && !is_unity("{score}2"));

        // Canonical annotation: 1 and any bare annotation are accepted unchanged.
        let score = indicator("{score}", &[]);
        for unit in ["{score}", "{SG}", "{points}", "1", "{#}"] {
            assert_eq!(score.encode("7", unit), Ok(700), "{unit}");
            assert_eq!(score.format_in_unit(700, unit).unwrap(), "7");
        }
        // Canonical 1 likewise.
        let one = indicator("1", &[]);
        assert_eq!(one.encode("1.015", "{SG}"), Ok(102));
        assert!(one.accepts_unit("{nominal}"));
        // A listed conversion wins over the unity rule.
        let listed = indicator("{INR}", &[("{ratio}", "2")]);
        assert_eq!(listed.encode("1.5", "{ratio}"), Ok(300));
        assert_eq!(listed.encode("1.5", "{other}"), Ok(150));

        // A dimensioned canonical unit never takes a bare annotation, nor the reverse.
        let percent = indicator("%", &[("1", "100")]);
        assert_eq!(percent.encode("0.5", "1"), Ok(5000));
        assert_eq!(percent.encode("5", "{score}"), unknown("{score}"));
        assert_eq!(score.encode("5", "%"), unknown("%"));
        assert_eq!(score.encode("5", "{score}/min"), unknown("{score}/min"));
        assert_eq!(score.encode("5", "{}"), unknown("{}"));
    }

    #[test]
    fn annotations_attached_to_a_unit_keep_the_unit() {
        let egfr = indicator("mL/min/{1.73_m2}", &[]);
        assert_eq!(egfr.encode("90", "mL/min/{1.73_m2}"), Ok(9000));
        for unit in ["mL/min", "1", "{1.73_m2}", "mL/min/{m2}", "mL/min/1.73.m2"] {
            assert_eq!(egfr.encode("90", unit), unknown(unit), "{unit}");
        }
        let viral = indicator("{copies}/mL", &[]);
        assert_eq!(viral.encode("5", "{score}"), unknown("{score}"));
        assert_eq!(viral.encode("5", "1"), unknown("1"));
    }
}
