//! Mercure 1.0's `urlpattern` matcher type (draft-dunglas-mercure-08, "URL Pattern"): a
//! WHATWG URL Pattern, relative ones resolved against the hub's URL, compiled once to
//! `regex` (linear-time matching, so a crafted pattern cannot backtrack catastrophically)
//! and matched against each topic parsed as a URL reference against the same base.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use thiserror::Error;
use url::Url;
use urlpattern::regexp::RegExp;
use urlpattern::{
    RegexSyntax, UrlPattern, UrlPatternInit, UrlPatternMatchInput, UrlPatternOptions,
};

/// The most each of a pattern's regexes may take compiled. `regex`'s own default, 10 MiB,
/// lets a 30-byte pattern such as `/:id((?:\w{100}){10})` cost a quarter of a second of
/// CPU before it fails (measured, release build); at this bound it fails within a few
/// milliseconds, while named groups, wildcards and regexp groups such as `(\d+)` or
/// `(\w+)` compile far below it.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// The most each regex's lazy DFA may cache while matching (default 2 MiB): a
/// subscription holds up to eight regexes per pattern for as long as it lasts.
const DFA_SIZE_LIMIT: usize = 64 * 1024;

/// The hub's own URL (`{scheme}://{host}/.well-known/mercure`): the base of relative URL
/// patterns and of relative topics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubUrl(Url);

/// The scheme and host do not make a URL.
#[derive(Debug, Error)]
#[error("`{0}` is not a host a hub URL can be made of")]
pub struct BadHost(String);

impl HubUrl {
    /// The hub's URL for a request that reached it over `scheme` (`http`, `https`) at
    /// `host` (the `Host` header or the HTTP/2 authority, with its port if any).
    pub fn new(scheme: &str, host: &str) -> Result<Self, BadHost> {
        // A host with a path, query or credentials in it would make another URL than the
        // hub's: only the authority is taken.
        if host.is_empty() || host.contains(['/', '?', '#', '@', '\\']) {
            return Err(BadHost(host.into()));
        }
        Url::parse(&format!("{scheme}://{host}/.well-known/mercure"))
            .map(Self)
            .map_err(|_| BadHost(host.into()))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A pattern the URL Pattern standard (or `regex`, for its regexp groups) refuses.
#[derive(Debug, Error)]
#[error("is not a valid URL pattern: {0}")]
pub struct BadUrlPattern(String);

/// A compiled URL pattern and the base its topics are resolved against.
pub(super) struct UrlPatternMatcher {
    pattern: UrlPattern<BoundedRegex>,
    base: Url,
}

/// `regex` (linear-time matching) with bounds on what one compiled pattern may cost.
#[derive(Debug)]
struct BoundedRegex(regex::Regex);

impl RegExp for BoundedRegex {
    fn syntax() -> RegexSyntax {
        RegexSyntax::Rust
    }

    /// The flags are the ECMAScript ones (`u`, and `i` with `ignoreCase`, which the hub
    /// never sets): Rust's syntax is Unicode-aware already.
    fn parse(pattern: &str, _flags: &str, _force_eval: bool) -> Result<Self, ()> {
        regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(DFA_SIZE_LIMIT)
            .build()
            .map(Self)
            .map_err(|_| ())
    }

    fn matches<'a>(&self, text: &'a str) -> Option<Vec<Option<&'a str>>> {
        let captures = self.0.captures(text)?;
        Some(
            captures
                .iter()
                .skip(1)
                .map(|group| group.map(|m| m.as_str()))
                .collect(),
        )
    }

    fn pattern_string(&self) -> &str {
        self.0.as_str()
    }
}

impl UrlPatternMatcher {
    /// Compiles `pattern`, relative to `base` when it has no scheme. The standard's
    /// `ignoreCase` stays off, as the draft requires.
    pub(super) fn compile(pattern: &str, base: &HubUrl) -> Result<Self, BadUrlPattern> {
        let bad = |e: urlpattern::Error| {
            BadUrlPattern(match e {
                urlpattern::Error::RegExp(()) => {
                    "a regexp group is not a valid regex, or compiles too large".into()
                }
                other => other.to_string(),
            })
        };
        let parse = || {
            let init = UrlPatternInit::parse_constructor_string::<BoundedRegex>(
                pattern,
                Some(base.0.clone()),
            )?;
            UrlPattern::parse(init, UrlPatternOptions::default())
        };
        // The crate's parser can panic on a malformed pattern (an unmatched `]` in the
        // host underflows a counter: found by fuzzing, `urlpattern` 0.6.0); such a
        // pattern is refused like any other, never a panic on a client's input.
        let pattern = panic::catch_unwind(parse)
            .map_err(|_| BadUrlPattern("the URL Pattern parser fails on it".into()))?
            .map_err(bad)?;
        Ok(Self {
            pattern,
            base: base.0.clone(),
        })
    }

