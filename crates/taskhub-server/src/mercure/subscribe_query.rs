//! A subscribe request's query, parsed: its topic selectors, in either protocol's
//! spelling, and `lastEventID`.
//!
//! - draft-07 (Mercure 0.x): `topic=` selectors (`*`, a topic, or an RFC 6570 URI
//!   template).
//! - draft-08 (Mercure 1.0, "Subscription"): `match=` and `match_exact=` (exact, byte for
//!   byte), `match_urlpattern=` (a WHATWG URL Pattern, relative ones resolved against the
//!   hub's URL); `*` matches every topic whatever the type. Any other name in the
//!   reserved `match` namespace (`match…`, ASCII case-insensitive) is refused, so a
//!   misspelt matcher fails loudly instead of selecting nothing.
//!
//! All of them may be combined: the stream receives what any one of them matches.

use taskhub_core::mercure::{HubUrl, MatchType, TopicSelector};

use super::form;
use crate::error::ApiError;
use crate::limits::{
    MAX_MERCURE_SELECTORS, MAX_MERCURE_URL_PATTERN_BYTES, MAX_MERCURE_URL_PATTERNS,
};

/// The subscribe query, parsed.
#[derive(Debug)]
pub(super) struct SubscribeQuery {
    pub(super) selectors: Vec<TopicSelector>,
    pub(super) last_event_id: Option<String>,
}

/// The reserved namespace of Mercure 1.0's matcher parameters.
const MATCH: &str = "match";

fn bad(param: &str, detail: String) -> ApiError {
    ApiError::BadParameter {
        param: param.into(),
        detail,
    }
}

impl SubscribeQuery {
    /// Parses `query`. `hub` is the hub's URL as this request reached it, the base of
    /// relative URL patterns; only a `match_urlpattern` needs it to be valid.
    pub(super) fn parse<E: std::fmt::Display>(
        query: &str,
        hub: &Result<HubUrl, E>,
    ) -> Result<Self, ApiError> {
        let pairs = form::pairs(query.as_bytes()).map_err(|bad_pair| {
            let param = bad_pair.name.unwrap_or_else(|| "query".into());
            bad(&param, "is not UTF-8 once percent-decoded".into())
        })?;
        let mut selectors = Vec::new();
        let mut url_patterns = 0;
        let mut last_event_id = None;
        for (name, value) in pairs {
            let selector = if name == "topic" {
                check_count(&name, selectors.len())?;
                TopicSelector::parse(&value)
                    .map_err(|e| bad(&name, format!("selector {value:?}: {e}")))?
            } else if is_reserved(&name) {
                check_count(&name, selectors.len())?;
                let refused =
                    |e: &dyn std::fmt::Display| bad(&name, format!("matcher {value:?}: {e}"));
                match match_type(&name)? {
                    MatchType::Exact => {
                        TopicSelector::match_exact(&value).map_err(|e| refused(&e))?
                    }
                    MatchType::UrlPattern => {
                        url_patterns += 1;
                        check_url_pattern(&name, &value, url_patterns)?;
                        let hub = hub.as_ref().map_err(|e| {
                            bad(
                                &name,
                                format!("no hub URL to resolve patterns against: {e}"),
                            )
                        })?;
                        TopicSelector::match_urlpattern(&value, hub).map_err(|e| refused(&e))?
                    }
                }
            } else {
                if name == "lastEventID" {
                    last_event_id = Some(value);
                }
                continue;
            };
            selectors.push(selector);
        }
        if selectors.is_empty() {
            return Err(bad(
                "topic",
                "give at least one `match`, `match_urlpattern` or `topic` selector \
                 (`*` for every topic)"
                    .into(),
            ));
        }
        Ok(Self {
            selectors,
            last_event_id,
        })
    }
}

/// Whether `name` is in the `match` namespace: `match`, or beginning with it under an
/// ASCII case-insensitive comparison.
fn is_reserved(name: &str) -> bool {
    name.as_bytes()
        .get(..MATCH.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(MATCH.as_bytes()))
}

/// The matcher type a reserved parameter name selects: `match` is `exact`, and
/// `match_<type>` names a type (case-sensitive).
fn match_type(name: &str) -> Result<MatchType, ApiError> {
    if name == MATCH {
        return Ok(MatchType::Exact);
    }
    name.strip_prefix("match_")
        .and_then(|kind| kind.parse().ok())
        .ok_or_else(|| {
            bad(
                name,
                "is in the reserved `match` namespace but names no matcher type this hub \
                 supports (`match`, `match_exact`, `match_urlpattern`)"
                    .into(),
            )
        })
}

fn check_count(name: &str, selectors: usize) -> Result<(), ApiError> {
    if selectors == MAX_MERCURE_SELECTORS {
        return Err(bad(
            name,
            format!(
                "at most {MAX_MERCURE_SELECTORS} topic selectors and matchers per subscription"
            ),
        ));
    }
    Ok(())
}

