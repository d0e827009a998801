//! `/healthz` (the process answers) and `/readyz` (the store answers too).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use super::problem::ApiError;

pub(crate) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ready", "store": "ok" })))
}
