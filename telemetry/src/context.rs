//! Joining a trace: a request's span continues its caller's trace (or starts one), and an
//! activity's span continues its run's.
//!
//! Both work with export off too: then there is no OpenTelemetry span, but the trace id is still
//! decided here, recorded in the span's `trace_id` field (so it is on every log line) and handed
//! on in the workflow input (so it is on every event).

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use torghut_proto::trace::TraceParent;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The caller's context as the parent of what we start.
fn remote(parent: TraceParent) -> opentelemetry::Context {
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_bytes(parent.trace_id),
        SpanId::from_bytes(parent.parent_id),
        TraceFlags::new(parent.flags),
        true,
        TraceState::default(),
    ))
}

fn of(span: &SpanContext) -> TraceParent {
    TraceParent {
        trace_id: span.trace_id().to_bytes(),
        parent_id: span.span_id().to_bytes(),
        flags: span.trace_flags().to_u8(),
    }
}

/// Makes `span` — a request's span, declared with an empty `trace_id` field and not yet entered —
/// continue `incoming`'s trace, or start a new one. Returns the context the request hands on:
/// the trace, with the request's span as the parent of whatever it starts.
pub fn start_request(span: &tracing::Span, incoming: Option<TraceParent>) -> TraceParent {
    if let Some(parent) = incoming {
        // Fails only when export is off (no OpenTelemetry layer): nothing to parent then.
        let _ = span.set_parent(remote(parent));
    }
    let exported = span.context().span().span_context().clone();
    let trace = if exported.is_valid() {
        of(&exported)
    } else {
        // Ids of our own (UUID v4 bits: the version nibble and the variant bits are never zero,
        // so neither id is the invalid all-zero one).
        let trace_id = uuid::Uuid::new_v4().into_bytes();
        let span_bits = uuid::Uuid::new_v4().into_bytes();
        let mut parent_id = [0u8; 8];
        parent_id.copy_from_slice(&span_bits[8..]);
        match incoming {
            Some(caller) => TraceParent {
                parent_id,
                ..caller
            },
            None => TraceParent {
                trace_id,
                parent_id,
                flags: TraceParent::SAMPLED,
            },
        }
    };
    span.record("trace_id", trace.trace_id_hex());
    trace
}

