//! The trace of an API request: the caller's W3C `traceparent` when it sent a valid one, else a
//! new trace (an invalid header restarts the trace, as the W3C recommendation says). The request
//! runs inside a `request` span carrying `trace_id`, so every log line of it names the trace; the
//! handler reads [`RequestTrace`] and hands it to the runs it starts.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use torghut_proto::trace::TraceParent;
use tracing::Instrument;

/// The trace context a request hands on: its trace, with the request's span as parent.
#[derive(Debug, Clone, Copy)]
pub struct RequestTrace(pub TraceParent);

pub async fn traced(mut req: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        trace_id = tracing::field::Empty,
    );
    let header = req
        .headers()
        .get("traceparent")
        .map(|v| v.to_str().map_err(|e| e.to_string()));
    let incoming = match header {
        None => None,
        Some(raw) => match raw.and_then(|h| TraceParent::parse(h).map_err(|e| e.to_string())) {
            Ok(parent) => Some(parent),
            Err(reason) => {
                span.in_scope(|| tracing::debug!(%reason, "ignoring the caller's traceparent"));
                None
            }
        },
    };
    let trace = torghut_telemetry::context::start_request(&span, incoming);
    req.extensions_mut().insert(RequestTrace(trace));
    next.run(req).instrument(span).await
}
