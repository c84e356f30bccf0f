//! Exact decimal and rational arithmetic for unit conversion: decimals are parsed as decimals
//! (never through binary floating point), converted with `i128` rationals, and rounded half away
//! from zero. Every operation is checked; overflow is an error, never a wrap.

/// Why a number could not be handled exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a decimal number (`-12.5`, `3`, `1e-2` are; `1,5`, `NaN`, `.` are not).
    #[error("not a decimal number")]
    Syntax,
    /// Too many digits or too large an exponent to compute exactly.
    #[error("number too large or too precise to convert exactly")]
    Overflow,
}

/// An exact rational `num / den` with `den > 0`, kept in lowest terms.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ratio {
    num: i128,
    den: i128,
}

const MAX_DIGITS: usize = 36;
const MAX_EXPONENT: i32 = 36;

impl Ratio {
    /// Zero.
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };
    /// One.
    pub const ONE: Ratio = Ratio { num: 1, den: 1 };

    /// `num / den` in lowest terms; `None` when `den` is zero or the sign cannot be normalised.
    pub fn new(num: i128, den: i128) -> Option<Ratio> {
        if den == 0 {
            return None;
        }
        let g = gcd(num.unsigned_abs(), den.unsigned_abs()).max(1);
        let (mut num, mut den) = (num / g as i128, den / g as i128);
        if den < 0 {
            num = num.checked_neg()?;
            den = den.checked_neg()?;
        }
        Some(Ratio { num, den })
    }

    /// The integer `n`.
    pub fn integer(n: i128) -> Ratio {
        Ratio { num: n, den: 1 }
    }

    /// `10^exp` for `exp >= 0`, checked.
    pub fn pow10(exp: u32) -> Option<Ratio> {
        Some(Ratio::integer(10i128.checked_pow(exp)?))
    }

    /// Parses a decimal (`-0.45359237`, `1e3`) or a quotient of two decimals (`5/9`, `-160/9`).
    pub fn parse(text: &str) -> Result<Ratio, DecimalError> {
        match text.split_once('/') {
            None => parse_decimal(text),
            Some((a, b)) => parse_decimal(a.trim())?
                .checked_div(parse_decimal(b.trim())?)
                .ok_or(DecimalError::Overflow),
        }
    }

    /// Numerator (sign carrier).
    pub fn numer(self) -> i128 {
        self.num
    }

    /// Denominator (always positive).
    pub fn denom(self) -> i128 {
        self.den
    }

    /// `self + other`, checked.
    pub fn checked_add(self, other: Ratio) -> Option<Ratio> {
        let g = gcd(self.den.unsigned_abs(), other.den.unsigned_abs()) as i128;
        let (a, b) = (self.den / g, other.den / g);
        let num = self
            .num
            .checked_mul(b)?
            .checked_add(other.num.checked_mul(a)?)?;
        Ratio::new(num, self.den.checked_mul(b)?)
    }

    /// `self - other`, checked.
    pub fn checked_sub(self, other: Ratio) -> Option<Ratio> {
        self.checked_add(Ratio {
            num: other.num.checked_neg()?,
            den: other.den,
        })
    }

    /// `self * other`, checked (cross-reduced first to keep numbers small).
    pub fn checked_mul(self, other: Ratio) -> Option<Ratio> {
        let g1 = gcd(self.num.unsigned_abs(), other.den.unsigned_abs()).max(1) as i128;
        let g2 = gcd(other.num.unsigned_abs(), self.den.unsigned_abs()).max(1) as i128;
        let num = (self.num / g1).checked_mul(other.num / g2)?;
        let den = (self.den / g2).checked_mul(other.den / g1)?;
        Ratio::new(num, den)
    }

    /// `self / other`, checked; `None` when `other` is zero.
    pub fn checked_div(self, other: Ratio) -> Option<Ratio> {
        if other.num == 0 {
            return None;
        }
        self.checked_mul(Ratio::new(other.den, other.num)?)
    }

    /// The nearest integer, halves rounded away from zero.
    pub fn round_half_away(self) -> i128 {
        let q = self.num / self.den;
        let r = (self.num % self.den).unsigned_abs();
        // r < den, so 2r cannot overflow u128 (den <= i128::MAX).
        if 2 * r >= self.den.unsigned_abs() {
            q + self.num.signum()
        } else {
            q
        }
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Parses `[+-]digits[.digits][(e|E)[+-]digits]` exactly.
pub fn parse_decimal(text: &str) -> Result<Ratio, DecimalError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut mantissa: i128 = 0;
    let mut significant = 0usize;
    let mut digits = 0usize;
    let mut scale: i32 = 0;
    let mut seen_point = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if mantissa != 0 || b != b'0' {
                    significant += 1;
                }
                if significant > MAX_DIGITS {
                    return Err(DecimalError::Overflow);
                }
                mantissa = mantissa * 10 + i128::from(b - b'0');
                if seen_point {
                    scale += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return Err(DecimalError::Syntax);
    }
    let mut exponent: i32 = 0;
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_negative = match bytes.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start >= 4 {
                return Err(DecimalError::Overflow);
            }
            exponent = exponent * 10 + i32::from(bytes[i] - b'0');
            i += 1;
        }
        if i == start {
            return Err(DecimalError::Syntax);
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    if i != bytes.len() {
        return Err(DecimalError::Syntax);
    }
    if negative {
        mantissa = -mantissa;
    }
    if mantissa == 0 {
        return Ok(Ratio::ZERO);
    }
    let power = exponent - scale;
    if power.abs() > MAX_EXPONENT {
        return Err(DecimalError::Overflow);
    }
    let ten = Ratio::pow10(power.unsigned_abs()).ok_or(DecimalError::Overflow)?;
    let value = Ratio::integer(mantissa);
    let result = if power >= 0 {
        value.checked_mul(ten)
    } else {
        value.checked_div(ten)
    };
    result.ok_or(DecimalError::Overflow)
}

