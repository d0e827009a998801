//! `/healthz` (the process answers) and `/readyz` (the stores answer too).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::backend;
use crate::error::ApiError;
use crate::error::openapi::ReadyErrors;
use crate::state::AppState;

/// `{"status": "…"}`, from health checks and the seed's status call.
#[derive(Serialize, ToSchema)]
pub(crate) struct Status {
    #[schema(example = "ok")]
    status: String,
}

/// The process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Status)))]
pub(crate) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The stores can commit a write now, proved by committing one: on one node a heartbeat
/// row in the SQLite file (and at least 1 MiB free beside it); in cluster mode a
/// heartbeat key in Redis (with this node's reader following the stream) and a heartbeat
/// row in PostgreSQL. Each probe asks afresh, so it recovers with the store.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Status), ReadyErrors))]
pub(crate) async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    backend::ping(&state.events, &state.tasks).await?;
    Ok(Json(json!({ "status": "ready", "store": "ok" })))
}
