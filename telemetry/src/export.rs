//! The span exporter: OTLP/HTTP protobuf, batched, through the workspace's own `reqwest`.

use crate::TelemetryError;
use bytes::Bytes;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample,
    Tracer,
};
use std::time::Duration;
use temporalio_sdk::opentelemetry::{WorkflowIdGenerator, WorkflowSpanProcessor};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

/// Per export request; the OTLP default.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The tracer provider, also installed as the global one: the Temporal SDK's plugin starts its
/// spans from the global tracer.
pub(crate) fn provider(service_name: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let client = reqwest::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| TelemetryError::Exporter(format!("needs a Tokio runtime: {e}")))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(OnRuntime { client, runtime })
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let provider = SdkTracerProvider::builder()
        // Replay-safe ids for the SDK's workflow spans (outside a workflow: random ones), and no
        // span export while a workflow replays; both as the SDK's plugin asks.
        .with_id_generator(WorkflowIdGenerator::default())
        .with_span_processor(WorkflowSpanProcessor::new(
            BatchSpanProcessor::builder(exporter).build(),
        ))
        .with_sampler(Sampler::ParentBased(Box::new(NoBackgroundTemporalCalls)))
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(provider)
}

/// The `tracing` → OpenTelemetry bridge, for our own spans only: the SDK and its dependencies
/// have `tracing` spans of their own (polls, gRPC calls) that would each be a trace of noise.
pub(crate) fn layer<S>(provider: &SdkTracerProvider, service_name: &str) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let tracer: Tracer = provider.tracer(service_name.to_owned());
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(filter_fn(|meta| {
            meta.target().starts_with("torghut") && *meta.level() <= tracing::Level::INFO
        }))
}

/// Flushes what is queued and stops the exporter. The export runs on the Tokio runtime while
/// this thread waits, so on a multi-threaded runtime the wait moves off the runtime's workers.
pub(crate) fn shutdown(provider: SdkTracerProvider) {
    let stop = move || {
        if let Err(e) = provider.shutdown() {
            tracing::warn!(error = %e, "flushing traces at exit failed");
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(stop);
        }
        _ => stop(),
    }
}

/// Root sampler: drops the Temporal SDK's client calls that no request started — the gateway's
/// event long-polls and readiness describes, every few seconds per run — which would otherwise
/// each be a one-span trace. A call made inside a request or an activity has a parent and is
/// sampled with it (`ParentBased`); every other root span is sampled.
#[derive(Debug, Clone)]
struct NoBackgroundTemporalCalls;

impl ShouldSample for NoBackgroundTemporalCalls {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let decision = if *span_kind == SpanKind::Client {
            SamplingDecision::Drop
        } else {
            SamplingDecision::RecordAndSample
        };
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state: parent_context
                .map(|c| c.span().span_context().trace_state().clone())
                .unwrap_or_default(),
        }
    }
}

/// The exporter's HTTP client. The SDK's batch processor exports from a thread of its own, where
/// an async client finds no Tokio reactor; so each request is sent on the process's runtime and
/// the batch thread only waits for it. This keeps one HTTP stack (the workspace's `reqwest`,
/// with rustls, so `https://` collectors work) instead of a second, blocking one.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        self.runtime
            .spawn(async move {
                let response = client.execute(request).await?;
                let mut out = http::Response::builder().status(response.status());
                if let Some(headers) = out.headers_mut() {
                    *headers = response.headers().clone();
                }
                let body = response.bytes().await?;
                Ok::<_, HttpError>(out.body(body)?)
            })
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

    fn decide(parent: Option<&Context>, kind: SpanKind) -> SamplingDecision {
        Sampler::ParentBased(Box::new(NoBackgroundTemporalCalls))
            .should_sample(parent, TraceId::from(7), "x", &kind, &[], &[])
            .decision
    }

    #[test]
    fn unparented_temporal_calls_are_dropped_and_everything_else_follows_its_parent() {
        assert_eq!(decide(None, SpanKind::Client), SamplingDecision::Drop);
        assert_eq!(
            decide(None, SpanKind::Internal),
            SamplingDecision::RecordAndSample
        );
        assert_eq!(
            decide(None, SpanKind::Server),
            SamplingDecision::RecordAndSample
        );
        let sampled = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7),
            SpanId::from(1),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ));
        assert_eq!(
            decide(Some(&sampled), SpanKind::Client),
            SamplingDecision::RecordAndSample
        );
        let unsampled = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7),
            SpanId::from(1),
            TraceFlags::default(),
            true,
            TraceState::default(),
        ));
        assert_eq!(
            decide(Some(&unsampled), SpanKind::Internal),
            SamplingDecision::Drop
        );
    }
}
