//! Logs and traces of the gateway and the worker, set up in one place so both binaries log the
//! same way and export to the same kind of collector.
//!
//! [`init`] always installs the `fmt` log subscriber (filtered by `RUST_LOG`); span fields such as
//! `trace_id` appear on every log line inside the span. When `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set it also exports spans over OTLP/HTTP protobuf:
//! our own `tracing` spans through `tracing-opentelemetry`, and the Temporal SDK's spans (client
//! calls, workflow runs, activity runs) through its OpenTelemetry plugin, which also carries the
//! trace context from the gateway's workflow start to the worker in Temporal headers. Unset, none
//! of that is built: no exporter, no plugin, nothing but the log lines.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | collector base URL (`/v1/traces` is appended); set: export on |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | full traces URL; wins over the above |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | `k=v,...` sent with every export (e.g. an auth header) |
//! | `OTEL_SERVICE_NAME` | `service.name` (default `torghut-gateway` / `torghut-worker`) |
//! | `OTEL_RESOURCE_ATTRIBUTES` | more resource attributes, `k=v,...` |
//! | `OTEL_SDK_DISABLED` | `true`: export off whatever else is set |
//! | `OTEL_BSP_*` | batch size and delay of the span exporter |
//!
//! [`context`] is how a request or an activity joins a trace.

pub mod context;
mod export;

use std::fmt;
use temporalio_client::ClientOptions;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a log subscriber is already installed: {0}")]
    Subscriber(String),
}

/// What the environment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Export spans over OTLP.
    pub export: bool,
    pub service_name: String,
}

impl Settings {
    /// Reads the standard `OTEL_*` variables through `var` (the environment, or a map in tests).
    /// `default_service` is the binary's name, used when neither `OTEL_SERVICE_NAME` nor a
    /// `service.name` in `OTEL_RESOURCE_ATTRIBUTES` names the service.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, default_service: &str) -> Self {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let disabled = set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim() == "true");
        let no_exporter = set("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none");
        let endpoint = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .is_some();
        let service_name = set("OTEL_SERVICE_NAME")
            .or_else(|| {
                set("OTEL_RESOURCE_ATTRIBUTES").and_then(|attrs| {
                    attrs.split(',').find_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        (k.trim() == "service.name" && !v.trim().is_empty())
                            .then(|| v.trim().to_owned())
                    })
                })
            })
            .unwrap_or_else(|| default_service.to_owned());
        Self {
            export: endpoint && !disabled && !no_exporter,
            service_name: service_name.trim().to_owned(),
        }
    }
}

/// The installed telemetry. Keep it for the life of the process: dropping it flushes the spans
/// still queued and stops the exporter.
pub struct Telemetry {
    settings: Settings,
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Installs the process's log subscriber, and the span exporter when the environment asks for
/// one. `default_filter` applies when `RUST_LOG` is unset. Call once, first thing in `main`,
/// inside the Tokio runtime (the exporter sends on it).
pub fn init(default_service: &str, default_filter: &str) -> Result<Telemetry, TelemetryError> {
    let settings = Settings::from_vars(|v| std::env::var(v).ok(), default_service);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into());
    let fmt = tracing_subscriber::fmt::layer().with_filter(filter);
    let (provider, spans) = if settings.export {
        let provider = export::provider(&settings.service_name)?;
        let layer = export::layer(&provider, &settings.service_name);
        (Some(provider), Some(layer))
    } else {
        (None, None)
    };
    tracing_subscriber::registry()
        .with(fmt)
        .with(spans)
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
    if settings.export {
        tracing::info!(service = %settings.service_name, "exporting traces over OTLP/HTTP");
    }
    Ok(Telemetry { settings, provider })
}

impl Telemetry {
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Options of a Temporal client in `namespace`. With export on they carry the SDK's
    /// OpenTelemetry plugin: the client traces its calls and puts the trace context in the
    /// headers of what it starts, and a worker built on the client runs workflows and
    /// activities under that context.
    pub fn temporal_client_options(&self, namespace: String) -> ClientOptions {
        let options = ClientOptions::new(namespace);
        if self.provider.is_some() {
            options
                .plugin(temporalio_sdk::opentelemetry::OpenTelemetryPlugin::builder().build())
                .build()
        } else {
            options.build()
        }
    }

    /// Flushes the queued spans and stops the exporter (what dropping does).
    pub fn shutdown(mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(provider) = self.provider.take() {
            export::shutdown(provider);
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_vars(|v| map.get(v).cloned(), "torghut-worker")
    }

    #[test]
    fn export_is_on_only_with_an_endpoint_and_not_disabled() {
        let on = |vars: &[(&str, &str)]| settings(vars).export;
        assert!(!on(&[]));
        assert!(!on(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]));
        assert!(on(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]));
        assert!(on(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces"
        )]));
        assert!(!on(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ]));
        assert!(!on(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ]));
    }

    #[test]
    fn the_service_name_comes_from_the_standard_variables_else_the_binary() {
        let name = |vars: &[(&str, &str)]| settings(vars).service_name;
        assert_eq!(name(&[]), "torghut-worker");
        assert_eq!(
            name(&[("OTEL_SERVICE_NAME", "worker-paper")]),
            "worker-paper"
        );
        assert_eq!(
            name(&[(
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=paper, service.name=w2"
            )]),
            "w2"
        );
        assert_eq!(
            name(&[
                ("OTEL_SERVICE_NAME", "w1"),
                ("OTEL_RESOURCE_ATTRIBUTES", "service.name=w2")
            ]),
            "w1"
        );
        assert_eq!(
            name(&[("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=paper")]),
            "torghut-worker"
        );
    }
}
