//! The `Idempotency-Key` a client sends with a write so that retrying it is safe.

use std::fmt;

/// A client's name for one write: a retry that carries the same key gets the first
/// attempt's answer instead of a second write.
///
/// The IETF httpapi draft "The Idempotency-Key HTTP Header Field" makes the value a
/// structured-field string (`"8e03978e-…"`, quotes included); most clients send the bare
/// token (as Stripe's API taught them). Both are accepted and name the same key. The
/// header value is at most [`MAX_LEN`](Self::MAX_LEN) printable ASCII characters, quotes
/// included, and names a key of at least one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(Box<str>);

/// Why a header value is not an [`IdempotencyKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseIdempotencyKeyError {
    /// The header value's length (or 0 for an empty quoted key).
    #[error("must be 1 to {max} characters, got {len}", max = IdempotencyKey::MAX_LEN)]
    Length { len: usize },
    #[error("may only contain printable ASCII characters (a UUID is usual)")]
    BadChar,
    #[error("a quoted key must end with '\"' and escape only '\"' and '\\'")]
    BadQuoting,
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    /// Parses a header value: a quoted structured-field string, or a bare token.
    pub fn parse(value: &str) -> Result<Self, ParseIdempotencyKeyError> {
        if value.len() > Self::MAX_LEN {
            return Err(ParseIdempotencyKeyError::Length { len: value.len() });
        }
        let key = match value.strip_prefix('"') {
            Some(quoted) => unquote(quoted)?,
            None => value.to_owned(),
        };
        if key.is_empty() {
            return Err(ParseIdempotencyKeyError::Length { len: 0 });
        }
        // Printable ASCII; a space only inside the quoted form.
        let inner_space = value.starts_with('"');
        if !key
            .bytes()
            .all(|b| b.is_ascii_graphic() || (inner_space && b == b' '))
        {
            return Err(ParseIdempotencyKeyError::BadChar);
        }
        Ok(Self(key.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The body of an sf-string after its opening quote (RFC 8941, section 3.3.3).
fn unquote(quoted: &str) -> Result<String, ParseIdempotencyKeyError> {
    let mut key = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' if chars.as_str().is_empty() => return Ok(key),
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\')) => key.push(escaped),
                _ => return Err(ParseIdempotencyKeyError::BadQuoting),
            },
            '"' => return Err(ParseIdempotencyKeyError::BadQuoting),
            c => key.push(c),
        }
    }
    Err(ParseIdempotencyKeyError::BadQuoting)
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quoted_and_the_bare_form_name_the_same_key() {
        let uuid = "8e03978e-40d5-43e8-bc93-6894a57f9324";
        let bare = IdempotencyKey::parse(uuid).expect("bare");
        let quoted = IdempotencyKey::parse(&format!("\"{uuid}\"")).expect("quoted");
        assert_eq!(bare, quoted);
        assert_eq!(quoted.as_str(), uuid);
        assert_eq!(
            IdempotencyKey::parse(r#""a \"b\" \\ c""#)
                .expect("escaped")
                .as_str(),
            r#"a "b" \ c"#
        );
    }

    #[test]
    fn rejects_what_is_not_a_key() {
        for bad in [
            "",
            "\"\"",
            "a b",
            "caf\u{e9}",
            "tab\there",
            "\"open",
            "\"a\"b\"",
            "\"\\x\"",
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(256)),
            Err(ParseIdempotencyKeyError::Length { len: 256 })
        );
    }
}
