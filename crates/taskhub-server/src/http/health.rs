//! `/healthz` (the process answers) and `/readyz` (the store answers too).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use super::openapi::{ReadyErrors, Status};
use super::problem::ApiError;

/// The process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Status)))]
pub(crate) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The store can commit a write.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Status), ReadyErrors))]
pub(crate) async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ready", "store": "ok" })))
}
