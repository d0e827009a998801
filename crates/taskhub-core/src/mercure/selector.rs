//! Topic selectors: what a subscriber asks for (draft-07's `topic=`, Mercure 1.0's
//! `match=` / `match_<type>=`) and what a token's `mercure` claim grants (`publish`,
//! `subscribe`); also what an auth hook's answer grants, which names topics and prefixes
//! rather than URI templates ([`TopicSelector::exact`], [`TopicSelector::prefix`]).
//!
//! One type for all of them, so a stream's routing and its private-update grants match
//! the same way; each kind costs what it is: a string compare for `*`, exact and prefix
//! selectors, a URI template's or URL pattern's regex only where one was given.

use std::str::FromStr;
use std::sync::Arc;

use thiserror::Error;

use super::text::{ParseTextError, check_line, check_visible_line};
use super::uri_template::UriTemplate;
use super::url_pattern::{BadUrlPattern, HubUrl, UrlPatternMatcher};

/// A topic selector. Draft-07's ("Topic Selectors", [`TopicSelector::parse`]): `*`
/// matches every topic; any other selector matches the topic equal to it, and, when it
/// is a valid URI template, every topic the template matches. Mercure 1.0's topic
/// matchers: `*` matches every topic whatever the type;
/// `exact` matches the topic equal to it byte for byte; `urlpattern` every topic its
/// WHATWG URL Pattern matches ([`TopicSelector::match_exact`],
/// [`TopicSelector::match_urlpattern`]).
#[derive(Clone, Debug)]
pub struct TopicSelector {
    raw: Box<str>,
    kind: Kind,
}

/// A Mercure 1.0 topic matcher type (draft-08, "Matcher Types"): the `<type>` of a
/// `match_<type>` subscribe parameter and the `match_type` of an authorization detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    /// Byte-for-byte comparison; the default (`match`, no `match_type`).
    Exact,
    /// A WHATWG URL Pattern.
    UrlPattern,
}

impl MatchType {
    /// Every type this hub supports, as named on the wire.
    pub const ALL: [Self; 2] = [Self::Exact, Self::UrlPattern];

    /// The type's registered name (case-sensitive).
    pub fn name(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::UrlPattern => "urlpattern",
        }
    }
}

/// A matcher type this hub does not support.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("`{0}` is not a matcher type this hub supports (`exact`, `urlpattern`)")]
pub struct UnknownMatchType(pub String);

impl FromStr for MatchType {
    type Err = UnknownMatchType;

    /// Case-sensitive, as the draft says.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownMatchType(name.into()))
    }
}

