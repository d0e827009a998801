//! `GET /.well-known/mercure`: an event stream of the updates (and native events) whose
//! topics match the subscriber's selectors, resumable with `Last-Event-ID`.

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::Response;
use taskhub_core::mercure::{ResumePoint, TopicSelector};

use super::caller::MercureSubscriber;
use super::discovery::PATH;
use super::form;
use crate::edge::{resume, stream};
use crate::error::ApiError;
use crate::error::openapi::MercureSubscribeErrors;
use crate::limits::MAX_MERCURE_SELECTORS;
use crate::rate_limit::ConnectAllowed;
use crate::state::AppState;
use crate::subscription::{MercureSelection, Resume, View};

/// Subscribes. The stream's headers go out at once; the subscriber is registered with
/// the hub before they do (and before history is read), so nothing published after the
/// request arrived is missed.
#[utoipa::path(get, path = PATH, tag = "mercure",
    security((), ("bearer" = []), ("mercure_cookie" = []), ("mercure_query" = [])),
    params(
        ("topic" = Vec<String>, Query, description = "Topic selectors: `*`, a topic, or an RFC 6570 URI template; repeatable"),
        ("lastEventID" = Option<String>, Query, description = "Resume after this update id (`earliest`: all history)"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this update id; wins over `lastEventID`"),
    ),
    responses(
        (status = 200, description = "The event stream; `Last-Event-ID` says where replay started", content_type = "text/event-stream", body = String),
        MercureSubscribeErrors))]
pub(crate) async fn subscribe(
    _: ConnectAllowed,
    State(state): State<AppState>,
    MercureSubscriber(grants): MercureSubscriber,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = Query::parse(uri.query().unwrap_or_default())?;
    // The header wins over the query parameter, as draft-07 says.
    let last_event_id = resume::last_event_id(&headers, query.last_event_id);
    let permit = stream::admit(&state)?;
    // Registered before the history is read: see `subscription`.
    let live = state.hub.subscribe();
    let located = match &last_event_id {
        Some(raw) => state.events.locate(ResumePoint::parse(raw)).await?,
        None => None,
    };
    let view = View::Mercure(MercureSelection {
        selectors: query.selectors,
        private_selectors: grants.subscribe,
        expires_at: grants.expires_at,
    });
    let resume = located.map_or(Resume::Live, Resume::After);
    let mut response = stream::respond(&state, view, resume, live, permit, None);
    let headers = response.headers_mut();
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate, max-age=0"),
    );
    if let Some(raw) = last_event_id {
        // Where replay started: the id asked for, or `earliest` when the history does
        // not hold it (nothing was replayed), so the client knows to refetch.
        let value = located.and_then(|_| HeaderValue::from_bytes(raw.as_bytes()).ok());
        headers.insert(
            "last-event-id",
            value.unwrap_or(HeaderValue::from_static("earliest")),
        );
    }
    Ok(response)
}

/// The subscribe query, parsed.
struct Query {
    selectors: Vec<TopicSelector>,
    last_event_id: Option<String>,
}

impl Query {
    fn parse(query: &str) -> Result<Self, ApiError> {
        let bad = |param: &str, detail: String| ApiError::BadParameter {
            param: param.into(),
            detail,
        };
        let pairs = form::pairs(query.as_bytes()).map_err(|bad_pair| {
            let param = bad_pair.name.unwrap_or_else(|| "query".into());
            bad(&param, "is not UTF-8 once percent-decoded".into())
        })?;
        let mut selectors = Vec::new();
        let mut last_event_id = None;
        for (name, value) in pairs {
            match name.as_str() {
                "topic" => {
                    if selectors.len() == MAX_MERCURE_SELECTORS {
                        return Err(bad(
                            "topic",
                            format!(
                                "at most {MAX_MERCURE_SELECTORS} topic selectors per subscription"
                            ),
                        ));
                    }
                    let selector = TopicSelector::parse(&value)
                        .map_err(|e| bad("topic", format!("selector {value:?}: {e}")))?;
                    selectors.push(selector);
                }
                "lastEventID" => last_event_id = Some(value),
                _ => {}
            }
        }
        if selectors.is_empty() {
            return Err(bad(
                "topic",
                "give at least one `topic` selector (`*` for every topic)".into(),
            ));
        }
        Ok(Self {
            selectors,
            last_event_id,
        })
    }
}
