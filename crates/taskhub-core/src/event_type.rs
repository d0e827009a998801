//! The event type: the SSE `event:` field, so its alphabet is what keeps field injection out.

use std::fmt;

/// An event type: 1–64 characters of `[A-Za-z0-9_.:-]`.
///
/// The alphabet has no whitespace and no control characters, so an `EventType` can be
/// written into an `event:` line verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(Box<str>);

/// Why a string is not an [`EventType`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseEventTypeError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters, got {len}", max = EventType::MAX_LEN)]
    TooLong { len: usize },
    #[error("may only contain A-Z, a-z, 0-9, '_', '.', ':' and '-', found {found:?}")]
    BadChar { found: char },
}

impl EventType {
    /// The longest event type accepted, in characters (all ASCII, so also bytes).
    pub const MAX_LEN: usize = 64;
    /// The alphabet and length as a regular expression, for the OpenAPI document.
    pub const PATTERN: &str = "^[A-Za-z0-9_.:-]{1,64}$";

    /// Parses an event type.
    pub fn parse(value: &str) -> Result<Self, ParseEventTypeError> {
        check_event_type_chars(value)?;
        if value.is_empty() {
            return Err(ParseEventTypeError::Empty);
        }
        if value.len() > Self::MAX_LEN {
            return Err(ParseEventTypeError::TooLong { len: value.len() });
        }
        Ok(Self(value.into()))
    }

    /// A type the server itself emits; the caller guarantees it is valid.
    pub(crate) fn server_defined(value: &'static str) -> Self {
        debug_assert!(
            Self::parse(value).is_ok(),
            "{value} is not a valid event type"
        );
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `task_created`, emitted by `POST /tasks`.
    pub fn task_created() -> Self {
        Self::server_defined("task_created")
    }

    /// `task_updated`, emitted by `PATCH /tasks/{id}` and `PUT /tasks/status/{id}`.
    pub fn task_updated() -> Self {
        Self::server_defined("task_updated")
    }

    /// `task_deleted`, emitted by `DELETE /tasks/{id}`.
    pub fn task_deleted() -> Self {
        Self::server_defined("task_deleted")
    }

    /// `message`, SSE's default type: a Mercure update's type when it has none, or one
    /// outside this alphabet.
    pub fn message() -> Self {
        Self::server_defined("message")
    }
}

/// Checks the alphabet only; shared with type selectors, which add a trailing `*`.
pub(crate) fn check_event_type_chars(value: &str) -> Result<(), ParseEventTypeError> {
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
    {
        Some(found) => Err(ParseEventTypeError::BadChar { found }),
        None => Ok(()),
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EventType {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_pattern_is_the_parser() {
        let pattern = regex::Regex::new(EventType::PATTERN).expect("a valid pattern");
        let long = "a".repeat(EventType::MAX_LEN);
        let too_long = "a".repeat(EventType::MAX_LEN + 1);
        for value in [
            "task_updated",
            "deploy.done:v1-2",
            "",
            "a b",
            "é",
            "a\n",
            &long,
            &too_long,
        ] {
            assert_eq!(
                pattern.is_match(value),
                EventType::parse(value).is_ok(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in [
            "task_updated",
            "a",
            "deploy.finished:v2-beta",
            &"x".repeat(64),
        ] {
            assert!(EventType::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_what_could_break_a_frame() {
        assert_eq!(EventType::parse(""), Err(ParseEventTypeError::Empty));
        assert_eq!(
            EventType::parse(&"x".repeat(65)),
            Err(ParseEventTypeError::TooLong { len: 65 })
        );
        for bad in ["a\nb", "a\rb", "a b", "é", "a*", "a\0"] {
            assert!(
                matches!(
                    EventType::parse(bad),
                    Err(ParseEventTypeError::BadChar { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
