//! Mercure's tokens: where the JWT travels and what its `mercure` claim grants. Tokens
//! are never logged (the server logs no URIs or headers at all).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, Uri};
use serde::Deserialize;
use taskhub_core::Selector;
use taskhub_core::mercure::TopicSelector;

use crate::auth::token::{bearer, cookie, query};
use crate::auth::{TaskhubGrants, TokenError, Verifier};

/// The cookie Mercure clients send their token in.
const COOKIE_NAME: &str = "mercureAuthorization";

/// Where a request's token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    Header,
    Query,
    /// Sent by the browser on its own: a publish needs an allowed `Origin` too (CSRF).
    Cookie,
}

/// The request's token, in the order draft-07 sets: the `Authorization: Bearer` header,
/// else the `authorization` query parameter, else the `mercureAuthorization` cookie.
pub(super) fn find(headers: &HeaderMap, uri: &Uri) -> Option<(String, Source)> {
    bearer(headers)
        .map(|token| (token, Source::Header))
        .or_else(|| query(uri, "authorization").map(|token| (token, Source::Query)))
        .or_else(|| cookie(headers, COOKIE_NAME).map(|token| (token, Source::Cookie)))
}

/// What a valid Mercure token grants.
#[derive(Debug, Default)]
pub(crate) struct MercureGrants {
    /// Topics it may publish to (`mercure.publish`); none without the claim.
    pub(crate) publish: Vec<TopicSelector>,
    /// Private updates it may receive (`mercure.subscribe`).
    pub(crate) subscribe: Vec<TopicSelector>,
    /// Its `exp`: a stream ends then.
    pub(crate) expires_at: Option<SystemTime>,
}

impl MercureGrants {
    /// What an auth hook's answer grants on the hub. The answer's selectors mean what
    /// they mean on TaskHub's own API: a topic (exactly, never read as a URI template),
    /// or a prefix ending in `*` (`*` alone: every topic). One too long for a Mercure
    /// selector grants nothing and is left out. A stream ends when the answer expires.
    pub(crate) fn from_hook(grants: TaskhubGrants) -> Self {
        let selectors = |items: Vec<Selector>| {
            items
                .iter()
                .filter_map(|item| match item {
                    Selector::Exact(topic) => TopicSelector::exact(topic).ok(),
                    Selector::Prefix(prefix) => TopicSelector::prefix(prefix).ok(),
                })
                .collect()
        };
        Self {
            publish: selectors(grants.publish),
            subscribe: selectors(grants.subscribe),
            expires_at: grants.expires_at,
        }
    }
}

/// The claims of a Mercure token that the hub reads; others are ignored.
#[derive(Deserialize)]
struct MercureClaims {
    exp: Option<u64>,
    #[serde(default)]
    mercure: MercureClaim,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MercureClaim {
    publish: Vec<String>,
    subscribe: Vec<String>,
}

/// Verifies `token` and reads its `mercure` claim. A selector that could never match a
/// topic (a control character in it) grants nothing and is left out.
pub(super) async fn grants(verifier: &Verifier, token: &str) -> Result<MercureGrants, TokenError> {
    let claims: MercureClaims = verifier.decode(token).await?;
    let selectors = |items: Vec<String>| {
        items
            .iter()
            .filter_map(|item| TopicSelector::parse(item).ok())
            .collect()
    };
    Ok(MercureGrants {
        publish: selectors(claims.mercure.publish),
        subscribe: selectors(claims.mercure.subscribe),
        expires_at: claims
            .exp
            .and_then(|exp| UNIX_EPOCH.checked_add(Duration::from_secs(exp))),
    })
}

#[cfg(test)]
mod tests {
    use axum::http::header::{AUTHORIZATION, COOKIE};

    use super::*;

    #[test]
    fn a_hooks_selectors_are_topics_and_prefixes_on_the_hub() {
        let topic = |item: &str| Selector::topic(item).expect("selector");
        let grants = MercureGrants::from_hook(TaskhubGrants {
            subscribe: vec![topic("https://example.com/books/*"), topic("a/{id}")],
            publish: vec![topic("*")],
            expires_at: None,
            subject: None,
        });
        let subscribes = |t: &str| grants.subscribe.iter().any(|s| s.matches(t));
        assert!(subscribes("https://example.com/books/1"));
        assert!(!subscribes("https://example.com/authors/1"));
        assert!(subscribes("a/{id}"));
        assert!(!subscribes("a/1"), "never read as a URI template");
        assert!(grants.publish.iter().any(|s| s.matches("anything")));
    }

    #[test]
    fn the_header_wins_then_the_query_then_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            "a=1; mercureAuthorization=from-cookie"
                .parse()
                .expect("header"),
        );
        let uri: Uri = "/.well-known/mercure?topic=x&authorization=from-query"
            .parse()
            .expect("uri");
        let plain: Uri = "/.well-known/mercure?topic=x".parse().expect("uri");
        assert_eq!(
            find(&headers, &plain),
            Some(("from-cookie".into(), Source::Cookie))
        );
        assert_eq!(
            find(&headers, &uri),
            Some(("from-query".into(), Source::Query))
        );
        headers.insert(AUTHORIZATION, "Bearer from-header".parse().expect("header"));
        assert_eq!(
            find(&headers, &uri),
            Some(("from-header".into(), Source::Header))
        );
        assert_eq!(find(&HeaderMap::new(), &plain), None);
    }
}
