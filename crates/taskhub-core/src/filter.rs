//! A subscriber's filter, parsed from the `types` and `topics` query parameters.

use crate::event_type::ParseEventTypeError;
use crate::selector::Selector;
use crate::topic::ParseTopicError;
use crate::{EventType, Topic};

/// Which events a subscriber wants. An absent list lets everything through; a present list
/// lets through what any of its selectors matches. An event without a topic passes only
/// when there is no topic list. An event on a reserved topic (`$presence/…`) passes only a
/// topic selector that starts with `$`: neither an absent list nor `*` lets it through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    types: Option<Vec<Selector>>,
    topics: Option<Vec<Selector>>,
}

/// Why a filter parameter was rejected; names the parameter and the offending item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseFilterError {
    #[error("`{param}` has an empty item; give a comma-separated list such as `a,b*`")]
    EmptyItem { param: &'static str },
    #[error("too many selectors: at most {max} in `types` and `topics` together", max = Filter::MAX_SELECTORS)]
    TooMany { param: &'static str },
    #[error("`types` item {item:?}: {source}")]
    Type {
        item: String,
        source: ParseEventTypeError,
    },
    #[error("`topics` item {item:?}: {source}")]
    Topic {
        item: String,
        source: ParseTopicError,
    },
}

impl ParseFilterError {
    /// The query parameter at fault.
    pub fn param(&self) -> &'static str {
        match self {
            Self::EmptyItem { param } | Self::TooMany { param } => param,
            Self::Type { .. } => "types",
            Self::Topic { .. } => "topics",
        }
    }
}

impl Filter {
    /// Most selectors one subscription may give, `types` and `topics` together.
    pub const MAX_SELECTORS: usize = 100;

    /// Parses the raw `types` and `topics` parameters (comma-separated lists).
    pub fn parse(types: Option<&str>, topics: Option<&str>) -> Result<Self, ParseFilterError> {
        let count = |list: Option<&str>| list.map_or(0, |l| l.split(',').count());
        if count(types) > Self::MAX_SELECTORS {
            return Err(ParseFilterError::TooMany { param: "types" });
        }
        if count(types) + count(topics) > Self::MAX_SELECTORS {
            return Err(ParseFilterError::TooMany { param: "topics" });
        }
        let types = types
            .map(|list| parse_list(list, "types", parse_type_item))
            .transpose()?;
        let topics = topics
            .map(|list| parse_list(list, "topics", parse_topic_item))
            .transpose()?;
        Ok(Self { types, topics })
    }

    /// The `topics` selectors, if a topic list was given.
    pub fn topics(&self) -> Option<&[Selector]> {
        self.topics.as_deref()
    }

    /// Whether an event of this type and topic passes.
    pub fn matches(&self, event_type: &EventType, topic: Option<&Topic>) -> bool {
        let type_ok = self
            .types
            .as_ref()
            .is_none_or(|types| types.iter().any(|s| s.matches(event_type.as_str())));
        let topic_ok = match (&self.topics, topic) {
            (None, None) => true,
            (Some(_), None) => false,
            (None, Some(topic)) => !topic.is_reserved(),
            (Some(topics), Some(topic)) if topic.is_reserved() => topics
                .iter()
                .any(|s| s.names_reserved() && s.matches(topic.as_str())),
            (Some(topics), Some(topic)) => topics.iter().any(|s| s.matches(topic.as_str())),
        };
        type_ok && topic_ok
    }
}

fn parse_list(
    list: &str,
    param: &'static str,
    parse_item: fn(&str) -> Result<Selector, ParseFilterError>,
) -> Result<Vec<Selector>, ParseFilterError> {
    list.split(',')
        .map(|item| {
            if item.is_empty() {
                Err(ParseFilterError::EmptyItem { param })
            } else {
                parse_item(item)
            }
        })
        .collect()
}

fn parse_type_item(item: &str) -> Result<Selector, ParseFilterError> {
    Selector::event_type(item).map_err(|source| ParseFilterError::Type {
        item: item.to_owned(),
        source,
    })
}

fn parse_topic_item(item: &str) -> Result<Selector, ParseFilterError> {
    Selector::topic(item).map_err(|source| ParseFilterError::Topic {
        item: item.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> EventType {
        EventType::parse(s).expect("valid type")
    }
    fn topic(s: &str) -> Topic {
        Topic::parse(s).expect("valid topic")
    }

    #[test]
    fn no_lists_let_everything_through() {
        let filter = Filter::parse(None, None).expect("empty filter");
        assert!(filter.matches(&ty("a"), None));
        assert!(filter.matches(&ty("a"), Some(&topic("x"))));
    }

    #[test]
    fn types_match_exactly_or_by_prefix() {
        let filter = Filter::parse(Some("task_updated,deploy.*"), None).expect("filter");
        assert!(filter.matches(&ty("task_updated"), None));
        assert!(!filter.matches(&ty("task_updated2"), None));
        assert!(filter.matches(&ty("deploy.done"), None));
        assert!(!filter.matches(&ty("deploy"), None));
    }

    #[test]
    fn topic_list_excludes_events_without_topic() {
        let filter = Filter::parse(None, Some("tasks/42,deploys/*")).expect("filter");
        assert!(filter.matches(&ty("a"), Some(&topic("tasks/42"))));
        assert!(!filter.matches(&ty("a"), Some(&topic("tasks/420"))));
        assert!(filter.matches(&ty("a"), Some(&topic("deploys/eu/1"))));
        assert!(!filter.matches(&ty("a"), None));
        let everything = Filter::parse(None, Some("*")).expect("filter");
        assert!(everything.matches(&ty("a"), Some(&topic("x"))));
        assert!(!everything.matches(&ty("a"), None));
    }

    #[test]
    fn reserved_topics_pass_only_selectors_that_name_them() {
        let presence = topic("$presence/tasks/42");
        for (topics, passes) in [
            (None, false),
            (Some("*"), false),
            (Some("tasks/*"), false),
            (Some("$presence/tasks/42"), true),
            (Some("$presence/*"), true),
            (Some("$*"), true),
            (Some("*,$presence/tasks/4*"), true),
            (Some("$presence/tasks/43"), false),
        ] {
            let filter = Filter::parse(None, topics).expect("filter");
            assert_eq!(
                filter.matches(&ty("presence.join"), Some(&presence)),
                passes,
                "{topics:?}"
            );
        }
    }

    #[test]
    fn malformed_lists_name_the_parameter() {
        for (types, topics, param) in [
            (Some(""), None, "types"),
            (Some("a,,b"), None, "types"),
            (Some("a b"), None, "types"),
            (Some("a\nb"), None, "types"),
            (Some("a*b"), None, "types"),
            (None, Some(""), "topics"),
            (None, Some("x,"), "topics"),
            (None, Some("a\rb*"), "topics"),
            (Some(&["a"; 101].join(",")), None, "types"),
            (
                Some(&["a"; 50].join(",")),
                Some(&["t"; 51].join(",")),
                "topics",
            ),
            (Some(&["a"; 101].join(",")), None, "types"),
            (
                Some(&["a"; 50].join(",")),
                Some(&["t"; 51].join(",")),
                "topics",
            ),
        ] {
            let err = Filter::parse(types, topics).expect_err("malformed");
            assert_eq!(err.param(), param, "{types:?} {topics:?}");
        }
    }
}