/// Makes `span` — an activity's span, declared with an empty `trace_id` field and not yet
/// entered — continue its run's trace `run` (from the activity input). Its parent is the SDK's
/// activity span when the SDK's plugin propagated one in the same trace; otherwise the run's
/// context itself, so the span is found under the run's trace id either way (a run of the
/// intraday loop carries the loop's context in its Temporal headers, but its own trace id in its
/// input). Returns the trace the span joined, `None` when neither says one.
pub fn join_run(span: &tracing::Span, run: Option<TraceParent>) -> Option<TraceParent> {
    let current = opentelemetry::Context::current();
    let propagated = current.span().span_context().clone();
    let joined = match run {
        Some(run) if propagated.is_valid() && propagated.trace_id().to_bytes() == run.trace_id => {
            let _ = span.set_parent(current);
            run
        }
        Some(run) => {
            let _ = span.set_parent(remote(run));
            // The SDK's span, if any, is in another trace (the loop's); keep the way to it.
            span.add_link(propagated);
            run
        }
        None if propagated.is_valid() => of(&propagated),
        None => return None,
    };
    span.record("trace_id", joined.trace_id_hex());
    Some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
    use tracing_subscriber::layer::SubscriberExt;

    const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn caller() -> TraceParent {
        TraceParent::parse(CALLER).expect("valid")
    }

    /// Runs `f` under a subscriber that exports to memory, and returns what it exported.
    fn exported(f: impl FnOnce(&SdkTracerProvider)) -> Vec<SpanData> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || f(&provider));
        exporter.get_finished_spans().expect("spans")
    }

    fn request_span() -> tracing::Span {
        tracing::info_span!("request", trace_id = tracing::field::Empty)
    }

    #[test]
    fn a_request_continues_its_callers_trace_under_the_callers_span() {
        let mut handed_on = None;
        let spans = exported(|_| {
            let span = request_span();
            handed_on = Some(start_request(&span, Some(caller())));
        });
        let handed_on = handed_on.expect("ran");
        assert_eq!(spans.len(), 1);
        let request = &spans[0];
        assert_eq!(
            request.span_context.trace_id().to_bytes(),
            caller().trace_id
        );
        assert_eq!(request.parent_span_id.to_bytes(), caller().parent_id);
        // What the request hands on names its own span as the parent.
        assert_eq!(handed_on.trace_id, caller().trace_id);
        assert_eq!(
            handed_on.parent_id,
            request.span_context.span_id().to_bytes()
        );
        assert!(handed_on.sampled());
    }

    #[test]
    fn a_request_without_a_caller_trace_starts_the_trace_it_hands_on() {
        let mut handed_on = None;
        let spans = exported(|_| {
            handed_on = Some(start_request(&request_span(), None));
        });
        let handed_on = handed_on.expect("ran");
        assert_eq!(
            spans[0].span_context.trace_id().to_bytes(),
            handed_on.trace_id
        );
        assert_eq!(spans[0].parent_span_id, SpanId::INVALID);
    }

    #[test]
    fn with_export_off_a_request_still_names_a_trace() {
        let kept = start_request(&request_span(), Some(caller()));
        assert_eq!(kept.trace_id, caller().trace_id);
        assert_ne!(kept.parent_id, caller().parent_id, "a span of our own");
        let fresh = start_request(&request_span(), None);
        let again = start_request(&request_span(), None);
        assert_ne!(fresh.trace_id, again.trace_id);
        assert!(TraceParent::parse(&fresh.to_string()).is_ok(), "{fresh}");
    }

    #[test]
    fn an_activity_span_hangs_under_the_propagated_span_of_its_own_run_only() {
        let run = caller();
        let other = TraceParent::derived("another run");
        let spans = exported(|provider| {
            let tracer = provider.tracer("sdk");
            // What the SDK's plugin does around an activity: its span, made current.
            let propagated = remote(run);
            let sdk_span = tracer.start_with_context("RunActivity:x", &propagated);
            let cx = propagated.with_span(sdk_span);
            let _attached = cx.clone().attach();
            let same = tracing::info_span!("same", trace_id = tracing::field::Empty);
            assert_eq!(join_run(&same, Some(run)), Some(run));
            drop(same);
            let differs = tracing::info_span!("differs", trace_id = tracing::field::Empty);
            assert_eq!(join_run(&differs, Some(other)), Some(other));
            drop(differs);
            cx.span().end();
        });
        let by_name = |n: &str| {
            spans
                .iter()
                .find(|s| s.name == n)
                .unwrap_or_else(|| panic!("{n} in {spans:?}"))
        };
        let sdk = by_name("RunActivity:x");
        let same = by_name("same");
        assert_eq!(same.parent_span_id, sdk.span_context.span_id());
        assert_eq!(same.span_context.trace_id().to_bytes(), run.trace_id);
        let differs = by_name("differs");
        assert_eq!(differs.span_context.trace_id().to_bytes(), other.trace_id);
        assert_eq!(differs.parent_span_id.to_bytes(), other.parent_id);
        let linked: Vec<SpanId> = differs
            .links
            .iter()
            .map(|l| l.span_context.span_id())
            .collect();
        assert_eq!(
            linked,
            vec![sdk.span_context.span_id()],
            "linked to the SDK's span"
        );
    }

    #[test]
    fn an_activity_outside_any_trace_joins_none() {
        let span = tracing::info_span!("lonely", trace_id = tracing::field::Empty);
        assert_eq!(join_run(&span, None), None);
    }
}
