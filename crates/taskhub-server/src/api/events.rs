//! `POST /events` (publish) and `GET /events/stream` (subscribe).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use taskhub_core::{EventType, Filter, Timestamp, Topic};
use taskhub_engine::NewEvent;
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::fields::Fields;
use crate::auth::TaskhubCaller;
use crate::edge::body::JsonBody;
use crate::edge::idempotency::{self, RetryKey};
use crate::edge::publish::{RESERVED_TOPIC, append, check_data_size};
use crate::edge::{query_names, resume, stream};
use crate::error::ApiError;
use crate::error::openapi::{StreamErrors, WriteErrors};
use crate::history::{self, Selection};
use crate::limits::{MAX_BATCH_EVENTS, MAX_REWIND};
use crate::presence::Attendance;
use crate::rate_limit::{ConnectAllowed, WriteAllowed};
use crate::state::AppState;
use crate::subscription::{Resume, View};

/// `POST /events`: one event object or an array of them, all or nothing. Answers 202
/// only once the events are committed.
#[utoipa::path(post, path = "/events", tag = "events", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(RetryKey),
    request_body(content = PublishBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Committed; the ids assigned", body = Published), WriteErrors))]
pub(crate) async fn publish(
    _: WriteAllowed,
    State(state): State<AppState>,
    caller: TaskhubCaller,
    retry_key: RetryKey,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let (events, batch) = parse_publish_body(&body, state.config.max_event_bytes)?;
    for event in &events {
        caller.check_publish(event.topic.as_ref())?;
    }
    let idempotency = retry_key.for_json(&body);
    let applied = append(&state.events, events, idempotency).await?;
    Ok(idempotency::answer(applied, |ids| {
        let ids = ids.iter().map(ToString::to_string).collect();
        (StatusCode::ACCEPTED, Json(Published::new(ids, batch))).into_response()
    }))
}

/// A publish body: one event object (`batch` false) or an array of 1 to
/// [`MAX_BATCH_EVENTS`].
pub(crate) fn parse_publish_body(
    body: &Value,
    max_data: usize,
) -> Result<(Vec<NewEvent>, bool), ApiError> {
    match body {
        Value::Array(items) => {
            if items.is_empty() || items.len() > MAX_BATCH_EVENTS {
                let detail = format!(
                    "a batch holds 1 to {MAX_BATCH_EVENTS} events, got {}",
                    items.len()
                );
                return Err(ApiError::invalid("body", detail));
            }
            let events = items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_event(item, format!("[{i}]."), max_data))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((events, true))
        }
        single => Ok((vec![parse_event(single, String::new(), max_data)?], false)),
    }
}

fn parse_event(value: &Value, path: String, max_data: usize) -> Result<NewEvent, ApiError> {
    let fields = Fields::new(value, path, &["event", "data", "topic", "private"])?;
    let event_type = EventType::parse(fields.required_str("event")?)
        .map_err(|e| ApiError::invalid(fields.name("event"), e))?;
    let topic = fields
        .nullable_str("topic")?
        .flatten()
        .map(Topic::parse)
        .transpose()
        .map_err(|e| ApiError::invalid(fields.name("topic"), e))?;
    if topic.as_ref().is_some_and(Topic::is_reserved) {
        return Err(ApiError::invalid(fields.name("topic"), RESERVED_TOPIC));
    }
    let private = fields.optional_bool("private")?.unwrap_or(false);
    if private && topic.is_none() {
        return Err(ApiError::invalid(
            fields.name("private"),
            "a private event needs a `topic`, which credentials are checked against",
        ));
    }
    let data = serde_json::value::to_raw_value(fields.required("data")?)
        .map_err(|e| ApiError::invalid(fields.name("data"), e))?;
    check_data_size(&data, max_data).map_err(|e| ApiError::invalid(fields.name("data"), e))?;
    Ok(NewEvent {
        event_type,
        topic,
        private,
        data,
        mercure: None,
    })
}

/// The names of [`StreamParams`]' parameters: any other (but `_…`) is refused with a 400.
pub(crate) const STREAM_PARAMS: &[&str] = &[
    "types",
    "topics",
    "last_event_id",
    "rewind",
    "since",
    "typed",
    "presence",
    "access_token",
];

/// The query parameters of `GET /events/stream` (each also in [`STREAM_PARAMS`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamParams {
    /// Only these event types, comma-separated; a trailing `*` is a prefix match.
    #[param(example = "task_updated,deploy.*")]
    types: Option<String>,
    /// Only these topics, comma-separated; a trailing `*` is a prefix match.
    #[param(example = "tasks/42,deploys/*")]
    topics: Option<String>,
    /// Resume after this id (the `Last-Event-ID` header wins when both are given).
    last_event_id: Option<String>,
    /// Start with the newest N events (0 to 1000) this stream would receive, then go
    /// live. Ignored when the stream resumes with a last event id.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1000)]
    rewind: Option<String>,
    /// Start with the events committed at or after this time (RFC 3339), then go live.
    /// Ignored when the stream resumes with a last event id; not with `rewind`.
    #[param(value_type = Option<String>, format = DateTime, example = "2026-11-24T12:00:00Z")]
    since: Option<String>,
    /// `false` leaves out the `event:` lines, so `onmessage` receives everything.
    #[param(value_type = Option<bool>)]
    typed: Option<String>,
    /// `false` keeps the stream out of presence: not listed by `GET /presence`, not
    /// counted, no join or leave (for dashboards and bots). Default `true`: the stream is
    /// present on each `topics` selector.
    #[param(value_type = Option<bool>)]
    presence: Option<String>,
    /// A JWT, for clients that cannot set headers (browsers' EventSource).
    #[param(value_type = Option<String>)]
    #[serde(rename = "access_token")]
    _access_token: Option<serde::de::IgnoredAny>,
}

