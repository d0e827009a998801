//! The one error type of the HTTP edge, [`ApiError`], and its `application/problem+json`
//! form (RFC 9457). Every handler and extractor answers with it; `openapi` describes it
//! to the OpenAPI document.

pub(crate) mod openapi;

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use taskhub_engine::EngineError;

use crate::metrics::METRICS;

/// Every way a request can fail, each with the status and detail a client can act on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The body is not JSON at all.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body could not be read: broken chunked encoding, or the client went away.
    #[error("the request body could not be read: {0}")]
    UnreadableBody(String),
    /// A query parameter is malformed.
    #[error("{detail}")]
    BadParameter { param: String, detail: String },
    /// A form field (Mercure's publish) is missing, repeated or malformed.
    #[error("`{field}`: {detail}")]
    BadFormField { field: String, detail: String },
    /// The body is not in a format this endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A JSON field is missing, of the wrong type, or out of range.
    #[error("`{field}`: {detail}")]
    InvalidField { field: String, detail: String },
    #[error("the request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("no route for {0}")]
    NoRoute(String),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    #[error("too many {what} from your address; retry after the time in Retry-After")]
    RateLimited {
        what: &'static str,
        retry_after: Duration,
    },
    #[error("the request body did not arrive within {0:?}")]
    BodyTimeout(Duration),
    #[error("the request's target and headers are larger than the limit of {limit} bytes")]
    HeadTooLarge { limit: usize },
    #[error("the server is at its limit of {limit} open streams; retry later")]
    TooManyStreams { limit: usize, retry_after: Duration },
    /// A request header is malformed (the header is named in `header`).
    #[error("`{header}`: {detail}")]
    BadHeader {
        header: &'static str,
        detail: String,
    },
    /// The write's `Idempotency-Key` was recorded for a different request.
    #[error(
        "this Idempotency-Key was already used for a different request (another endpoint, \
         target or body); nothing was stored: use a new key for a new request"
    )]
    IdempotencyKeyReused,
    /// The open connections reached the reserve kept for short requests
    /// (`connection_budget`): no descriptor is left to give a stream.
    #[error(
        "the server is near its limit of {limit} open connections (its open-file limit) and \
         keeps the rest for short requests; retry later"
    )]
    ConnectionReserve { limit: usize, retry_after: Duration },
    #[error("{}; {}", .0, what_was_stored(.0))]
    StoreUnavailable(EngineError),
    /// Credentials cannot be checked right now (no key set fetched yet): refused, never
    /// let through.
    #[error("{0}")]
    AuthUnavailable(String),
}

/// A malformed `types`/`topics` filter, named by its parameter.
impl From<taskhub_core::ParseFilterError> for ApiError {
    fn from(e: taskhub_core::ParseFilterError) -> Self {
        Self::BadParameter {
            param: e.param().into(),
            detail: e.to_string(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::KeyReused => Self::IdempotencyKeyReused,
            other => Self::StoreUnavailable(other),
        }
    }
}

/// What a client may assume after a store failure, for the problem's detail.
fn what_was_stored(error: &EngineError) -> &'static str {
    if error.may_have_applied() {
        "the outcome is unknown: it may have been stored; retry with the same Idempotency-Key"
    } else {
        "nothing was stored, retry later"
    }
}

