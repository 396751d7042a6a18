//! Liveness (the process answers) and readiness (Temporal answers too).

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `503` from the stop signal on (see `AppState::draining`), so a load balancer that probes it
/// stops routing here while this gateway still answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    if *state.draining.borrow() {
        return Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": {
                "code": "draining",
                "message": "the gateway got its stop signal: it finishes what it serves, then stops",
            }})),
        )
            .into_response());
    }
    state.runs.ping().await?;
    Ok(Json(json!({"status": "ready", "watched_runs": state.hub.watched()})).into_response())
}
