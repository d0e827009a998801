//! Wall-clock instants in the one format the envelope and tasks use (RFC 3339, UTC, `Z`,
//! millisecond precision: `2026-11-24T12:00:00.123Z`), and RFC 3339 read back from clients.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, displayed as RFC 3339 UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        let millis = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Self(millis)
    }

    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn unix_millis(self) -> i64 {
        self.0
    }
}

/// Why a text is not an RFC 3339 date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 3339 date-time such as 2026-11-24T12:00:00Z")]
pub struct ParseTimestampError(String);

impl Timestamp {
    /// Parses an RFC 3339 date-time (`2026-11-24T12:00:00Z`, `…T12:00:00.5+09:00`; `t`,
    /// `z` and a space for `T` accepted, as RFC 3339 allows). Digits past milliseconds
    /// are dropped; a leap second is read as the second before.
    pub fn parse(text: &str) -> Result<Self, ParseTimestampError> {
        parse_rfc3339(text.as_bytes()).ok_or_else(|| ParseTimestampError(text.to_owned()))
    }
}

fn parse_rfc3339(text: &[u8]) -> Option<Timestamp> {
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        digits.iter().all(u8::is_ascii_digit).then_some(())?;
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let punctuation = |at: usize, allowed: &[u8]| text.get(at).is_some_and(|c| allowed.contains(c));
    if !(punctuation(4, b"-")
        && punctuation(7, b"-")
        && punctuation(10, b"Tt ")
        && punctuation(13, b":")
        && punctuation(16, b":"))
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if punctuation(at, b".") {
        let digits = text[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        let kept = digits.min(3);
        millis = number(at + 1..at + 1 + kept)? * 10_i64.pow(3 - kept as u32);
        at += 1 + digits;
    }
    let offset_minutes = match text.get(at..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (number(at + 1..at + 3)?, number(at + 4..at + 6)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 60 + minutes;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second.min(59) - offset_minutes * 60;
    Some(Timestamp(seconds * 1000 + millis))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// [`civil_from_days`]).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1000);
        let millis = self.0.rem_euclid(1000);
        let days = secs.div_euclid(86_400);
        let secs_of_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60,
        )
    }
}

/// Converts days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`, valid for every `i64` day count we can meet).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn what_it_writes_it_reads_back(millis in -62_135_596_800_000_i64..253_402_300_799_999) {
            let at = Timestamp::from_unix_millis(millis);
            prop_assert_eq!(Timestamp::parse(&at.to_string()), Ok(at));
        }
    }

    #[test]
    fn reads_offsets_fractions_and_lowercase() {
        let noon = Timestamp::from_unix_millis(1_795_521_600_000);
        for text in [
            "2026-11-24T12:00:00Z",
            "2026-11-24t12:00:00z",
            "2026-11-24 12:00:00Z",
            "2026-11-24T21:00:00+09:00",
            "2026-11-24T07:30:00-04:30",
            "2026-11-24T12:00:00.000Z",
            "2026-11-24T12:00:00.0009999Z",
        ] {
            assert_eq!(Timestamp::parse(text), Ok(noon), "{text}");
        }
        assert_eq!(
            Timestamp::parse("2026-11-24T12:00:00.5Z"),
            Ok(Timestamp::from_unix_millis(1_795_521_600_500))
        );
    }

    #[test]
    fn refuses_what_is_not_rfc_3339() {
        for text in [
            "",
            "2026-11-24",
            "2026-11-24T12:00:00",
            "2026-11-24T12:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T12:00:00.Z",
            "2026-11-24T12:00:00+0900",
            "2026-11-24T12:00:00+24:00",
            "+2026-11-24T12:00:00Z",
            "2026-11-24T12:00:00Zjunk",
            "１２３４-11-24T12:00:00Z",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
        assert!(Timestamp::parse("2024-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn formats_known_instants() {
        for (millis, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_795_521_600_123, "2026-11-24T12:00:00.123Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(Timestamp::from_unix_millis(millis).to_string(), text);
        }
    }
}