/// The URL-pattern limits, checked before anything is compiled: `count` is this
/// pattern's place among the request's URL patterns.
fn check_url_pattern(name: &str, value: &str, count: usize) -> Result<(), ApiError> {
    if count > MAX_MERCURE_URL_PATTERNS {
        return Err(bad(
            name,
            format!("at most {MAX_MERCURE_URL_PATTERNS} URL patterns per subscription"),
        ));
    }
    if value.len() > MAX_MERCURE_URL_PATTERN_BYTES {
        return Err(bad(
            name,
            format!(
                "a URL pattern must be at most {MAX_MERCURE_URL_PATTERN_BYTES} bytes, got {}",
                value.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use taskhub_core::mercure::BadHost;

    use super::*;

    fn hub() -> Result<HubUrl, BadHost> {
        HubUrl::new("https", "hub.example")
    }

    fn parse(query: &str) -> Result<SubscribeQuery, ApiError> {
        SubscribeQuery::parse(query, &hub())
    }

    fn refused_param(query: &str) -> String {
        match parse(query) {
            Err(ApiError::BadParameter { param, .. }) => param,
            other => panic!("{query}: expected a bad parameter, got {other:?}"),
        }
    }

    #[test]
    fn every_spelling_of_a_selector_adds_one() {
        let query = parse(
            "topic=https%3A%2F%2Fa%2F%7Bid%7D&match=https%3A%2F%2Fa%2F1&match_exact=b\
             &match_urlpattern=%2Fbooks%2F%3Aid&lastEventID=x&other=1&xmatch=1",
        )
        .expect("valid");
        assert_eq!(query.selectors.len(), 4);
        assert_eq!(query.last_event_id.as_deref(), Some("x"));
        let [template, exact, explicit, pattern] = &query.selectors[..] else {
            panic!("four selectors");
        };
        assert!(template.matches("https://a/2"));
        assert!(exact.matches("https://a/1") && !exact.matches("https://a/2"));
        assert!(explicit.matches("b"));
        assert!(pattern.matches("https://hub.example/books/1"));
        assert!(pattern.matches("/books/1"));
    }

    #[test]
    fn the_match_namespace_is_reserved() {
        for name in [
            "matches",
            "match_",
            "match_template",
            "match_Exact",
            "match_URLPATTERN",
            "Match",
            "MATCH_exact",
            "matchexact",
            "match_exact_",
        ] {
            assert_eq!(refused_param(&format!("{name}=x")), name);
        }
        assert_eq!(refused_param("match=a&MaTcH=b"), "MaTcH");
    }

    #[test]
    fn bad_matchers_name_their_parameter() {
        assert_eq!(refused_param("match="), "match");
        assert_eq!(refused_param("match_exact=a%0Ab"), "match_exact");
        assert_eq!(
            refused_param("match_urlpattern=https%3A%2F%2Fa%2F%3A"),
            "match_urlpattern"
        );
        assert_eq!(refused_param("lastEventID=1"), "topic");
        let no_host: Result<HubUrl, BadHost> = HubUrl::new("https", "a/b");
        match SubscribeQuery::parse("match_urlpattern=%2Fa", &no_host) {
            Err(ApiError::BadParameter { param, .. }) => assert_eq!(param, "match_urlpattern"),
            other => panic!("expected a bad parameter, got {other:?}"),
        }
        // Exact matchers need no hub URL.
        assert!(SubscribeQuery::parse("match=%2Fa", &no_host).is_ok());
    }

    #[test]
    fn limits() {
        let many = |name: &str, n: usize| {
            (0..n)
                .map(|i| format!("{name}=%2F{i}"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert!(parse(&many("match_urlpattern", MAX_MERCURE_URL_PATTERNS)).is_ok());
        assert_eq!(
            refused_param(&many("match_urlpattern", MAX_MERCURE_URL_PATTERNS + 1)),
            "match_urlpattern"
        );
        assert!(parse(&many("match", MAX_MERCURE_SELECTORS)).is_ok());
        assert_eq!(
            refused_param(&many("match", MAX_MERCURE_SELECTORS + 1)),
            "match"
        );
        let mixed = format!("{}&topic=x", many("match", MAX_MERCURE_SELECTORS));
        assert_eq!(refused_param(&mixed), "topic");
        let longest = format!("/{}", "a".repeat(MAX_MERCURE_URL_PATTERN_BYTES - 1));
        assert!(parse(&format!("match_urlpattern={longest}")).is_ok());
        assert_eq!(
            refused_param(&format!("match_urlpattern={longest}a")),
            "match_urlpattern"
        );
        // An exact matcher may be as long as a topic.
        assert!(parse(&format!("match={}", "a".repeat(TopicSelector::MAX_BYTES))).is_ok());
    }
}
