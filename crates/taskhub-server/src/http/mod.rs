//! The HTTP surface: routes, shared state, and the parsing of requests at the edge.

mod board;
pub(crate) mod body;
mod cors;
pub(crate) mod events;
mod fields;
mod head_limit;
mod health;
mod metrics;
pub(crate) mod openapi;
mod problem;
pub(crate) mod sse;
pub(crate) mod tasks;

use std::sync::Arc;

use axum::http::{Method, Uri};
use axum::routing::{get, post, put};
use axum::{Router, middleware};
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::auth::Verifier;
use crate::backend::{EventLog, TaskStore};
use crate::hub::Hub;
use crate::mercure::{self, Mercure};
use crate::rate_limit::Limits;
pub use cors::{BadOrigin, CorsOrigins};
pub(crate) use problem::ApiError;

/// What every handler can reach. Cheap to clone: everything is shared.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) events: EventLog,
    pub(crate) tasks: TaskStore,
    pub(crate) hub: Arc<Hub>,
    /// Checks tokens; `None` when authentication is off.
    pub(crate) verifier: Option<Verifier>,
    /// The Mercure hub at `/.well-known/mercure`; `None` when it is off.
    pub(crate) mercure: Option<Arc<Mercure>>,
    /// Per-address rate limits.
    pub(crate) limits: Arc<Limits>,
    /// Cancelled when the server starts shutting down; every stream watches it.
    pub(crate) shutdown: CancellationToken,
}

pub(crate) fn router(state: AppState) -> Router {
    let tasks = Router::new()
        .route("/tasks", post(tasks::create).get(tasks::list))
        .route(
            "/tasks/{id}",
            get(tasks::get).patch(tasks::update).delete(tasks::delete),
        )
        .route("/tasks/status/{id}", put(tasks::set_status));
    let mut router = Router::new()
        .route("/events", post(events::publish))
        .route("/events/stream", get(events::stream));
    if state.mercure.is_some() {
        router = router
            .route(
                mercure::PATH,
                get(mercure::subscribe::subscribe).post(mercure::publish::publish),
            )
            .merge(tasks.layer(middleware::map_response(mercure::link_header)));
    } else {
        router = router.merge(tasks);
    }
    let router = router
        .route("/", get(board::page))
        .route("/assets/{file}", get(board::asset))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::document))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed);
    let head_limit = state.config.max_header_bytes;
    let cors_origins = Arc::new(state.config.cors_origins.clone());
    let router = router
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            head_limit,
            head_limit::limit_head,
        ));
    if cors_origins.is_empty() {
        router
    } else {
        router.layer(middleware::from_fn_with_state(cors_origins, cors::cors))
    }
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_owned())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
