//! The worker's small HTTP listener, for Kubernetes and Prometheus: `/healthz` (the process
//! answers), `/readyz` (connected to Temporal and polling) and `/metrics` (what the activities
//! record, `torghut_activities::metrics`, then the Temporal SDK core's worker metrics,
//! `crate::sdk_metrics`). It serves nothing else; the worker's work arrives through Temporal.

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use temporalio_client::errors::WorkflowInteractionError;
use temporalio_client::{Client, WorkflowDescribeOptions};
use torghut_activities::metrics::ActivityMetrics;
use torghut_config::{SettingError, Settings, keys};
use torghut_workflows::DecisionWorkflow;

use crate::sdk_metrics::SdkMetrics;

pub const LISTEN_VAR: &str = keys::TORGHUT_WORKER_METRICS_LISTEN.env;
/// A readiness probe must answer within its own timeout; Temporal gets less than that.
const TEMPORAL_PING_TIMEOUT: Duration = Duration::from_secs(3);

/// `TORGHUT_WORKER_METRICS_LISTEN` (the table's default when unset), checked at start like
/// every other setting: an address, or `None` for `off`.
pub fn listen_address(settings: &Settings) -> Result<Option<SocketAddr>, SettingError> {
    settings.get(&keys::TORGHUT_WORKER_METRICS_LISTEN, |addr| match addr {
        "off" => Ok(None),
        addr => addr
            .parse()
            .map(Some)
            .map_err(|_| format!("expected host:port (e.g. 0.0.0.0:9464) or off, got {addr:?}")),
    })
}

/// What the probes read: the metrics, and whether the worker is polling (and through which
/// client it reaches Temporal).
pub struct Probes {
    metrics: Arc<ActivityMetrics>,
    sdk: Option<SdkMetrics>,
    temporal: OnceLock<Client>,
    polling: AtomicBool,
}

impl Probes {
    pub fn new(metrics: Arc<ActivityMetrics>, sdk: Option<SdkMetrics>) -> Arc<Self> {
        Arc::new(Self {
            metrics,
            sdk,
            temporal: OnceLock::new(),
            polling: AtomicBool::new(false),
        })
    }

    /// The worker connected with `client` and starts polling.
    pub fn polling(&self, client: Client) {
        let _ = self.temporal.set(client);
        self.polling.store(true, Ordering::SeqCst);
    }

    /// The worker stopped taking tasks (shutting down): not ready, though still draining.
    pub fn stopping(&self) {
        self.polling.store(false, Ordering::SeqCst);
    }

    /// Why the worker is not ready, if it is not. Polling alone is not enough: a worker that
    /// lost Temporal keeps its pollers retrying, so readiness asks Temporal as well (a describe
    /// of an id that never exists must come back "not found", as the gateway's readiness does).
    async fn not_ready(&self) -> Option<String> {
        if !self.polling.load(Ordering::SeqCst) {
            return Some("not polling (starting or shutting down)".to_owned());
        }
        let client = self.temporal.get()?;
        let handle = client.get_workflow_handle::<DecisionWorkflow>("torghut-readiness-probe");
        match tokio::time::timeout(
            TEMPORAL_PING_TIMEOUT,
            handle.describe(WorkflowDescribeOptions::default()),
        )
        .await
        {
            Ok(Ok(_)) | Ok(Err(WorkflowInteractionError::NotFound(_))) => None,
            Ok(Err(e)) => Some(format!("temporal: {e}")),
            Err(_) => Some(format!(
                "temporal: no answer within {TEMPORAL_PING_TIMEOUT:?}"
            )),
        }
    }
}

async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(probes): State<Arc<Probes>>) -> Response {
    match probes.not_ready().await {
        None => axum::Json(json!({"status": "ready"})).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "not_ready", "reason": reason})),
        )
            .into_response(),
    }
}

async fn metrics(State(probes): State<Arc<Probes>>) -> Response {
    match probes.metrics.render() {
        Ok(mut text) => {
            // Ours whatever happens to the SDK's: a scrape that lost the SDK's families shows
            // as their absence (and a warning here), not as a failed scrape of everything.
            if let Some(sdk) = &probes.sdk {
                match sdk.render().await {
                    Ok(more) => text.push_str(&more),
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "the Temporal SDK's metrics are missing from this scrape")
                    }
                }
            }
            (
                [(header::CONTENT_TYPE, ActivityMetrics::content_type())],
                text,
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering the metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

fn router(probes: Arc<Probes>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(probes)
}

/// Binds `addr` now (so a taken port stops the worker at start, naming the variable) and serves
/// in the background for the life of the process.
pub async fn serve(addr: SocketAddr, probes: Arc<Probes>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("{LISTEN_VAR}: cannot listen on {addr} (set it to another address, or off)")
    })?;
    tracing::info!(listen = %addr, "worker metrics and probes listening");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(probes)).await {
            tracing::error!(error = %e, "the metrics and probes listener stopped");
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use torghut_activities::metrics::AttemptOutcome;
    use tower::ServiceExt;

    #[test]
    fn the_listen_address_defaults_parses_or_is_off() {
        let listen = |value: Option<&str>| {
            let value = value.map(str::to_owned);
            listen_address(&Settings::from_lookup(move |_| value.clone()))
        };
        let default: SocketAddr = "0.0.0.0:9464".parse().expect("default");
        assert_eq!(listen(None).expect("unset"), Some(default));
        assert_eq!(listen(Some("")).expect("empty"), Some(default));
        assert_eq!(listen(Some("off")).expect("off"), None);
        assert_eq!(
            listen(Some("127.0.0.1:9999")).expect("addr"),
            Some("127.0.0.1:9999".parse().expect("addr"))
        );
        let e = listen(Some("9464")).expect_err("no host");
        assert!(e.to_string().starts_with(LISTEN_VAR), "{e}");
    }

    async fn get(app: &Router, path: &str) -> (StatusCode, String, String) {
        let request = Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let resp = app.clone().oneshot(request).await.expect("response");
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, ctype, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn alive_at_once_ready_only_when_polling_and_metrics_in_the_text_format() {
        let metrics = Arc::new(ActivityMetrics::new().expect("metrics"));
        metrics.observe_attempt(
            "technicals-regime",
            Duration::from_millis(5),
            AttemptOutcome::Ok,
        );
        let probes = Probes::new(metrics, None);
        let app = router(probes.clone());

        assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
        let (status, _, body) = get(&app, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains("not polling"), "{body}");

        let (status, ctype, text) = get(&app, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
        assert!(
            text.lines().any(|l| l
                == r#"torghut_worker_skill_outcomes_total{outcome="ok",skill="technicals-regime"} 1"#),
            "{text}"
        );
        assert_eq!(get(&app, "/nothing-else").await.0, StatusCode::NOT_FOUND);
    }
}
