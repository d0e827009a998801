//! The history API: `GET /events` (a page of the log through filters, in either order),
//! `GET /events/{id}` (one event) and `GET /topics/{topic}/latest` (a topic's newest
//! event). Each answers with envelopes exactly as streams carry them in `data:`, shows
//! private events only to credentials that cover their topic, and is served by the
//! engines' readers, never their writer.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use taskhub_core::{EventFrame, EventId, Filter, Timestamp, Topic};
use taskhub_engine::{IdRange, Order};
use utoipa::{IntoParams, ToSchema};

use crate::auth::TaskhubCaller;
use crate::edge::query_names;
use crate::error::ApiError;
use crate::error::openapi::{EventReadErrors, HistoryErrors, TopicReadErrors};
use crate::history::{self, PAGE_BUDGET, Selection};
use crate::limits::MAX_PAGE;
use crate::state::AppState;

/// Events in a page when `limit` is not given.
const DEFAULT_PAGE: usize = 100;

/// The names of [`HistoryParams`]' parameters: any other (but `_…`) is refused with a 400.
pub(crate) const HISTORY_PARAMS: &[&str] = &[
    "after",
    "before",
    "since",
    "types",
    "topics",
    "limit",
    "order",
    "access_token",
];

/// The query parameters of `GET /events/{id}` and `GET /topics/{topic}/latest`: only a
/// token, for clients that cannot set headers.
const READ_PARAMS: &[&str] = &["access_token"];

/// The query parameters of `GET /events` (each also in [`HISTORY_PARAMS`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// Only events after this id.
    #[param(example = "100", pattern = "^(0|[1-9][0-9]{0,18})$")]
    after: Option<String>,
    /// Only events before this id.
    #[param(example = "200", pattern = "^(0|[1-9][0-9]{0,18})$")]
    before: Option<String>,
    /// Only events committed at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-11-24T12:00:00Z")]
    since: Option<String>,
    /// Only these event types, comma-separated; a trailing `*` is a prefix match.
    #[param(
        example = "task_updated,deploy.*",
        pattern = r"^([A-Za-z0-9_.:-]{1,64}\*?|\*)(,([A-Za-z0-9_.:-]{1,64}\*?|\*))*$"
    )]
    types: Option<String>,
    /// Only these topics, comma-separated; a trailing `*` is a prefix match.
    #[param(
        example = "tasks/42,deploys/*",
        pattern = r"^[^,\u0000-\u001F\u007F-\u009F]+(,[^,\u0000-\u001F\u007F-\u009F]+)*$"
    )]
    topics: Option<String>,
    /// Most events in the page, 1 to 1000 (default 100). A page may hold fewer even when
    /// more follow (it looks at most at 20,000 events): follow `next` until it is null.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// `asc`: oldest first (the default); `desc`: newest first.
    #[param(value_type = Option<String>, pattern = "^(asc|desc)$")]
    order: Option<String>,
    /// A JWT, for clients that cannot set headers.
    #[param(value_type = Option<String>)]
    #[serde(rename = "access_token")]
    _access_token: Option<serde::de::IgnoredAny>,
}

/// A page of history.
#[derive(Serialize, ToSchema)]
pub(crate) struct HistoryPage {
    /// The events' envelopes (as in a stream's `data:` lines), in the page's order.
    events: Vec<Value>,
    /// The next page's URL (also in the `Link: <…>; rel="next"` header); null on the last.
    #[schema(example = "/events?after=200&limit=100")]
    next: Option<String>,
}

/// `GET /events`: a page of the events the caller may see, through its filters.
#[utoipa::path(get, path = "/events", tag = "history", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(HistoryParams),
    responses(
        (status = 200, description = "A page of events, in id order (newest first with `order=desc`)", body = HistoryPage,
            headers(("Link" = String, description = "The next page: `<URL>; rel=\"next\"`, absent on the last page"))),
        HistoryErrors))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: TaskhubCaller,
    RawQuery(query): RawQuery,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    query_names::reject_unknown(query.as_deref(), HISTORY_PARAMS)?;
    let Query(params) = params.map_err(|e| ApiError::BadParameter {
        param: "query".into(),
        detail: e.body_text(),
    })?;
    let filter = Filter::parse(params.types.as_deref(), params.topics.as_deref())?;
    let access = caller.check_subscribe(&filter)?;
    let limit = match params.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| bad("limit", format!("`limit` is 1 to {MAX_PAGE}, got {text:?}")))?,
    };
    let order = match params.order.as_deref() {
        None | Some("asc") => Order::Ascending,
        Some("desc") => Order::Descending,
        Some(other) => {
            return Err(bad(
                "order",
                format!("`order` is asc or desc, got {other:?}"),
            ));
        }
    };
    let mut range = IdRange {
        after: event_id("after", params.after.as_deref())?.unwrap_or(EventId::ZERO),
        before: event_id("before", params.before.as_deref())?,
    };
    if let Some(since) = params.since.as_deref() {
        let at = Timestamp::parse(since).map_err(|e| bad("since", e.to_string()))?;
        range.after = range.after.max(state.events.position_at(at).await?);
    }
    let selection = Selection { filter, access };
    let page = history::page(&state.events, &selection, range, order, limit, PAGE_BUDGET).await?;
    let next = page.next.map(|id| next_url(&params, order, id));
    let mut response = (
        [(header::CONTENT_TYPE, "application/json")],
        page_json(&page.events, next.as_deref()),
    )
        .into_response();
    if let Some(next) = next
        && let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\""))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// `GET /events/{id}`: one event, if the log still holds it; 403 for a private event