impl ApiError {
    pub(crate) fn invalid(field: impl Into<String>, detail: impl ToString) -> Self {
        Self::InvalidField {
            field: field.into(),
            detail: detail.to_string(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_)
            | Self::UnreadableBody(_)
            | Self::BadParameter { .. }
            | Self::BadFormField { .. }
            | Self::BadHeader { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidField { .. } | Self::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::HeadTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::NoRoute(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyStreams { .. }
            | Self::ConnectionReserve { .. }
            | Self::StoreUnavailable(_)
            | Self::AuthUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The problem type's slug; `type` is `https://taskhub.dev/problems/{slug}`.
    fn slug(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed-json",
            Self::UnreadableBody(_) => "unreadable-body",
            Self::BadFormField { .. } => "invalid-form-field",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::BadParameter { .. } => "invalid-parameter",
            Self::InvalidField { .. } => "invalid-field",
            Self::BodyTooLarge { .. } => "body-too-large",
            Self::RateLimited { .. } => "rate-limited",
            Self::BodyTimeout(_) => "body-timeout",
            Self::HeadTooLarge { .. } => "headers-too-large",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::NoRoute(_) => "no-route",
            Self::MethodNotAllowed(_) => "method-not-allowed",
            Self::TooManyStreams { .. } => "too-many-streams",
            Self::BadHeader { .. } => "invalid-header",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::ConnectionReserve { .. } => "too-many-connections",
            Self::StoreUnavailable(_) => "store-unavailable",
            Self::AuthUnavailable(_) => "auth-unavailable",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "Malformed JSON",
            Self::UnreadableBody(_) => "Unreadable request body",
            Self::BadFormField { .. } => "Invalid form field",
            Self::UnsupportedMediaType(_) => "Unsupported media type",
            Self::BadParameter { .. } => "Invalid query parameter",
            Self::InvalidField { .. } => "Invalid field",
            Self::BodyTooLarge { .. } => "Request body too large",
            Self::RateLimited { .. } => "Too many requests",
            Self::BodyTimeout(_) => "Request body too slow",
            Self::HeadTooLarge { .. } => "Request headers too large",
            Self::Unauthorized(_) => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::NotFound(_) => "Not found",
            Self::NoRoute(_) => "No such endpoint",
            Self::MethodNotAllowed(_) => "Method not allowed",
            Self::TooManyStreams { .. } => "Too many open streams",
            Self::BadHeader { .. } => "Invalid header",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::ConnectionReserve { .. } => "Too many open connections",
            Self::StoreUnavailable(_) => "Store unavailable",
            Self::AuthUnavailable(_) => "Authentication unavailable",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::TooManyStreams { retry_after, .. }
            | Self::ConnectionReserve { retry_after, .. }
            | Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::StoreUnavailable(_) => Some(Duration::from_secs(1)),
            // The key set's fetch is retried within a few seconds.
            Self::AuthUnavailable(_) => Some(Duration::from_secs(5)),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = Map::new();
        body.insert(
            "type".into(),
            format!("https://taskhub.dev/problems/{}", self.slug()).into(),
        );
        body.insert("title".into(), self.title().into());
        body.insert("status".into(), status.as_u16().into());
        body.insert("detail".into(), self.to_string().into());
        match &self {
            Self::InvalidField { field, .. } | Self::BadFormField { field, .. } => {
                drop(body.insert("field".into(), json!(field)));
            }
            Self::BadParameter { param, .. } => drop(body.insert("parameter".into(), json!(param))),
            Self::BadHeader { header, .. } => drop(body.insert("header".into(), json!(header))),
            _ => {}
        }
        if let Self::StoreUnavailable(_) = self {
            METRICS.store_errors.inc();
        }
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let mut response = (status, Value::Object(body).to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Self::Unauthorized(_) = self {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(after) = self.retry_after() {
            let secs = after.as_secs_f64().ceil().max(1.0) as u64;
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_says_whether_anything_may_have_been_stored() {
        let lost = ApiError::from(EngineError::OutcomeUnknown("Redis: timed out".into()));
        assert_eq!(
            lost.to_string(),
            "the event store did not confirm the write: Redis: timed out; the outcome is \
             unknown: it may have been stored; retry with the same Idempotency-Key"
        );
        let refused = ApiError::from(EngineError::Unavailable("database is locked".into()));
        assert_eq!(
            refused.to_string(),
            "the event store is unavailable: database is locked; nothing was stored, retry later"
        );
        for error in [lost, refused] {
            assert_eq!(error.slug(), "store-unavailable");
            let response = error.into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        }
    }

    #[test]
    fn a_key_reused_for_another_request_is_422_not_a_store_failure() {
        let error = ApiError::from(EngineError::KeyReused);
        assert_eq!(error.slug(), "idempotency-key-reused");
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
