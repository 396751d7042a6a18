//! `GET /metrics`: the gateway's metrics in the Prometheus text format. Open like the probes
//! (see `auth.rs`): a scraper carries no token, and the metrics name no run, symbol or token.

use crate::AppState;
use crate::metrics::GatewayMetrics;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.set_runs_watched(state.hub.watched());
    let held = state.exposure.sample().await;
    if let Err(e) = &held {
        tracing::warn!(error = %e, "exposure gauges not refreshed");
    }
    state.metrics.set_exposure(held.ok());
    match state.metrics.render() {
        Ok(text) => (
            [(header::CONTENT_TYPE, GatewayMetrics::content_type())],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("metrics: {e}")).into_response()
        }
    }
}
