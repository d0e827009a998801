//! How the OpenAPI document describes errors: the [`Problem`] schema, and the set of
//! error statuses each kind of operation can answer, which handlers name in their
//! `#[utoipa::path]` attributes.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

/// The error responses of each kind of operation, all `application/problem+json`.
macro_rules! problem_responses {
    ($($name:ident: $($status:literal),+;)+) => {$(
        pub(crate) struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                problems(&[$($status),+])
            }
        }
    )+};
}

problem_responses! {
    WriteErrors: 400, 401, 403, 408, 413, 422, 429, 503;
    PatchErrors: 400, 401, 403, 404, 408, 413, 422, 429, 503;
    StreamErrors: 400, 401, 403, 429, 503;
    ListErrors: 400, 401, 503;
    ReadErrors: 401, 404, 503;
    HistoryErrors: 400, 401, 403, 503;
    EventReadErrors: 400, 401, 403, 404, 503;
    TopicReadErrors: 400, 401, 403, 404, 503;
    DeleteErrors: 400, 401, 403, 404, 422, 429, 503;
    StatusErrors: 400, 401, 403, 404, 422, 429, 503;
    ReadyErrors: 503;
    WebhookReadErrors: 401, 403, 503;
    WebhookErrors: 400, 401, 403, 404, 408, 413, 422, 429, 503;
    MercurePublishErrors: 400, 401, 403, 408, 413, 415, 422, 429, 503;
    MercureSubscribeErrors: 400, 401, 403, 429, 503;
}

/// What each error status means, wherever it appears.
fn problems(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|status| {
            let description = match status {
                400 => "Malformed JSON, query parameter (named in `parameter`), form field (in `field`) or header (in `header`: a malformed Idempotency-Key)",
                401 => "No or bad credentials",
                403 => "The credentials do not cover the topic (or the private event's topic)",
                404 => "No such task, or no such event kept (none on the topic, for a topic's latest), or no such parked webhook event",
                408 => "The body arrived too slowly",
                413 => "The body is over --max-body-bytes",
                415 => "The body is not application/x-www-form-urlencoded",
                422 => "A field is invalid (named in `field`), or the Idempotency-Key was used for a different request",
                429 => "Rate limited: see Retry-After",
                _ => "Store unavailable, credentials that cannot be checked yet (no JWKS key set fetched, the auth hook down or slow), or at the stream or connection limit: see Retry-After",
            };
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(Problem::name())))
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/problem+json", content)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// An error, as every endpoint reports it (RFC 9457 `application/problem+json`).
#[derive(Serialize, ToSchema)]
pub(crate) struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    /// The JSON field at fault, for 422 (or the form field, for a Mercure 400).
    field: Option<String>,
    /// The query parameter at fault, for 400.
    parameter: Option<String>,
    /// The request header at fault, for 400.
    header: Option<String>,
}