    /// Whether `topic`, parsed as a URL reference against the hub's URL, matches. A topic
    /// that does not parse matches no pattern, nor does one the crate fails on (as it may
    /// fail on patterns: see `compile`).
    pub(super) fn matches(&self, topic: &str) -> bool {
        let Ok(url) = Url::options().base_url(Some(&self.base)).parse(topic) else {
            return false;
        };
        // Free unless it unwinds; the pattern is only read, so nothing is left half-done.
        panic::catch_unwind(AssertUnwindSafe(|| {
            self.pattern.test(UrlPatternMatchInput::Url(url))
        }))
        .is_ok_and(|matched| matched.unwrap_or(false))
    }
}

impl fmt::Debug for UrlPatternMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlPatternMatcher")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> HubUrl {
        HubUrl::new("https", "hub.example:8443").expect("valid host")
    }

    fn pattern(raw: &str) -> UrlPatternMatcher {
        UrlPatternMatcher::compile(raw, &hub()).expect("valid pattern")
    }

    #[test]
    fn the_hub_url_is_made_of_scheme_and_host_only() {
        assert_eq!(
            hub().as_str(),
            "https://hub.example:8443/.well-known/mercure"
        );
        assert_eq!(
            HubUrl::new("http", "[::1]:80").expect("valid").as_str(),
            "http://[::1]/.well-known/mercure"
        );
        for bad in ["", "a/b", "a?b", "a#b", "user@a", "a b", "a\\b"] {
            assert!(HubUrl::new("https", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn absolute_patterns_named_groups_and_wildcards() {
        let books = pattern("https://example.com/books/:id");
        assert!(books.matches("https://example.com/books/1"));
        assert!(
            books.matches("https://EXAMPLE.com/books/1"),
            "hosts are case-insensitive"
        );
        assert!(
            !books.matches("https://example.com/Books/1"),
            "paths are not"
        );
        assert!(!books.matches("https://example.com/books/1/reviews"));
        assert!(!books.matches("https://example.com/books/"));
        assert!(!books.matches("http://example.com/books/1"));
        let every = pattern("https://example.com/books/*");
        assert!(every.matches("https://example.com/books/1/reviews/2"));
        assert!(every.matches("https://example.com/books/"));
        assert!(!every.matches("https://example.com/authors/1"));
        let words = pattern("/:a(\\w+)/:b(\\w+)/:c(\\w+)/:d(\\d+)");
        assert!(words.matches("/a_1/b/c/4"));
        // A path is matched as a URL holds it, percent-encoded.
        assert!(!words.matches("/é/b/c/4"));
        assert!(pattern("/:a").matches("/é"));
        assert!(!words.matches("/a/b/c/d"));
        let digits = pattern("https://example.com/books/:id(\\d+)");
        assert!(digits.matches("https://example.com/books/42"));
        assert!(!digits.matches("https://example.com/books/abc"));
        let optional = pattern("https://example.com/books/:id?");
        assert!(optional.matches("https://example.com/books"));
        assert!(optional.matches("https://example.com/books/1"));
        let any_host = pattern("https://*.example.com/*");
        assert!(any_host.matches("https://a.example.com/x"));
        assert!(!any_host.matches("https://example.org/x"));
    }

    #[test]
    fn relative_patterns_and_topics_resolve_against_the_hub() {
        let relative = pattern("/books/:id");
        assert!(relative.matches("https://hub.example:8443/books/1"));
        assert!(relative.matches("/books/1"), "a relative topic too");
        assert!(
            !relative.matches("https://example.com/books/1"),
            "another host"
        );
        let subscriptions = pattern("/.well-known/mercure/subscriptions/exact/:topic/:subscriber");
        assert!(subscriptions.matches("/.well-known/mercure/subscriptions/exact/a/b"));
        // An absolute pattern still matches a relative topic resolved to its host.
        let absolute = pattern("https://hub.example:8443/books/:id");
        assert!(absolute.matches("/books/7"));
    }

    #[test]
    fn topics_that_are_no_url_match_nothing() {
        let everything = pattern("*://*/*");
        assert!(everything.matches("https://example.com/a"));
        assert!(!everything.matches("http://[oops/"));
        assert!(!pattern("https://example.com/:id").matches("https://exa mple.com/1"));
    }

    #[test]
    fn refuses_what_is_no_pattern() {
        for bad in [
            // Panicked in the crate's parser (found by fuzzing).
            "https://example.com]/",
            "topihttps://example.compih]a%0.*omaA",
            "https://example.com/books/:",
            "https://example.com/books/(",
            "https://example.com/books/:id(a{1000}{1000}{1000})",
            "/books/:id((?:\\w{100}){10})",
            "/books/:id((?:a{1000}){1000})",
        ] {
            assert!(UrlPatternMatcher::compile(bad, &hub()).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        /// Whatever a client sends, compiling it and matching any topic never panics.
        #[test]
        fn any_pattern_compiles_or_is_refused_and_any_topic_matches_or_not(
            pattern in "(https?://|/|)[a-z0-9:/*(){}?+.\\\\%@#&=\\[\\]^$|-]{0,40}",
            topic in "(https?://|/|)[a-z0-9:/*?.%@#&=\\[\\]-]{0,40}",
        ) {
            if let Ok(compiled) = UrlPatternMatcher::compile(&pattern, &hub()) {
                let _ = compiled.matches(&topic);
            }
        }
    }
}
