//! The routes: every endpoint of both protocols, and the layers around them (the
//! request-head limit, CORS). Nothing imports this but `server`.

use std::sync::Arc;

use axum::http::{Method, Uri};
use axum::routing::{get, post, put};
use axum::{Router, middleware};

use crate::api::{console, events, health, history, metrics, presence, tasks, webhooks};
use crate::edge::{cors, head_limit};
use crate::error::ApiError;
use crate::mercure;
use crate::openapi;
use crate::state::AppState;

/// Every route, with the state every handler shares.
pub(crate) fn router(state: AppState) -> Router {
    let tasks = Router::new()
        .route("/tasks", post(tasks::create).get(tasks::list))
        .route(
            "/tasks/{id}",
            get(tasks::get).patch(tasks::update).delete(tasks::delete),
        )
        .route("/tasks/status/{id}", put(tasks::set_status));
    let mut router = Router::new()
        .route("/events", post(events::publish).get(history::list))
        .route("/events/stream", get(events::stream))
        .route("/events/{id}", get(history::get))
        .route("/topics/{*topic}", get(history::latest))
        .route("/presence", get(presence::presence));
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
        .route("/", get(console::page))
        .route("/assets/{file}", get(console::asset))
        .route("/favicon.ico", get(console::favicon))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::render))
        .route("/webhooks", get(webhooks::list))
        .route("/webhooks/redeliver", post(webhooks::redeliver))
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
