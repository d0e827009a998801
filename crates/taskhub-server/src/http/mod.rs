//! The HTTP surface: routes, shared state, and the parsing of requests at the edge.

mod events;
mod fields;
mod health;
mod json_body;
mod problem;
mod tasks;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, Uri};
use axum::routing::{get, post, put};
use taskhub_store::Store;
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::auth::Verifier;
use crate::hub::Hub;
pub(crate) use problem::ApiError;

/// What every handler can reach. Cheap to clone: everything is shared.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Store,
    pub(crate) hub: Arc<Hub>,
    /// Checks tokens; `None` when authentication is off.
    pub(crate) verifier: Option<Verifier>,
    /// Cancelled when the server starts shutting down; every stream watches it.
    pub(crate) shutdown: CancellationToken,
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/events", post(events::publish))
        .route("/events/stream", get(events::stream))
        .route("/tasks", post(tasks::create).get(tasks::list))
        .route(
            "/tasks/{id}",
            get(tasks::get).patch(tasks::update).delete(tasks::delete),
        )
        .route("/tasks/status/{id}", put(tasks::set_status))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_owned())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