/// `GET /events/stream`: replay after the client's last id (or the newest `rewind`
/// events, or those `since` a time), then live events.
#[utoipa::path(get, path = "/events/stream", tag = "events", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(StreamParams, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this id")),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String), StreamErrors))]
pub(crate) async fn stream(
    _: ConnectAllowed,
    State(state): State<AppState>,
    caller: TaskhubCaller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    params: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    query_names::reject_unknown(query.as_deref(), STREAM_PARAMS)?;
    let Query(params) = params.map_err(|e| ApiError::BadParameter {
        param: "query".into(),
        detail: e.body_text(),
    })?;
    let filter = Filter::parse(params.types.as_deref(), params.topics.as_deref())?;
    let typed = flag("typed", params.typed.as_deref())?;
    let present = flag("presence", params.presence.as_deref())?;
    let start = Start::parse(&params)?;
    let last_event_id = resume::last_event_id(&headers, params.last_event_id);
    let access = caller.check_subscribe(&filter)?;
    let attendance = match filter.topics() {
        Some(selectors) if present => Some(Attendance {
            selectors: selectors.to_vec(),
            subject: caller.subject().map(str::to_owned),
        }),
        _ => None,
    };
    let permit = stream::admit(&state)?;
    // Taken before the log is read for this stream (rewind, since, replay): every event is
    // then in what is read, or in the ring, or both.
    let live = state.hub.subscribe();
    let selection = Selection { filter, access };
    let resume = match last_event_id {
        Some(raw) => match raw.parse() {
            Ok(id) => Resume::After(id),
            Err(_) => Resume::Unknown(raw),
        },
        None => match start {
            Start::Now => Resume::Live,
            Start::Rewind(count) => history::rewind_start(&state.events, &selection, count)
                .await?
                .map_or(Resume::Live, Resume::After),
            Start::Since(at) => Resume::After(state.events.position_at(at).await?),
        },
    };
    let Selection { filter, access } = selection;
    let view = View::Native {
        filter,
        access,
        typed,
    };
    Ok(stream::respond(
        &state, view, resume, live, permit, attendance,
    ))
}

/// A boolean query parameter, `true` when absent.
fn flag(param: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => Err(ApiError::BadParameter {
            param: param.into(),
            detail: format!("`{param}` must be true or false, got {other:?}"),
        }),
    }
}

/// Where a stream without a last event id starts.
enum Start {
    Now,
    /// With the newest N events it would receive.
    Rewind(usize),
    /// With the events committed at or after a time.
    Since(Timestamp),
}

impl Start {
    fn parse(params: &StreamParams) -> Result<Self, ApiError> {
        let bad = |param: &str, detail: String| ApiError::BadParameter {
            param: param.into(),
            detail,
        };
        match (params.rewind.as_deref(), params.since.as_deref()) {
            (None, None) => Ok(Self::Now),
            (Some(_), Some(_)) => Err(bad(
                "since",
                "`rewind` and `since` each say where the stream starts: give one".into(),
            )),
            (Some(text), None) => text
                .parse()
                .ok()
                .filter(|count| *count <= MAX_REWIND)
                .map(Self::Rewind)
                .ok_or_else(|| {
                    bad(
                        "rewind",
                        format!("`rewind` is 0 to {MAX_REWIND} events, got {text:?}"),
                    )
                }),
            (None, Some(text)) => Timestamp::parse(text)
                .map(Self::Since)
                .map_err(|e| bad("since", e.to_string())),
        }
    }
}

/// One event to publish (describes the body; the handler reads it field by field, to
/// name the faulty field in errors).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventInput {
    /// The event type: the SSE `event:` field.
    #[schema(schema_with = event_type_schema)]
    event: String,
    /// Any JSON value, at most `--max-event-bytes` (64 KiB by default) as compact JSON.
    data: Value,
    /// What the event is about, e.g. `tasks/42`; no control characters.
    #[schema(schema_with = topic_schema)]
    topic: Option<String>,
    /// Delivered only to subscribers whose credentials cover the topic (needs a topic).
    #[serde(default)]
    private: bool,
}

fn event_type_schema() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(EventType::PATTERN))
        .examples(["task_updated"])
}

fn topic_schema() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .min_length(Some(1))
        .max_length(Some(Topic::MAX_CHARS))
        .pattern(Some(Topic::PATTERN))
        .examples(["tasks/42"])
}

/// One event, or a batch of 1 to [`MAX_BATCH_EVENTS`] stored all or nothing.
pub(crate) struct PublishBody;

impl PartialSchema for PublishBody {
    fn schema() -> RefOr<Schema> {
        let event = || Ref::from_schema_name(EventInput::name());
        let batch = ArrayBuilder::new()
            .items(event())
            .min_items(Some(1))
            .max_items(Some(MAX_BATCH_EVENTS));
        OneOfBuilder::new()
            .item(event())
            .item(batch)
            .description(Some(format!(
                "One event, or a batch of 1 to {MAX_BATCH_EVENTS} stored all or nothing."
            )))
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
    fn new(mut ids: Vec<String>, batch: bool) -> Self {
        match ids.pop() {
            Some(id) if !batch && ids.is_empty() => Self::One { id },
            last => {
                ids.extend(last);
                Self::Batch { ids }
            }
        }
    }
}
