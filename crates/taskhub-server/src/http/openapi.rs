//! `GET /openapi.json`: the API described from the code. The paths come from the
//! `#[utoipa::path]` attribute on each handler; the body shapes below are what the
//! handlers accept. (The handlers read bodies field by field, to name the faulty field in
//! errors, so these types describe the bodies rather than parse them.)

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use taskhub_core::Task;
use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

use super::{AppState, events, health, tasks};
use crate::mercure;

/// One event to publish.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventInput {
    /// The event type: the SSE `event:` field.
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,64}$", example = "task_updated")]
    event: String,
    /// Any JSON value, at most `--max-event-bytes` (64 KiB) as compact JSON.
    data: Value,
    /// What the event is about, e.g. `tasks/42`; 1 to 256 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$",
        example = "tasks/42"
    )]
    topic: Option<String>,
    /// Delivered only to subscribers whose credentials cover the topic (needs a topic).
    #[serde(default)]
    private: bool,
}

/// One event, or a batch of 1 to 1000 stored all or nothing.
pub(crate) struct PublishBody;

impl PartialSchema for PublishBody {
    fn schema() -> RefOr<Schema> {
        let event = || Ref::from_schema_name(EventInput::name());
        let batch = ArrayBuilder::new()
            .items(event())
            .min_items(Some(1))
            .max_items(Some(1000));
        OneOfBuilder::new()
            .item(event())
            .item(batch)
            .description(Some(
                "One event, or a batch of 1 to 1000 stored all or nothing.",
            ))
            .into()
    }
}

impl ToSchema for PublishBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((EventInput::name().into(), EventInput::schema()));
    }
}

/// The ids given to what was published.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum Published {
    One {
        #[schema(example = "17")]
        id: String,
    },
    Batch {
        ids: Vec<String>,
    },
}

impl Published {
    /// `{"id"}` for a single event, `{"ids"}` for a batch.
    pub(crate) fn new(mut ids: Vec<String>, batch: bool) -> Self {
        match ids.pop() {
            Some(id) if !batch && ids.is_empty() => Self::One { id },
            last => {
                ids.extend(last);
                Self::Batch { ids }
            }
        }
    }
}

/// `POST /tasks`. (`#[serde(default)]` marks a field optional but not nullable.)
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTaskInput {
    /// Surrounding spaces are trimmed; what remains must not be empty.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    title: String,
    #[schema(max_length = 10000)]
    description: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9_-]{1,64}$", default = "todo")]
    status: String,
}

/// `PATCH /tasks/{id}`: the fields to change; a `null` description clears it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskPatchInput {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    title: String,
    #[schema(max_length = 10000)]
    description: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    status: String,
}

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
    DeleteErrors: 401, 403, 404, 429, 503;
    StatusErrors: 401, 403, 404, 422, 429, 503;
    ReadyErrors: 503;
    MercurePublishErrors: 400, 401, 403, 408, 413, 415, 429, 503;
    MercureSubscribeErrors: 400, 401, 429, 503;
}

/// What each error status means, wherever it appears.
fn problems(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|status| {
            let description = match status {
                400 => "Malformed JSON, query parameter (named in `parameter`) or form field (in `field`)",
                401 => "No or bad credentials",
                403 => "The credentials do not cover the topic",
                404 => "No such task",
                408 => "The body arrived too slowly",
                413 => "The body is over --max-body-bytes",
                415 => "The body is not application/x-www-form-urlencoded",
                422 => "A field is invalid (named in `field`)",
                429 => "Rate limited: see Retry-After",
                _ => "Store unavailable, or at the stream limit: see Retry-After",
            };
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
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
}

/// `{"status": "…"}`, from health checks and the seed's status call.
#[derive(Serialize, ToSchema)]
pub(crate) struct Status {
    #[schema(example = "ok")]
    status: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TaskHub",
        description = "Publish events over HTTP, receive them live over Server-Sent Events, \
                       resumable with Last-Event-ID; and a tasks API whose every change is an event."
    ),
    paths(
        events::publish,
        events::stream,
        tasks::create,
        tasks::list,
        tasks::get,
        tasks::update,
        tasks::delete,
        tasks::set_status,
        health::live,
        health::ready,
        document,
    ),
    components(schemas(EventInput, PublishBody, Published, NewTaskInput, TaskPatchInput, Task, Problem, Status)),
    modifiers(&Credentials),
    tags((name = "events"), (name = "tasks"), (name = "operations"))
)]
pub(crate) struct ApiDoc;

/// The three places a JWT may travel, when `--jwt-secret` is set.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("taskhub_token"))),
        );
        components.add_security_scheme(
            "query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("access_token"))),
        );
    }
}

/// The Mercure hub's two operations, in the document when the hub is on.
#[derive(OpenApi)]
#[openapi(
    paths(mercure::publish::publish, mercure::subscribe::subscribe),
    modifiers(&MercureCredentials),
    tags((name = "mercure", description = "The Mercure protocol (draft-07) on the same event log"))
)]
struct MercureDoc;

/// Where Mercure's JWT may travel besides `Authorization: Bearer`.
struct MercureCredentials;

impl Modify for MercureCredentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "mercure_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("mercureAuthorization"))),
        );
        components.add_security_scheme(
            "mercure_query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("authorization"))),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub(crate) async fn document(State(state): State<AppState>) -> Json<Value> {
    let mut api = ApiDoc::openapi();
    if state.mercure.is_some() {
        api.merge(MercureDoc::openapi());
    }
    let mut document = serde_json::to_value(api).unwrap_or_default();
    require_topic_when_private(&mut document);
    Json(document)
}

/// A private event needs a topic: a JSON Schema `if`/`then`, which the derive cannot say.
fn require_topic_when_private(document: &mut Value) {
    if let Some(Value::Object(event)) = document.pointer_mut("/components/schemas/EventInput") {
        event.insert(
            "if".into(),
            serde_json::json!({"properties": {"private": {"const": true}}, "required": ["private"]}),
        );
        event.insert(
            "then".into(),
            serde_json::json!({"properties": {"topic": {"type": "string"}}, "required": ["topic"]}),
        );
    }
}
