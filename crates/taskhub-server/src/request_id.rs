//! Request ids. Every request gets one, in the tracing span it is handled in (so every
//! log line written while handling it carries it) and in the `x-request-id` response
//! header. An id that arrived with the request (nginx's `$request_id`, a client's own) is
//! kept when it is short and plain, so one id follows a request through the proxy.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderName, HeaderValue, Request};
use tracing::Span;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id accepted from outside.
const MAX_LEN: usize = 64;

/// Numbers the requests this process made ids for; only uniqueness matters.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// The request's id (its own, or a new one) and the span to handle it in. The span
/// names the method and path, never the query (which may hold an `access_token`).
pub(crate) fn start<B>(request: &Request<B>) -> (HeaderValue, Span) {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|id| is_plain(id.as_bytes()))
        .cloned()
        .unwrap_or_else(new_id);
    let span = tracing::info_span!(
        "request",
        request_id = %String::from_utf8_lossy(id.as_bytes()),
        method = %request.method(),
        path = %request.uri().path(),
    );
    (id, span)
}

fn is_plain(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn new_id() -> HeaderValue {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from(n)
}
