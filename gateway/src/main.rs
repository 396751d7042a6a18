//! `torghut-gateway`: the HTTP face of the decision engine.

mod auth;
mod config;
mod connections;
mod context_cache;
mod error;
mod exposure;
mod hub;
mod metrics;
mod open_reads;
mod query;
mod request_trace;
mod routes;
mod runs;
mod sse;
mod torghut_context;

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use temporalio_client::{Client, Connection};
use torghut_config::Binary;

/// Configuration is the environment plus an optional TOML file (docs/configuration.md).
#[derive(Parser)]
#[command(
    name = "torghut-gateway",
    version,
    about = "The HTTP face of the Torghut decision engine."
)]
struct Cli {
    /// TOML config file (default: $TORGHUT_CONFIG_FILE, if set); a variable set in the
    /// environment wins over its key.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Load and validate the configuration, print every setting with its source (secrets as
    /// <set>/<unset>), and exit: 0 when it is valid. Does not connect to Temporal.
    #[arg(long)]
    check_config: bool,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<config::GatewayConfig>,
    pub runs: runs::Runs,
    pub hub: hub::Hub,
    pub context: context_cache::ContextCache,
    pub metrics: Arc<metrics::GatewayMetrics>,
    /// Asks the exposure ledgers what they hold, for `/metrics`.
    pub exposure: Arc<exposure::ExposureSampler>,
    /// True once the gateway is shutting down; open SSE streams end with a reconnect hint.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// True from the stop signal on: `/readyz` fails, while requests are still served for
    /// `TORGHUT_GATEWAY_SHUTDOWN_DELAY_SECONDS` before `shutdown`.
    pub draining: tokio::sync::watch::Receiver<bool>,
}

/// Configuration first, while the process has one thread (see `export_to_env`); then the
/// runtime, which `#[tokio::main]` would have started before any of it.
fn main() -> Result<()> {
    let cli = Cli::parse();
    let file = torghut_config::config_file_path(cli.config);
    let settings = torghut_config::Config::load(Binary::Gateway, file.as_deref())?;
    // SAFETY: no other thread exists yet: argument parsing and the loader start none, and the
    // tokio runtime is built below.
    unsafe { settings.export_to_env() };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(async {
            // Logs, and trace export when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed when
            // dropped, after the server has stopped.
            let telemetry = torghut_telemetry::init("torghut-gateway", "info")?;
            let config = config::GatewayConfig::from_env()
                .map_err(|e| anyhow!(settings.explain(&format!("{e:#}"))))?;
            if cli.check_config {
                println!("torghut-gateway: configuration is valid");
                print!("{}", settings.report());
                return Ok(());
            }
            serve(config, &telemetry)
                .await
                // Binding the listen address can still fail on a value from the file.
                .map_err(|e| anyhow!(settings.explain(&format!("{e:#}"))))
        })
}

async fn serve(
    config: config::GatewayConfig,
    telemetry: &torghut_telemetry::Telemetry,
) -> Result<()> {
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
    let (start_draining, draining) = tokio::sync::watch::channel(false);
    let shutdown_delay = config.shutdown_delay;
    let metrics = Arc::new(metrics::GatewayMetrics::new().context("registering the metrics")?);
    let state = AppState {
        shutdown,
        draining,
        context,
        runs: runs::Runs::new(
            client.clone(),
            config.task_queue.clone(),
            config.policy.clone(),
            config.llm.clone(),
            metrics.clone(),
        ),
        exposure: Arc::new(exposure::ExposureSampler::new(client.clone())),
        hub: hub::Hub::new(client, metrics.clone()),
        metrics: metrics.clone(),
        config: Arc::new(config),
    };
    tracing::info!(listen = %state.config.listen, "gateway listening");
    if state.config.auth.is_none() {
        tracing::warn!(
            "authentication is OFF: set TORGHUT_API_TOKENS_FILE for anything but local use"
        );
    }
    if state.config.market_context_public {
        tracing::warn!(
            "TORGHUT_MARKET_CONTEXT_PUBLIC: the market-context routes answer without a token"
        );
    }
    if let Some(auth) = &state.config.auth {
        let unscoped = auth.unscoped();
        if !unscoped.is_empty() {
            tracing::warn!(
                tokens = ?unscoped,
                "tokens without role= or scopes are operators (read and cancel every run); give client tokens role=client accounts= strategies="
            );
        }
    }
    let limits = state.config.connections;
    let fd_limit = connections::check_fd_limit(&limits).map_err(|e| anyhow!(e))?;
    tracing::info!(
        fd_limit,
        max_connections = limits.max_connections,
        max_per_peer = limits.max_per_peer,
        "connection bounds"
    );
    let connections = metrics.connections();
    let auth = (
        state.config.auth.clone(),
        state.config.market_context_public,
    );
    // Counting outside authentication, so refused requests (401, 429) are counted too.
    let app = routes::router(state)
        .layer(axum::middleware::from_fn_with_state(
            auth,
            open_reads::authenticate,
        ))
        // Every refusal in the JSON envelope, a 401 or an unknown route included.
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::count_requests,
        ));
    connections::serve(listener, app, limits, connections, async move {
        torghut_connect::stop_signal().await;
        // Readiness fails first, while everything is still served, so a probing load
        // balancer stops sending new requests before this gateway stops accepting them.
        start_draining.send_replace(true);
        if !shutdown_delay.is_zero() {
            tracing::info!(
                delay_seconds = shutdown_delay.as_secs(),
                "stop signal: /readyz fails now; still serving until the delay ends"
            );
            tokio::time::sleep(shutdown_delay).await;
        }
        tracing::info!("shutting down: ending streams with a reconnect hint, draining requests");
        shutting_down.send_replace(true);
    })
    .await?;
    Ok(())
}
