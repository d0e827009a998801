//! Finding the token in a request. It is never logged: not here, and the server logs no
//! request URIs or headers at all.

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;

/// The token from, in order: `Authorization: Bearer`, the `taskhub_token` cookie, the
/// `access_token` query parameter (for EventSource, which cannot set headers).
pub(super) fn find(parts: &Parts) -> Option<String> {
    bearer(parts)
        .or_else(|| cookie(parts))
        .or_else(|| query(parts))
}

fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == "taskhub_token" && !value.is_empty()).then(|| value.to_owned())
        })
}

fn query(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, value)| name == "access_token" && !value.is_empty())
        .map(|(_, value)| value.into_owned())
}
