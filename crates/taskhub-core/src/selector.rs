//! Selectors: an exact name, or a prefix when written with a trailing `*`.

use crate::event_type::{ParseEventTypeError, check_event_type_chars};
use crate::topic::{ParseTopicError, check_topic_chars};
use crate::{EventType, Topic};

/// Matches a type or topic exactly, or by prefix when written with a trailing `*`
/// (`deploys/*`, `task_*`, or `*` for everything).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Exact(Box<str>),
    Prefix(Box<str>),
}

impl std::fmt::Display for Selector {
    /// The selector as written: `tasks/42`, or `tasks/*` for a prefix.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(exact) => f.write_str(exact),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

impl Selector {
    /// Parses a topic selector: a topic, or a topic prefix followed by `*` (`*` alone
    /// selects every topic).
    pub fn topic(item: &str) -> Result<Self, ParseTopicError> {
        match item.strip_suffix('*') {
            Some(prefix) => check_topic_chars(prefix).map(|()| Self::Prefix(prefix.into())),
            None => Topic::parse(item).map(|_| Self::Exact(item.into())),
        }
    }

    /// Parses an event-type selector: a type, or a type prefix followed by `*`.
    pub fn event_type(item: &str) -> Result<Self, ParseEventTypeError> {
        match item.strip_suffix('*') {
            Some(prefix) => check_event_type_chars(prefix).map(|()| Self::Prefix(prefix.into())),
            None => EventType::parse(item).map(|_| Self::Exact(item.into())),
        }
    }

    /// Whether everything `other` selects is selected by `self` too.
    pub fn covers(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Exact(mine), Self::Exact(theirs)) => mine == theirs,
            (Self::Exact(_), Self::Prefix(_)) => false,
            (Self::Prefix(mine), Self::Exact(theirs) | Self::Prefix(theirs)) => {
                theirs.starts_with(&**mine)
            }
        }
    }

    /// Whether this topic selector names the reserved `$` namespace explicitly (its text
    /// starts with `$`): only such selectors match reserved topics in a [`crate::Filter`].
    pub fn names_reserved(&self) -> bool {
        match self {
            Self::Exact(text) | Self::Prefix(text) => crate::topic::is_reserved(text),
        }
    }

    /// The topic of presence changes on this topic selector: `$presence/<selector>`;
    /// `None` when that would be longer than [`Topic::MAX_CHARS`].
    pub fn presence_topic(&self) -> Option<Topic> {
        Topic::parse(&format!("{}{self}", Topic::PRESENCE_PREFIX)).ok()
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(exact) => value == &**exact,
            Self::Prefix(prefix) => value.starts_with(&**prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(item: &str) -> Selector {
        Selector::topic(item).expect("valid selector")
    }

    #[test]
    fn coverage_of_exact_and_prefix_selectors() {
        assert!(topic("tasks/42").covers(&topic("tasks/42")));
        assert!(!topic("tasks/42").covers(&topic("tasks/4")));
        assert!(!topic("tasks/42").covers(&topic("tasks/*")));
        assert!(topic("tasks/*").covers(&topic("tasks/42")));
        assert!(topic("tasks/*").covers(&topic("tasks/4*")));
        assert!(!topic("tasks/4*").covers(&topic("tasks/*")));
        assert!(topic("*").covers(&topic("anything/*")));
        assert!(!topic("deploys/*").covers(&topic("tasks/1")));
    }

    #[test]
    fn presence_topics_fit_or_are_none() {
        assert_eq!(
            topic("deploys/*").presence_topic().expect("fits").as_str(),
            "$presence/deploys/*"
        );
        assert!(topic(&"t".repeat(247)).presence_topic().is_none());
        assert!(topic("$presence/*").names_reserved());
        assert!(!topic("*").names_reserved());
    }

    #[test]
    fn parses_with_the_alphabet_of_what_it_selects() {
        assert!(Selector::event_type("task_*").is_ok());
        assert!(Selector::event_type("a b").is_err());
        assert!(Selector::event_type("").is_err());
        assert!(Selector::topic("*").is_ok());
        assert!(Selector::topic("a/b*").is_ok());
        assert!(Selector::topic("a\n*").is_err());
        assert!(Selector::topic("").is_err());
    }
}