/// Why a Mercure 1.0 topic matcher is refused.
#[derive(Debug, Error)]
pub enum BadMatcher {
    #[error(transparent)]
    Text(#[from] ParseTextError),
    #[error(transparent)]
    UrlPattern(#[from] BadUrlPattern),
}

#[derive(Clone, Debug)]
enum Kind {
    Any,
    Exact,
    /// Every topic starting with the selector as written less its final `*`.
    Prefix,
    Template(UriTemplate),
    /// Shared: the compiled pattern is not `Clone`, and a clone of the selector (a grant
    /// copied into a stream's view) needs no second compilation.
    UrlPattern(Arc<UrlPatternMatcher>),
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

    /// A Mercure 1.0 `exact` topic matcher: the topic equal to `value` byte for byte,
    /// never resolved nor read as a template; `*` matches every topic.
    pub fn match_exact(value: &str) -> Result<Self, ParseTextError> {
        check_visible_line(value, Self::MAX_BYTES)?;
        let kind = if value == "*" { Kind::Any } else { Kind::Exact };
        Ok(Self {
            raw: value.into(),
            kind,
        })
    }

    /// A Mercure 1.0 `urlpattern` topic matcher, compiled once, a relative pattern
    /// resolved against `hub`; `*` matches every topic.
    pub fn match_urlpattern(value: &str, hub: &HubUrl) -> Result<Self, BadMatcher> {
        check_visible_line(value, Self::MAX_BYTES)?;
        let kind = if value == "*" {
            Kind::Any
        } else {
            Kind::UrlPattern(Arc::new(UrlPatternMatcher::compile(value, hub)?))
        };
        Ok(Self {
            raw: value.into(),
            kind,
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
            Kind::UrlPattern(pattern) => pattern.matches(topic),
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

    fn hub() -> HubUrl {
        HubUrl::new("https", "hub.example").expect("valid host")
    }

    fn matcher(kind: MatchType, raw: &str) -> TopicSelector {
        match kind {
            MatchType::Exact => TopicSelector::match_exact(raw).expect("valid matcher"),
            MatchType::UrlPattern => {
                TopicSelector::match_urlpattern(raw, &hub()).expect("valid matcher")
            }
        }
    }

    #[test]
    fn match_types_by_their_case_sensitive_names() {
        assert_eq!("exact".parse(), Ok(MatchType::Exact));
        assert_eq!("urlpattern".parse(), Ok(MatchType::UrlPattern));
        for bad in ["", "Exact", "URLPATTERN", "url_pattern", "template", "*"] {
            assert_eq!(
                bad.parse::<MatchType>(),
                Err(UnknownMatchType(bad.into())),
                "{bad:?}"
            );
        }
        for kind in MatchType::ALL {
            assert_eq!(kind.name().parse(), Ok(kind));
        }
    }

    #[test]
    fn exact_matchers_never_read_templates_or_resolve() {
        let exact = matcher(MatchType::Exact, "https://example.com/books/{id}");
        assert!(exact.matches("https://example.com/books/{id}"));
        assert!(!exact.matches("https://example.com/books/1"));
        let relative = matcher(MatchType::Exact, "/books/1");
        assert!(relative.matches("/books/1"));
        assert!(!relative.matches("https://hub.example/books/1"));
        assert!(!matcher(MatchType::Exact, "a").matches("A"));
        assert!(!matcher(MatchType::Exact, "books/*").matches("books/1"));
    }

    #[test]
    fn a_star_matches_everything_whatever_the_type() {
        for kind in MatchType::ALL {
            let every = matcher(kind, "*");
            assert_eq!(every.as_str(), "*");
            assert!(every.matches("https://example.com/a"));
            assert!(every.matches("not a url"));
        }
    }

    #[test]
    fn url_pattern_matchers_match_urls() {
        let books = matcher(MatchType::UrlPattern, "https://example.com/books/:id");
        assert_eq!(books.as_str(), "https://example.com/books/:id");
        assert!(books.matches("https://example.com/books/1"));
        assert!(!books.matches("https://example.com/books/1/x"));
        assert!(books.matches_any(["urn:x", "https://example.com/books/2"]));
        let shared = books.clone();
        assert!(shared.matches("https://example.com/books/3"));
        assert!(matcher(MatchType::UrlPattern, "/books/:id").matches("/books/1"));
    }

    #[test]
    fn refuses_bad_matchers() {
        for value in ["", "a\u{85}b", "a\u{200B}b", &"x".repeat(4097)] {
            assert!(TopicSelector::match_exact(value).is_err(), "{value:?}");
            assert!(matches!(
                TopicSelector::match_urlpattern(value, &hub()),
                Err(BadMatcher::Text(_))
            ));
        }
        assert!(matches!(
            TopicSelector::match_urlpattern("https://example.com/:", &hub()),
            Err(BadMatcher::UrlPattern(_))
        ));
    }

    proptest::proptest! {
        /// An exact matcher matches a topic if and only if the two strings are equal.
        #[test]
        fn exact_matching_is_string_equality(
            value in "[^\\p{Cc}\\p{Cf}]{1,40}",
            topic in "[^\\p{Cc}\\p{Cf}]{1,40}",
        ) {
            let exact = matcher(MatchType::Exact, &value);
            proptest::prop_assert_eq!(exact.matches(&topic), value == "*" || topic == value);
            proptest::prop_assert!(exact.matches(&value));
        }
    }

    #[test]
    fn refuses_what_could_break_a_line() {
        assert!(TopicSelector::parse("a\nb").is_err());
        assert!(TopicSelector::parse("").is_err());
        assert!(TopicSelector::parse(&"x".repeat(4097)).is_err());
    }
}
