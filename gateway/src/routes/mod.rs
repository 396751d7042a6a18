//! HTTP routes, one module per resource.

pub mod health;
pub mod market_context;
pub mod metrics;
pub mod openapi;
pub mod runs;
pub mod stream;
pub mod triggers;

use crate::AppState;
use crate::request_trace::traced;
use axum::Router;
use axum::middleware::from_fn;
use axum::routing::{get, post};

pub fn router(state: AppState) -> Router {
    Router::new()
        // Requests that start runs are traced (`request_trace`); reads and probes are not.
        .route(
            "/api/torghut/decision-engine/stream",
            post(stream::start_and_stream).layer(from_fn(traced)),
        )
        .route(
            "/api/torghut/decision-engine/runs",
            post(runs::submit).layer(from_fn(traced)),
        )
        .route(
            "/api/torghut/decision-engine/triggers",
            post(triggers::submit_triggers).layer(from_fn(traced)),
        )
        .route("/api/torghut/decision-engine/runs/{id}", get(runs::get_run))
        .route(
            "/api/torghut/decision-engine/runs/{id}/events",
            get(runs::resume_events),
        )
        .route(
            "/api/torghut/decision-engine/runs/{id}/cancel",
            post(runs::cancel_run),
        )
        // Torghut's contract, and the engine's own richer shape (routes/market_context.rs); the
        // paths are `open_reads::MARKET_CONTEXT_PATHS`.
        .route(
            "/api/torghut/market-context",
            get(market_context::torghut_market_context).layer(from_fn(traced)),
        )
        .route(
            "/api/torghut/market-context/health",
            get(market_context::torghut_market_context_health),
        )
        .route(
            "/api/torghut/market-context/engine",
            get(market_context::engine_market_context).layer(from_fn(traced)),
        )
        .route(
            "/api/torghut/market-context/engine/health",
            get(market_context::engine_market_context_health),
        )
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
}