/// Writes the integer `fixed` scaled by `10^-decimals` as a decimal string with exactly
/// `decimals` digits after the point (`1234`, 1 -> `"123.4"`; `-5`, 2 -> `"-0.05"`).
pub fn format_scaled(fixed: i128, decimals: u32) -> String {
    let digits = fixed.unsigned_abs().to_string();
    let sign = if fixed < 0 { "-" } else { "" };
    if decimals == 0 {
        return format!("{sign}{digits}");
    }
    let d = decimals as usize;
    let padded = if digits.len() <= d {
        format!("{}{digits}", "0".repeat(d + 1 - digits.len()))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - d);
    format!("{sign}{int}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(n: i128, d: i128) -> Ratio {
        Ratio::new(n, d).unwrap()
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(parse_decimal("117.4"), Ok(r(1174, 10)));
        assert_eq!(
            parse_decimal("-0.45359237"),
            Ok(r(-45_359_237, 100_000_000))
        );
        assert_eq!(parse_decimal("+3"), Ok(r(3, 1)));
        assert_eq!(parse_decimal("1e3"), Ok(r(1000, 1)));
        assert_eq!(parse_decimal("2.5E-2"), Ok(r(1, 40)));
        assert_eq!(parse_decimal(".5"), Ok(r(1, 2)));
        assert_eq!(parse_decimal("5."), Ok(r(5, 1)));
        assert_eq!(
            parse_decimal("0.011613238304696516"),
            Ok(r(11_613_238_304_696_516, 1_000_000_000_000_000_000))
        );
        for bad in [
            "", "-", ".", "1,5", "NaN", "1e", "1.2.3", "0x10", " 1", "1 ", "--1", "inf",
        ] {
            assert_eq!(parse_decimal(bad), Err(DecimalError::Syntax), "{bad:?}");
        }
        assert_eq!(parse_decimal("1e99999"), Err(DecimalError::Overflow));
        assert_eq!(parse_decimal(&"9".repeat(40)), Err(DecimalError::Overflow));
        // Leading zeros do not count against the digit budget.
        assert_eq!(
            parse_decimal(&format!("0.{}1", "0".repeat(30))),
            Ok(r(1, 10i128.pow(31)))
        );
    }

    #[test]
    fn parses_quotients() {
        assert_eq!(Ratio::parse("5/9"), Ok(r(5, 9)));
        assert_eq!(Ratio::parse("-160/9"), Ok(r(-160, 9)));
        assert_eq!(
            Ratio::parse("1000/133.322387415"),
            Ok(r(1_000_000_000_000, 133_322_387_415))
        );
        assert_eq!(Ratio::parse("1/0"), Err(DecimalError::Overflow));
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(r(5, 2).round_half_away(), 3);
        assert_eq!(r(-5, 2).round_half_away(), -3);
        assert_eq!(r(7, 3).round_half_away(), 2);
        assert_eq!(r(-7, 3).round_half_away(), -2);
        assert_eq!(r(8, 3).round_half_away(), 3);
        assert_eq!(r(-8, 3).round_half_away(), -3);
        assert_eq!(r(0, 3).round_half_away(), 0);
    }

    #[test]
    fn formats_scaled_integers() {
        assert_eq!(format_scaled(1234, 1), "123.4");
        assert_eq!(format_scaled(-5, 2), "-0.05");
        assert_eq!(format_scaled(5, 0), "5");
        assert_eq!(format_scaled(0, 3), "0.000");
        assert_eq!(format_scaled(-1000, 3), "-1.000");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn format_then_parse_is_exact(fixed in any::<i64>(), decimals in 0u32..10) {
            let text = format_scaled(i128::from(fixed), decimals);
            let back = parse_decimal(&text).unwrap().checked_mul(Ratio::pow10(decimals).unwrap()).unwrap();
            prop_assert_eq!(back, Ratio::integer(i128::from(fixed)));
        }

        #[test]
        fn arithmetic_matches_integers(a in -1_000_000i64..1_000_000, b in 1i64..1_000, c in -1_000i64..1_000) {
            let x = r(i128::from(a), i128::from(b));
            let y = Ratio::integer(i128::from(c));
            let sum = x.checked_add(y).unwrap();
            prop_assert_eq!(sum, r(i128::from(a) + i128::from(c) * i128::from(b), i128::from(b)));
            prop_assert_eq!(sum.checked_sub(y).unwrap(), x);
            if c != 0 {
                prop_assert_eq!(x.checked_mul(y).unwrap().checked_div(y).unwrap(), x);
            }
        }
    }
}
