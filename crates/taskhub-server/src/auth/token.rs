//! Finding the token in a request. It is never logged: not here, and the server logs no
//! request URIs or headers at all.

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri};

/// The token from, in order: `Authorization: Bearer`, the `taskhub_token` cookie, the
/// `access_token` query parameter (for EventSource, which cannot set headers).
pub(super) fn find(parts: &Parts) -> Option<String> {
    bearer(&parts.headers)
        .or_else(|| cookie(&parts.headers, "taskhub_token"))
        .or_else(|| query(&parts.uri, "access_token"))
}

/// The token of an `Authorization: Bearer` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The value of the cookie `wanted`, if it is set and not empty.
pub(crate) fn cookie(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == wanted && !value.is_empty()).then(|| value.to_owned())
        })
}

/// The value of the query parameter `wanted`, if it is set and not empty.
pub(crate) fn query(uri: &Uri, wanted: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(name, value)| name == wanted && !value.is_empty())
        .map(|(_, value)| value.into_owned())
}
