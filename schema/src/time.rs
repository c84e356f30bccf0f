//! `Timestamp`: milliseconds since the Unix epoch (UTC), parsed from FHIR date/dateTime/instant
//! text and formatted as RFC 3339.
//!
//! Accepted input (FHIR R4 `dateTime` and `instant`): `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (partial
//! dates mean the first instant of that period, UTC), and `YYYY-MM-DDThh:mm:ss[.f...]` followed by
//! `Z` or `+hh:mm` / `-hh:mm`. A time without a timezone offset is refused (FHIR requires one, and
//! guessing a zone would silently shift values). Fractions finer than a millisecond are truncated
//! toward the past. Years 0001..=9999 only.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MS_PER_DAY: i64 = 86_400_000;

/// An instant in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timestamp(pub i64);

/// Why a date/time text was refused (never echoes the text itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not of the form YYYY[-MM[-DD[Thh:mm:ss[.f]TZ]]].
    #[error("not a FHIR date, dateTime or instant")]
    Syntax,
    /// A field is out of its range (month 13, day 31 in April, offset beyond 14 hours, year 0).
    #[error("date or time field out of range")]
    OutOfRange,
    /// A time of day without `Z` or an offset.
    #[error("time without a timezone offset")]
    MissingTimezone,
}

impl Timestamp {
    /// 0001-01-01T00:00:00Z, the earliest parseable instant.
    pub const MIN: Timestamp = Timestamp(-62_135_596_800_000);
    /// 9999-12-31T23:59:59.999Z, the latest parseable instant.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// Milliseconds in a UTC day.
    pub const DAY_MS: i64 = 86_400_000;

