//! CORS for the origins in `--cors-origins`, and for nobody else.
//!
//! A listed origin gets `Access-Control-Allow-Origin` echoing it, with credentials
//! allowed (cookies and `Authorization` both work from the browser), and its preflights
//! are answered here. A request from any other origin passes through untouched: no CORS
//! header at all, so the browser refuses it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The exact origins allowed, as browsers send them (`https://app.example.com`).
#[derive(Clone, Debug, Default)]
pub struct CorsOrigins(Vec<HeaderValue>);

/// Why a `--cors-origins` entry was refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "CORS origin {0:?} is not an origin: give scheme://host[:port], without path or \
     wildcard, e.g. https://app.example.com"
)]
pub struct BadOrigin(String);

impl CorsOrigins {
    pub fn parse(origins: &[String]) -> Result<Self, BadOrigin> {
        origins
            .iter()
            .map(|origin| {
                let (scheme, host) = origin.split_once("://").ok_or(BadOrigin(origin.clone()))?;
                let well_formed = matches!(scheme, "http" | "https")
                    && !host.is_empty()
                    && !host.contains(['/', '*', '?', '#', ' ']);
                well_formed
                    .then(|| HeaderValue::from_str(origin).ok())
                    .flatten()
                    .ok_or(BadOrigin(origin.clone()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `origin` is one of the listed origins.
    pub(crate) fn allows(&self, origin: &str) -> bool {
        self.0.iter().any(|allowed| allowed == origin)
    }

    fn allowed(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        self.0
            .iter()
            .any(|allowed| allowed == origin)
            .then(|| origin.clone())
    }
}

pub(crate) async fn cors(
    State(origins): State<Arc<CorsOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(origin) = origins.allowed(request.headers()) else {
        return next.run(request).await;
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            // `cache-control`: EventSource polyfills (and Mercure's clients) send it;
            // `idempotency-key`: a browser's retry-safe write.
            HeaderValue::from_static(
                "authorization, cache-control, content-type, idempotency-key, last-event-id",
            ),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        response
    } else {
        let mut response = next.run(request).await;
        response.headers_mut().insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            // `last-event-id` and `link`: where a Mercure replay started, and discovery;
            // `idempotent-replayed`: an answer a retry got from its key's record.
            HeaderValue::from_static(
                "idempotent-replayed, last-event-id, link, location, retry-after",
            ),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.append(VARY, HeaderValue::from_static("origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_origins_are_accepted() {
        let ok = ["https://app.example.com", "http://localhost:3000"].map(String::from);
        assert!(CorsOrigins::parse(&ok).is_ok());
        for bad in [
            "*",
            "app.example.com",
            "https://x.com/path",
            "https://*.x.com",
            "ftp://x",
            "https://",
        ] {
            assert!(CorsOrigins::parse(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