/// whose topic the credentials do not cover.
#[utoipa::path(get, path = "/events/{id}", tag = "history", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(("id" = String, Path, description = "The event's id", pattern = "^(0|[1-9][0-9]{0,18})$")),
    responses(
        (status = 200, description = "The event's envelope", content_type = "application/json", body = Object),
        EventReadErrors))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: TaskhubCaller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    query_names::reject_unknown(query.as_deref(), READ_PARAMS)?;
    let missing = || ApiError::NotFound(format!("no event {id:?} is kept here"));
    let wanted: EventId = id.parse().map_err(|_| missing())?;
    let access = caller.check_subscribe(&Filter::default())?;
    let range = IdRange {
        after: EventId::new(wanted.get().saturating_sub(1)),
        before: Some(wanted.next()),
    };
    let found = state.events.read(range, Order::Ascending, 1).await?;
    let frame = found
        .into_iter()
        .find(|frame| frame.id() == wanted)
        .ok_or_else(missing)?;
    // Its id says nothing a caller could not guess (ids are consecutive); its topic is
    // not named.
    if !access.may_see(&frame) {
        return Err(ApiError::Forbidden(format!(
            "event {wanted} is private, and the credentials do not cover its topic"
        )));
    }
    Ok(envelope_response(&frame))
}

/// `GET /topics/{topic}/latest`: the newest event kept on a topic, the "current state"
/// a page needs without a replay.
#[utoipa::path(get, path = "/topics/{topic}/latest", tag = "history", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(("topic" = String, Path, description = "The topic, slashes included (`tasks/42`)", pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$")),
    responses(
        (status = 200, description = "The newest event on the topic that the caller may see", content_type = "application/json", body = Object),
        TopicReadErrors))]
pub(crate) async fn latest(
    State(state): State<AppState>,
    caller: TaskhubCaller,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    query_names::reject_unknown(query.as_deref(), READ_PARAMS)?;
    let Some(topic) = path.strip_suffix("/latest") else {
        return Err(ApiError::NoRoute(format!(
            "no route for /topics/{path}: a topic's newest event is /topics/{{topic}}/latest"
        )));
    };
    let topic = Topic::parse(topic).map_err(|e| bad("topic", e.to_string()))?;
    let access = caller.check_read_topic(&topic)?;
    let frame = state
        .events
        .latest(&topic, access.sees_private_on(&topic))
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no event on topic {:?} is kept here",
                topic.as_str()
            ))
        })?;
    Ok(envelope_response(&frame))
}

fn bad(param: &str, detail: String) -> ApiError {
    ApiError::BadParameter {
        param: param.into(),
        detail,
    }
}

fn event_id(param: &str, value: Option<&str>) -> Result<Option<EventId>, ApiError> {
    value
        .map(|text| {
            text.parse()
                .map_err(|_| bad(param, format!("`{param}` is an event id, got {text:?}")))
        })
        .transpose()
}

/// The URL of the page after the one that stopped at `id`: the same query, continuing
/// from `id` (`since` is already folded into where this page started).
fn next_url(params: &HistoryParams, order: Order, id: EventId) -> String {
    let id = id.to_string();
    let mut query = form_urlencoded::Serializer::new(String::new());
    let (after, before) = match order {
        Order::Ascending => (Some(id.as_str()), params.before.as_deref()),
        Order::Descending => (params.after.as_deref(), Some(id.as_str())),
    };
    for (name, value) in [
        ("after", after),
        ("before", before),
        ("types", params.types.as_deref()),
        ("topics", params.topics.as_deref()),
        ("limit", params.limit.as_deref()),
        ("order", params.order.as_deref()),
    ] {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    format!("/events?{}", query.finish())
}

/// `{"events":[…],"next":…}`, the envelopes copied in as stored rather than parsed.
fn page_json(events: &[std::sync::Arc<EventFrame>], next: Option<&str>) -> String {
    let size: usize = events.iter().map(|e| e.envelope().len() + 1).sum();
    let mut json = String::with_capacity(size + 64);
    json.push_str("{\"events\":[");
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push_str(event.envelope());
    }
    json.push_str("],\"next\":");
    json.push_str(&serde_json::to_string(&next).unwrap_or_else(|_| "null".into()));
    json.push('}');
    json
}

fn envelope_response(frame: &EventFrame) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        frame.envelope().to_owned(),
    )
        .into_response()
}
