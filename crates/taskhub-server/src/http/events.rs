//! `POST /events` (publish) and `GET /events/stream` (subscribe).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use taskhub_core::{EventType, Filter, Topic};
use taskhub_engine::NewEvent;
use utoipa::IntoParams;

use super::AppState;
use super::body::JsonBody;
use super::fields::Fields;
use super::openapi::{PublishBody, Published, StreamErrors, WriteErrors};
use super::problem::ApiError;
use super::sse;
use crate::auth::Caller;
use crate::metrics::METRICS;
use crate::rate_limit::{ConnectAllowed, WriteAllowed};
use crate::subscription::{Resume, View};

/// Most events in one `POST /events` batch.
const MAX_BATCH: usize = 1000;

/// `POST /events`: one event object or an array of them, all or nothing. Answers 202
/// only once the events are committed.
#[utoipa::path(post, path = "/events", tag = "events", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    request_body(content = PublishBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Committed; the ids assigned", body = Published), WriteErrors))]
pub(crate) async fn publish(
    _: WriteAllowed,
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let (events, batch) = parse_publish_body(&body, state.config.max_event_bytes)?;
    for event in &events {
        caller.check_publish(event.topic.as_ref())?;
    }
    let started = std::time::Instant::now();
    let ids = state.events.publish(events).await?;
    METRICS.publish_duration.observe(started.elapsed());
    let ids = ids.iter().map(ToString::to_string).collect();
    Ok((StatusCode::ACCEPTED, Json(Published::new(ids, batch))))
}

/// A publish body: one event object (`batch` false) or an array of 1 to 1000.
pub(crate) fn parse_publish_body(
    body: &Value,
    max_data: usize,
) -> Result<(Vec<NewEvent>, bool), ApiError> {
    match body {
        Value::Array(items) => {
            if items.is_empty() || items.len() > MAX_BATCH {
                let detail = format!("a batch holds 1 to {MAX_BATCH} events, got {}", items.len());
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
    let private = fields.optional_bool("private")?.unwrap_or(false);
    if private && topic.is_none() {
        return Err(ApiError::invalid(
            fields.name("private"),
            "a private event needs a `topic`, which credentials are checked against",
        ));
    }
    let data = serde_json::value::to_raw_value(fields.required("data")?)
        .map_err(|e| ApiError::invalid(fields.name("data"), e))?;
    if data.get().len() > max_data {
        let detail = format!(
            "is {} bytes as JSON; the limit is {max_data}",
            data.get().len()
        );
        return Err(ApiError::invalid(fields.name("data"), detail));
    }
    Ok(NewEvent {
        event_type,
        topic,
        private,
        data,
        mercure: None,
    })
}

/// The query parameters of `GET /events/stream`.
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
    /// `false` leaves out the `event:` lines, so `onmessage` receives everything.
    #[param(value_type = Option<bool>)]
    typed: Option<String>,
    /// A JWT, for clients that cannot set headers (browsers' EventSource).
    #[param(value_type = Option<String>)]
    #[serde(rename = "access_token")]
    _access_token: Option<serde::de::IgnoredAny>,
}

/// `GET /events/stream`: replay after the client's last id, then live events.
#[utoipa::path(get, path = "/events/stream", tag = "events", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(StreamParams, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this id")),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String), StreamErrors))]
pub(crate) async fn stream(
    _: ConnectAllowed,
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    params: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadParameter {
        param: "query".into(),
        detail: e.body_text(),
    })?;
    let filter = Filter::parse(params.types.as_deref(), params.topics.as_deref()).map_err(|e| {
        ApiError::BadParameter {
            param: e.param().into(),
            detail: e.to_string(),
        }
    })?;
    let typed = match params.typed.as_deref() {
        None | Some("true" | "1") => true,
        Some("false" | "0") => false,
        Some(other) => {
            return Err(ApiError::BadParameter {
                param: "typed".into(),
                detail: format!("`typed` must be true or false, got {other:?}"),
            });
        }
    };
    // The header wins over the query parameter; an empty value means "from now".
    // A header that is not UTF-8 is still a (garbage) id: it gets a reset, not a
    // silent start from now.
    let last_event_id = headers
        .get("last-event-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .or(params.last_event_id)
        .filter(|id| !id.is_empty());

    let access = caller.check_subscribe(&filter)?;
    let permit = sse::admit(&state)?;
    let resume = match last_event_id {
        None => Resume::Live,
        Some(raw) => match raw.parse() {
            Ok(id) => Resume::After(id),
            Err(_) => Resume::Unknown(raw),
        },
    };
    let view = View::Native {
        filter,
        access,
        typed,
    };
    let live = state.hub.subscribe();
    Ok(sse::respond(&state, view, resume, live, permit))
}
