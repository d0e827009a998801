//! Opening an event stream, for both protocols' subscribe endpoints: the stream permit,
//! the subscription, and the response's headers.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::ApiError;
use crate::hub::Live;
use crate::metrics::METRICS;
use crate::presence::Attendance;
use crate::state::AppState;
use crate::subscription::{Request, Resume, Settings, Subscription, View};

/// A `--max-clients` permit, or the 503 for a server at its limit: of streams, or of the
/// connections its open-file limit leaves room for, less the reserve kept for short
/// requests (`connection_budget`). Taken after every check of the request, so a refused
/// request never holds a slot.
pub(crate) fn admit(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
    if !state.connections.admits_stream() {
        METRICS.streams_rejected_reserve.inc();
        return Err(ApiError::ConnectionReserve {
            limit: state.connections.capacity(),
            retry_after: state.config.retry,
        });
    }
    state.hub.admit().ok_or_else(|| {
        METRICS.streams_rejected.inc();
        ApiError::TooManyStreams {
            limit: state.config.max_clients,
            retry_after: state.config.retry,
        }
    })
}

/// The streaming response. `live` must have been taken from the hub before anything was
/// read from the log for this stream, so the replay seam has no gap. With `attendance`,
/// the stream is present on its selectors for as long as it lives.
pub(crate) fn respond(
    state: &AppState,
    view: View,
    resume: Resume,
    live: Live,
    permit: OwnedSemaphorePermit,
    attendance: Option<Attendance>,
) -> Response {
    let config = &state.config;
    let settings = Settings {
        retry: config.retry,
        keepalive: config.keepalive,
        policy: config.slow_client_policy,
        buffer: config.client_buffer as u64,
    };
    let client_id = state.hub.new_client_id();
    let presence = attendance.and_then(|a| state.presence.track(a, &client_id));
    let subscription = Subscription::new(
        Request {
            view,
            resume,
            presence,
        },
        settings,
        state.events.clone(),
        live,
        &client_id,
        state.shutdown.clone(),
        permit,
    );
    let mut response = Body::from_stream(subscription.into_body_stream()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
