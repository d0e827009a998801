//! Ages as people write them in flags: `7d`, `12h`, `90m`, `1d12h`, `30s`.

use std::time::Duration;

/// Why a text is not an age.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{0:?} is not an age: write whole numbers with units d, h, m or s, largest first \
     (e.g. 7d, 12h, 1d12h, 90s)"
)]
pub struct ParseAgeError(String);

/// Parses `<n><unit>` parts (units `d`, `h`, `m`, `s`, each at most once, largest
/// first) into their sum. Zero parts are allowed, but not a zero total.
pub fn parse_age(text: &str) -> Result<Duration, ParseAgeError> {
    let error = || ParseAgeError(text.to_owned());
    let mut rest = text.trim();
    let mut total: u64 = 0;
    let mut smallest_so_far = u64::MAX;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(error)?;
        let number: u64 = rest[..digits].parse().map_err(|_| error())?;
        let mut units = rest[digits..].chars();
        let seconds = match units.next() {
            Some('d') => 86_400,
            Some('h') => 3_600,
            Some('m') => 60,
            Some('s') => 1,
            _ => return Err(error()),
        };
        if seconds >= smallest_so_far {
            return Err(error());
        }
        smallest_so_far = seconds;
        total = number
            .checked_mul(seconds)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(error)?;
        rest = units.as_str();
    }
    if total == 0 {
        return Err(error());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_in_every_unit_and_their_sums() {
        for (text, secs) in [
            ("7d", 7 * 86_400),
            ("12h", 12 * 3_600),
            ("90m", 5_400),
            ("30s", 30),
            ("1d12h", 86_400 + 12 * 3_600),
            ("1h0m5s", 3_605),
        ] {
            assert_eq!(parse_age(text), Ok(Duration::from_secs(secs)), "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_text() {
        for text in [
            "",
            "7",
            "d",
            "7w",
            "-1d",
            "1.5h",
            "12h1d",
            "1h1h",
            "0s",
            "7 d",
            "99999999999999999999d",
        ] {
            let error = parse_age(text).expect_err(text);
            assert!(error.to_string().contains(&format!("{text:?}")), "{error}");
        }
    }
}
