//! `GET /.well-known/mercure`: an event stream of the updates (and native events) whose
//! topics match the subscriber's selectors, resumable with `Last-Event-ID`.

use std::time::SystemTime;

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::Response;
use taskhub_core::EventFrame;
use taskhub_core::mercure::{ResumePoint, TopicSelector};

use super::token::{self, Grants};
use super::{PATH, form};
use crate::http::{ApiError, AppState, sse};
use crate::rate_limit::ConnectAllowed;
use crate::subscription::{Resume, View};

/// Most `topic` selectors one subscription may give.
const MAX_SELECTORS: usize = 100;

/// What one Mercure subscriber receives: updates with a topic its selectors match; of
/// private ones, only those with a topic its token's `mercure.subscribe` matches.
#[derive(Debug)]
pub(crate) struct Subscriber {
    selectors: Vec<TopicSelector>,
    private_selectors: Vec<TopicSelector>,
    expires_at: Option<SystemTime>,
}

impl Subscriber {
    pub(crate) fn wants(&self, frame: &EventFrame) -> bool {
        let matches = |selectors: &[TopicSelector]| {
            selectors
                .iter()
                .any(|selector| selector.matches_any(frame.mercure_topics()))
        };
        matches(&self.selectors) && (!frame.is_private() || matches(&self.private_selectors))
    }

    pub(crate) fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

/// Subscribes. The stream's headers go out at once; the subscriber is registered with
/// the hub before they do (and before history is read), so nothing published after the
/// request arrived is missed.
#[utoipa::path(get, path = "/.well-known/mercure", tag = "mercure",
    security((), ("bearer" = []), ("mercure_cookie" = []), ("mercure_query" = [])),
    params(
        ("topic" = Vec<String>, Query, description = "Topic selectors: `*`, a topic, or an RFC 6570 URI template; repeatable"),
        ("lastEventID" = Option<String>, Query, description = "Resume after this update id (`earliest`: all history)"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this update id; wins over `lastEventID`"),
    ),
    responses(
        (status = 200, description = "The event stream; `Last-Event-ID` says where replay started", content_type = "text/event-stream", body = String),
        crate::http::openapi::MercureSubscribeErrors))]
pub(crate) async fn subscribe(
    _: ConnectAllowed,
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let Some(mercure) = state.mercure.clone() else {
        return Err(ApiError::NoRoute(PATH.into()));
    };
    let grants = match token::find(&headers, &uri) {
        Some((token, _)) => {
            let verifier = mercure.subscriber.as_ref().ok_or_else(|| {
                ApiError::Unauthorized("this hub takes no subscriber tokens".into())
            })?;
            token::grants(verifier, &token).map_err(|e| ApiError::Unauthorized(e.to_string()))?
        }
        None if mercure.anonymous => Grants::default(),
        None => {
            return Err(ApiError::Unauthorized(
                "subscribing needs a JWT: in `Authorization: Bearer`, the `authorization` \
                 query parameter or the `mercureAuthorization` cookie"
                    .into(),
            ));
        }
    };
    let query = Query::parse(uri.query().unwrap_or_default())?;
    // The header wins over the query parameter, as draft-07 says.
    let last_event_id = headers
        .get("last-event-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .or(query.last_event_id)
        .filter(|id| !id.is_empty());
    let permit = sse::admit(&state)?;
    // Registered before the history is read: see `subscription`.
    let live = state.hub.subscribe();
    let located = match &last_event_id {
        Some(raw) => state.events.locate(ResumePoint::parse(raw)).await?,
        None => None,
    };
    let view = View::Mercure(Subscriber {
        selectors: query.selectors,
        private_selectors: grants.subscribe,
        expires_at: grants.expires_at,
    });
    let resume = located.map_or(Resume::Live, Resume::After);
    let mut response = sse::respond(&state, view, resume, live, permit);
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
                    if selectors.len() == MAX_SELECTORS {
                        return Err(bad(
                            "topic",
                            format!("at most {MAX_SELECTORS} topic selectors per subscription"),
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