    /// The wall clock now (the Unix epoch if the clock reads earlier): what a node stamps on
    /// its ledger entries and checks signed requests against, and what a client signs with.
    pub fn now() -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Timestamp(ms)
    }

    /// The start (00:00 UTC) of the day this instant falls in: the precision at which the
    /// computing parties hold effective times (they select by day, never by the millisecond).
    pub fn utc_day(self) -> Timestamp {
        Timestamp(self.0.div_euclid(Self::DAY_MS) * Self::DAY_MS)
    }

    /// True when this instant is the start of a UTC day.
    pub fn is_utc_day(self) -> bool {
        self.0.rem_euclid(Self::DAY_MS) == 0
    }

    /// Parses FHIR date / dateTime / instant text (see the module doc).
    pub fn parse_fhir(text: &str) -> Result<Timestamp, TimeError> {
        let mut p = Cursor {
            s: text.as_bytes(),
            i: 0,
        };
        let year = p.digits(4)?;
        let (mut month, mut day) = (1, 1);
        let mut ms_of_day = 0i64;
        let mut offset_minutes = 0i64;
        if p.eat(b'-') {
            month = p.digits(2)?;
            if p.eat(b'-') {
                day = p.digits(2)?;
                if p.eat(b'T') {
                    (ms_of_day, offset_minutes) = p.time_and_zone()?;
                }
            }
        }
        if !p.at_end() {
            return Err(TimeError::Syntax);
        }
        if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(TimeError::OutOfRange);
        }
        let ms =
            days_from_civil(year, month, day) * MS_PER_DAY + ms_of_day - offset_minutes * 60_000;
        let ts = Timestamp(ms);
        if ts < Timestamp::MIN || ts > Timestamp::MAX {
            return Err(TimeError::OutOfRange);
        }
        Ok(ts)
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.i == self.s.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn digits(&mut self, n: usize) -> Result<i64, TimeError> {
        let chunk = self.s.get(self.i..self.i + n).ok_or(TimeError::Syntax)?;
        if !chunk.iter().all(u8::is_ascii_digit) {
            return Err(TimeError::Syntax);
        }
        self.i += n;
        Ok(chunk
            .iter()
            .fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
    }

    fn expect(&mut self, b: u8) -> Result<(), TimeError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(TimeError::Syntax)
        }
    }

    /// `hh:mm:ss[.f...]` then `Z` or `±hh:mm`; returns (ms of day, offset in minutes).
    fn time_and_zone(&mut self) -> Result<(i64, i64), TimeError> {
        let hour = self.digits(2)?;
        self.expect(b':')?;
        let minute = self.digits(2)?;
        self.expect(b':')?;
        let second = self.digits(2)?;
        let mut millis = 0;
        if self.eat(b'.') {
            let start = self.i;
            while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            let frac = &self.s[start..self.i];
            if frac.is_empty() {
                return Err(TimeError::Syntax);
            }
            // Truncate to milliseconds: pad or cut to three digits.
            millis = (0..3).fold(0, |acc, k| {
                acc * 10 + frac.get(k).map_or(0, |d| i64::from(d - b'0'))
            });
        }
        // FHIR allows a leap second (60); it counts as the first second of the next minute.
        if hour > 23 || minute > 59 || second > 60 {
            return Err(TimeError::OutOfRange);
        }
        let offset = if self.eat(b'Z') {
            0
        } else {
            let sign = match self.s.get(self.i) {
                Some(b'+') => 1,
                Some(b'-') => -1,
                None => return Err(TimeError::MissingTimezone),
                Some(_) => return Err(TimeError::Syntax),
            };
            self.i += 1;
            let oh = self.digits(2)?;
            self.expect(b':')?;
            let om = self.digits(2)?;
            if oh > 14 || om > 59 || oh * 60 + om > 14 * 60 {
                return Err(TimeError::OutOfRange);
            }
            sign * (oh * 60 + om)
        };
        Ok((((hour * 60 + minute) * 60 + second) * 1000 + millis, offset))
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC: `YYYY-MM-DDThh:mm:ssZ`, with `.mmm` when the milliseconds are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms = self.0.rem_euclid(MS_PER_DAY);
        let (y, mo, d) = civil_from_days(days);
        let (h, mi, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if milli != 0 {
            write!(f, ".{milli:03}")?;
        }
        f.write_str("Z")
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse_fhir(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn utc_days_floor_to_midnight(t in Timestamp::MIN.0..Timestamp::MAX.0) {
            let day = Timestamp(t).utc_day();
            prop_assert!(day.is_utc_day());
            prop_assert!(day.0 <= t && t - day.0 < Timestamp::DAY_MS);
            prop_assert_eq!(day.utc_day(), day);
        }
    }

    #[test]
    fn days_before_the_epoch_floor_down() {
        let t = Timestamp::parse_fhir("1969-12-31T23:00:00Z").unwrap();
        assert_eq!(t.utc_day(), Timestamp::parse_fhir("1969-12-31").unwrap());
        assert!(!t.is_utc_day());
    }

    fn ts(s: &str) -> Result<i64, TimeError> {
        Timestamp::parse_fhir(s).map(|t| t.0)
    }

    #[test]
    fn known_instants() {
        // Values checked against `date -u -d ... +%s`.
        assert_eq!(ts("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(ts("2000-03-01"), Ok(951_868_800_000));
        assert_eq!(ts("2020"), Ok(1_577_836_800_000));
        assert_eq!(ts("2020-05"), Ok(1_588_291_200_000));
        assert_eq!(
            ts("2015-09-26T22:10:42.330194+00:00"),
            Ok(1_443_305_442_330)
        );
        assert_eq!(ts("2015-09-26T23:10:42.330+01:00"), Ok(1_443_305_442_330));
        assert_eq!(ts("2015-09-26T17:40:42.3-04:30"), Ok(1_443_305_442_300));
        assert_eq!(ts("1969-12-31T23:59:59.999Z"), Ok(-1));
        assert_eq!(ts("2016-12-31T23:59:60Z"), ts("2017-01-01T00:00:00Z"));
    }

    #[test]
    fn refusals() {
        assert_eq!(ts("2020-13"), Err(TimeError::OutOfRange));
        assert_eq!(ts("2021-02-29"), Err(TimeError::OutOfRange));
        assert_eq!(ts("2020-02-30"), Err(TimeError::OutOfRange));
        assert!(ts("2020-02-29").is_ok());
        assert_eq!(ts("0000-01-01"), Err(TimeError::OutOfRange));
        assert_eq!(ts("2020-01-01T10:00:00"), Err(TimeError::MissingTimezone));
        assert_eq!(ts("2020-01-01T10:00:00+15:00"), Err(TimeError::OutOfRange));
        assert_eq!(ts("2020-01-01T24:00:00Z"), Err(TimeError::OutOfRange));
        for bad in [
            "",
            "20",
            "2020-1",
            "2020-01-01T10:00Z",
            "2020-01-01T10:00:00.Z",
            "2020-01-01 ",
            "yesterday",
            "2020-01-01T10:00:00z",
        ] {
            assert!(ts(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp(1_443_305_442_330).to_string(),
            "2015-09-26T22:10:42.330Z"
        );
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999Z");
        assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn format_then_parse_is_identity(ms in Timestamp::MIN.0..=Timestamp::MAX.0) {
            let t = Timestamp(ms);
            prop_assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        }

        #[test]
        fn civil_dates_agree_with_the_time_crate(days in -719_162i64..2_932_896) {
            let date = time::Date::from_julian_day((days + 2_440_588) as i32).unwrap();
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!((y, m, d), (i64::from(date.year()), i64::from(u8::from(date.month())), i64::from(date.day())));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
