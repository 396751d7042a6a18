//! The Temporal SDK core's own worker metrics (task slots, pollers, schedule-to-start and poll
//! latency, sticky cache), served on the worker's `/metrics` next to ours.
//!
//! The SDK records them through a `CoreMeter`; the only Prometheus one it ships keeps its
//! registry private and serves it over HTTP itself. So it listens on loopback, on a port the
//! kernel picks (nothing outside the pod can reach it, and it cannot collide), and the worker's
//! `/metrics` fetches that text at each scrape and appends it: an operator scrapes one port.
//! Its names all start with `temporal_` and ours with `torghut_`, so the two never share a
//! family.

use anyhow::{Context, Result, anyhow};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::telemetry::metrics::{CoreMeter, TemporalMeter};
use temporalio_common::telemetry::{
    PrometheusExporterOptions, TelemetryOptions, start_prometheus_metric_exporter, telemetry_init,
};
use tokio::task::AbortHandle;

/// A scrape's own timeout is typically 10 s; the loopback answer takes milliseconds.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

pub struct SdkMetrics {
    meter: Arc<dyn CoreMeter>,
    url: String,
    http: reqwest::Client,
    server: AbortHandle,
}

impl SdkMetrics {
    /// Starts the SDK's exporter on `127.0.0.1:0`. Names follow Prometheus' conventions:
    /// counters end in `_total`, durations are seconds with a `_seconds` suffix.
    pub fn start() -> Result<Self> {
        let options = PrometheusExporterOptions::builder()
            .socket_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .counters_total_suffix(true)
            .use_seconds_for_durations(true)
            .unit_suffix(true)
            .build();
        let started = start_prometheus_metric_exporter(options).map_err(|e| {
            anyhow!("starting the Temporal SDK's metrics exporter on loopback: {e:#}")
        })?;
        Ok(Self {
            meter: started.meter,
            url: format!("http://{}/metrics", started.bound_addr),
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .context("building the loopback HTTP client")?,
            server: started.abort_handle,
        })
    }

    /// Telemetry for the SDK runtime: metrics into this exporter. Logging stays ours
    /// (`torghut_telemetry`): the SDK core logs through `tracing` whatever this says.
    pub fn telemetry_options(&self) -> TelemetryOptions {
        TelemetryOptions::builder()
            .metrics(self.meter.clone())
            .build()
    }

    /// The meter for the Temporal client's connection: its request and long-poll latencies
    /// (`temporal_request_latency_seconds`, `temporal_long_request_latency_seconds`), with the
    /// same `temporal_` prefix and `service_name` label the runtime gives the worker's own.
    pub fn client_meter(&self) -> Result<Option<TemporalMeter>> {
        let instance = telemetry_init(self.telemetry_options())
            .map_err(|e| anyhow!("setting up the Temporal client's metrics: {e:#}"))?;
        Ok(instance.get_temporal_metric_meter())
    }

    /// The SDK's exposition text, to append to ours.
    pub async fn render(&self) -> Result<String> {
        let resp = self
            .http
            .get(&self.url)
            .send()
            .await
            .with_context(|| format!("GET {}", self.url))?
            .error_for_status()
            .with_context(|| format!("GET {}", self.url))?;
        resp.text()
            .await
            .with_context(|| format!("reading {}", self.url))
    }
}

impl Drop for SdkMetrics {
    fn drop(&mut self) {
        self.server.abort();
    }
}
