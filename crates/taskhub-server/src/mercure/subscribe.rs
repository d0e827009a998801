//! `GET /.well-known/mercure`: an event stream of the updates (and native events) whose
//! topics match the subscriber's selectors, resumable with `Last-Event-ID`.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, HOST};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::Response;
use taskhub_core::mercure::{BadHost, HubUrl, ResumePoint};

use super::caller::MercureSubscriber;
use super::discovery::PATH;
use super::subscribe_query::SubscribeQuery;
use crate::edge::{resume, stream};
use crate::error::ApiError;
use crate::error::openapi::MercureSubscribeErrors;
use crate::rate_limit::ConnectAllowed;
use crate::state::AppState;
use crate::subscription::{MercureSelection, Resume, View};

/// Subscribes. The stream's headers go out at once; the subscriber is registered with
/// the hub before they do (and before history is read), so nothing published after the
/// request arrived is missed.
#[utoipa::path(get, path = PATH, tag = "mercure",
    security((), ("bearer" = []), ("mercure_cookie" = []), ("mercure_query" = [])),
    params(
        ("topic" = Vec<String>, Query, description = "Mercure 0.x (draft-07) topic selectors: `*`, a topic, or an RFC 6570 URI template; repeatable"),
        ("match" = Vec<String>, Query, description = "Mercure 1.0 exact topic matchers: the topic, byte for byte (`*`: every topic); repeatable. Any other parameter named `match…` (ASCII case-insensitive) than these three is a 400"),
        ("match_exact" = Vec<String>, Query, description = "Mercure 1.0 exact topic matchers, as `match`; repeatable"),
        ("match_urlpattern" = Vec<String>, Query, description = "Mercure 1.0 WHATWG URL Pattern matchers (`https://example.com/books/:id`; relative ones resolved against the hub's URL; `*`: every topic); repeatable, at most 20, each at most 1024 bytes. All selectors together: at least one, at most 100"),
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
    let hub = hub_url(&state, &headers, &uri);
    let query = SubscribeQuery::parse(uri.query().unwrap_or_default(), &hub)?;
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

/// The hub's URL as this request reached it: `https` when TaskHub serves TLS itself, and
/// the `Host` header (HTTP/1.1) or the request's authority (HTTP/2).
fn hub_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<HubUrl, BadHost> {
    let scheme = if state.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| uri.authority().map(|authority| authority.as_str()))
        .unwrap_or_default();
    HubUrl::new(scheme, host)
}
