//! Topic selectors: what a subscriber asks for (`topic=`) and what a token's `mercure`
//! claim grants (`publish`, `subscribe`); also what an auth hook's answer grants, which
//! names topics and prefixes rather than URI templates ([`TopicSelector::exact`],
//! [`TopicSelector::prefix`]).

use super::text::{ParseTextError, check_line};
use super::uri_template::UriTemplate;

/// A topic selector (draft-07, "Topic Selectors"): `*` matches every topic; any other
/// selector matches the topic equal to it, and, when it is a valid URI template, every
/// topic the template matches.
#[derive(Clone, Debug)]
pub struct TopicSelector {
    raw: Box<str>,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Any,
    Exact,
    /// Every topic starting with the selector as written less its final `*`.
    Prefix,
    Template(UriTemplate),
}

impl TopicSelector {
    /// The longest selector accepted, in bytes.
    pub const MAX_BYTES: usize = 4096;

    /// Parses a selector, compiling it once if it is a URI template.
    pub fn parse(value: &str) -> Result<Self, ParseTextError> {
        check_line(value, Self::MAX_BYTES)?;
        let kind = if value == "*" {
            Kind::Any
        } else {
            UriTemplate::compile(value).map_or(Kind::Exact, Kind::Template)
        };
        Ok(Self {
            raw: value.into(),
            kind,
        })
    }

    /// The selector matching `topic` and nothing else, even when it reads as a URI
    /// template.
    pub fn exact(topic: &str) -> Result<Self, ParseTextError> {
        check_line(topic, Self::MAX_BYTES)?;
        Ok(Self {
            raw: topic.into(),
            kind: Kind::Exact,
        })
    }

    /// The selector matching every topic that starts with `prefix` (every topic when it
    /// is empty); written `{prefix}*`.
    pub fn prefix(prefix: &str) -> Result<Self, ParseTextError> {
        if prefix.is_empty() {
            return Self::parse("*");
        }
        let raw = format!("{prefix}*");
        check_line(&raw, Self::MAX_BYTES)?;
        Ok(Self {
            raw: raw.into(),
            kind: Kind::Prefix,
        })
    }

    /// The selector as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether `topic` is selected. A reserved topic (`$presence/…`) is selected only by a
    /// selector written with the same `$` start: never by `*` or a template that happens
    /// to match it.
    pub fn matches(&self, topic: &str) -> bool {
        if topic.starts_with(crate::Topic::RESERVED_PREFIX)
            && !self.raw.starts_with(crate::Topic::RESERVED_PREFIX)
        {
            return false;
        }
        match &self.kind {
            Kind::Any => true,
            Kind::Exact => topic == &*self.raw,
            Kind::Prefix => self
                .raw
                .strip_suffix('*')
                .is_some_and(|prefix| topic.starts_with(prefix)),
            Kind::Template(template) => topic == &*self.raw || template.matches(topic),
        }
    }

    /// Whether any of `topics` matches.
    pub fn matches_any<'a>(&self, topics: impl IntoIterator<Item = &'a str>) -> bool {
        topics.into_iter().any(|topic| self.matches(topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(raw: &str) -> TopicSelector {
        TopicSelector::parse(raw).expect("valid selector")
    }

    #[test]
    fn star_exact_and_template() {
        assert!(selector("*").matches("anything at all"));
        assert!(!selector("*").matches("$presence/tasks/42"));
        assert!(!selector("{+any}").matches("$presence/tasks/42"));
        assert!(selector("$presence/{+any}").matches("$presence/tasks/42"));
        assert!(selector("https://example.com/a").matches("https://example.com/a"));
        assert!(!selector("https://example.com/a").matches("https://example.com/b"));
        let template = selector("https://example.com/books/{id}");
        assert!(template.matches("https://example.com/books/1"));
        // A template also matches itself, so a grant can name a template exactly.
        assert!(template.matches("https://example.com/books/{id}"));
        assert!(!template.matches("https://example.com/authors/1"));
        // Not a valid template: only itself.
        assert!(selector("https://example.com/{oops").matches("https://example.com/{oops"));
        assert!(!selector("https://example.com/{oops").matches("https://example.com/x"));
        assert!(selector("a").matches_any(["b", "a"]));
        assert!(!selector("a").matches_any([]));
    }

    #[test]
    fn exact_and_prefix_selectors_never_read_templates() {
        let exact = TopicSelector::exact("https://example.com/books/{id}").expect("valid");
        assert!(exact.matches("https://example.com/books/{id}"));
        assert!(!exact.matches("https://example.com/books/1"));
        let prefix = TopicSelector::prefix("https://example.com/books/").expect("valid");
        assert_eq!(prefix.as_str(), "https://example.com/books/*");
        assert!(prefix.matches("https://example.com/books/1"));
        assert!(prefix.matches("https://example.com/books/"));
        assert!(!prefix.matches("https://example.com/authors/1"));
        let every = TopicSelector::prefix("").expect("valid");
        assert!(every.matches("anything"));
        assert!(TopicSelector::exact("a\nb").is_err());
        assert!(TopicSelector::prefix("a\nb").is_err());
    }

    #[test]
    fn refuses_what_could_break_a_line() {
        assert!(TopicSelector::parse("a\nb").is_err());
        assert!(TopicSelector::parse("").is_err());
        assert!(TopicSelector::parse(&"x".repeat(4097)).is_err());
    }
}
