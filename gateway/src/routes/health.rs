//! Liveness (the process answers) and readiness (Temporal answers too).

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.runs.ping().await?;
    Ok(Json(
        json!({"status": "ready", "watched_runs": state.hub.watched()}),
    ))
}
