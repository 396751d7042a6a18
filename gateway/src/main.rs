//! `torghut-gateway`: the HTTP face of the decision engine.

mod auth;
mod config;
mod context_cache;
mod error;
mod hub;
mod request_trace;
mod routes;
mod runs;
mod sse;

use anyhow::{Context, Result};
use std::sync::Arc;
use temporalio_client::{Client, Connection};

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<config::GatewayConfig>,
    pub runs: runs::Runs,
    pub hub: hub::Hub,
    pub context: context_cache::ContextCache,
    /// True once the gateway is shutting down; open SSE streams end with a reconnect hint.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

#[tokio::main]
async fn main() -> Result<()> {
    // Logs, and trace export when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed when dropped.
    let telemetry = torghut_telemetry::init("torghut-gateway", "info")?;
    let config = config::GatewayConfig::from_env()?;
    let connection = Connection::connect(config.temporal.connection_options())
        .await
        .with_context(|| format!("connecting to Temporal at {}", config.temporal.describe()))?;
    let client = Client::new(
        connection,
        telemetry.temporal_client_options(config.temporal.namespace.clone()),
    )?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| {
            format!(
                "TORGHUT_GATEWAY_LISTEN: cannot listen on {} (is another gateway running?)",
                config.listen
            )
        })?;
    let context = context_cache::ContextCache::new(
        client.clone(),
        config.task_queue.clone(),
        config.policy.clone(),
        config.market_context_cache,
    );
    let (shutting_down, shutdown) = tokio::sync::watch::channel(false);
    let state = AppState {
        shutdown,
        context,
        runs: runs::Runs::new(
            client.clone(),
            config.task_queue.clone(),
            config.policy.clone(),
            config.llm.clone(),
        ),
        hub: hub::Hub::new(client),
        config: Arc::new(config),
    };
    tracing::info!(listen = %state.config.listen, "gateway listening");
    if state.config.auth.is_none() {
        tracing::warn!(
            "authentication is OFF: set TORGHUT_API_TOKENS_FILE for anything but local use"
        );
    }
    let auth = state.config.auth.clone();
    let app = routes::router(state).layer(axum::middleware::from_fn_with_state(
        auth,
        auth::require_token,
    ));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            torghut_connect::stop_signal().await;
            tracing::info!(
                "shutting down: ending streams with a reconnect hint, draining requests"
            );
            shutting_down.send_replace(true);
        })
        .await?;
    Ok(())
}
