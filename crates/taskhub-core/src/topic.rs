//! The topic an event is about, e.g. `tasks/42`: what `topics=` filters and private events match.
//!
//! Topics starting with `$` are reserved for TaskHub's own events (presence's
//! `$presence/<selector>`): clients cannot publish there, and only selectors that name a
//! `$` topic explicitly match one (`*` does not), as MQTT treats `$SYS`.

use std::fmt;

/// A topic: 1–256 characters, none of them a control character.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(Box<str>);

/// Why a string is not a [`Topic`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTopicError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters, got {len}", max = Topic::MAX_CHARS)]
    TooLong { len: usize },
    #[error("must not contain control characters, found U+{:04X}", u32::from(*found))]
    ControlChar { found: char },
}

impl Topic {
    /// The longest topic accepted, in characters.
    pub const MAX_CHARS: usize = 256;
    /// No control character (Unicode's Cc: C0, DEL and C1), as a regular expression for
    /// the OpenAPI document; the length is [`Self::MAX_CHARS`].
    pub const PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$";

    /// Parses a topic.
    pub fn parse(value: &str) -> Result<Self, ParseTopicError> {
        check_topic_chars(value)?;
        if value.is_empty() {
            return Err(ParseTopicError::Empty);
        }
        let len = value.chars().count();
        if len > Self::MAX_CHARS {
            return Err(ParseTopicError::TooLong { len });
        }
        Ok(Self(value.into()))
    }

    /// The topic of a task's events: `tasks/{id}`.
    pub fn for_task(id: crate::TaskId) -> Self {
        Self(format!("tasks/{id}").into())
    }

    /// Whether the topic is reserved for TaskHub's own events (it starts with `$`).
    pub fn is_reserved(&self) -> bool {
        is_reserved(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Topic {
    /// What every reserved topic starts with.
    pub const RESERVED_PREFIX: char = '$';
    /// What presence topics start with.
    pub const PRESENCE_PREFIX: &str = "$presence/";
}

/// Whether a topic (or a selector's text) is in the reserved `$` namespace.
pub(crate) fn is_reserved(value: &str) -> bool {
    value.starts_with(Topic::RESERVED_PREFIX)
}

/// Checks for control characters only; shared with topic selectors.
pub(crate) fn check_topic_chars(value: &str) -> Result<(), ParseTopicError> {
    match value.chars().find(|c| c.is_control()) {
        Some(found) => Err(ParseTopicError::ControlChar { found }),
        None => Ok(()),
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_pattern_is_the_alphabet() {
        let pattern = regex::Regex::new(Topic::PATTERN).expect("a valid pattern");
        for value in [
            "tasks/42", "é/ü", "a b", "", "a\nb", "\u{7f}", "\u{85}", "\u{a0}",
        ] {
            let alphabet_ok = !value.is_empty() && check_topic_chars(value).is_ok();
            assert_eq!(pattern.is_match(value), alphabet_ok, "{value:?}");
        }
    }

    #[test]
    fn accepts_paths_and_unicode() {
        for ok in [
            "tasks/42",
            "deploys/eu west/1",
            "日本",
            &"t".repeat(256),
            &"é".repeat(256),
        ] {
            assert!(Topic::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn reserved_topics_start_with_a_dollar() {
        assert!(
            Topic::parse("$presence/tasks/42")
                .expect("topic")
                .is_reserved()
        );
        assert!(!Topic::parse("tasks/$42").expect("topic").is_reserved());
    }

    #[test]
    fn rejects_empty_long_and_control_characters() {
        assert_eq!(Topic::parse(""), Err(ParseTopicError::Empty));
        assert_eq!(
            Topic::parse(&"t".repeat(257)),
            Err(ParseTopicError::TooLong { len: 257 })
        );
        for bad in ["a\nb", "a\rb", "a\u{0}", "a\u{7f}", "a\u{85}"] {
            assert!(
                matches!(Topic::parse(bad), Err(ParseTopicError::ControlChar { .. })),
                "{bad:?}"
            );
        }
    }
}
