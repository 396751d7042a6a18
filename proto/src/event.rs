//! Event names and the SSE data envelope shared by the gateway, its clients and the tests.
//!
//! The envelope `{run_id, request_id, sequence, at, payload}` is the one Jangar's TypeScript
//! endpoint already emits, so existing SSE consumers parse us without change. `trace_id` was
//! added since: an extra key, which those consumers ignore.

use crate::v1::{DecisionEvent, decision_event::Payload};
use serde_json::{Value, json};

pub const ACCEPTED: &str = "decision.accepted";
pub const PROGRESS: &str = "decision.progress";
pub const CONTEXT_READY: &str = "decision.context_ready";
pub const ANALYSIS_COMPLETE: &str = "decision.analysis_complete";
pub const FINAL: &str = "decision.final";
pub const ERROR: &str = "decision.error";

/// The SSE `event:` name of an event.
pub fn event_type(event: &DecisionEvent) -> &'static str {
    match &event.payload {
        Some(Payload::Accepted(_)) => ACCEPTED,
        Some(Payload::Progress(_)) => PROGRESS,
        Some(Payload::ContextReady(_)) => CONTEXT_READY,
        Some(Payload::AnalysisComplete(_)) => ANALYSIS_COMPLETE,
        Some(Payload::Final(_)) => FINAL,
        Some(Payload::Error(_)) | None => ERROR,
    }
}

/// Whether this event ends the stream.
pub fn is_terminal(event: &DecisionEvent) -> bool {
    matches!(
        event.payload,
        Some(Payload::Final(_)) | Some(Payload::Error(_))
    )
}

/// The SSE `data:` envelope of an event.
pub fn envelope(run_id: &str, request_id: &str, event: &DecisionEvent) -> Value {
    let payload = match &event.payload {
        Some(Payload::Accepted(p)) => serde_json::to_value(p),
        Some(Payload::Progress(p)) => serde_json::to_value(p),
        Some(Payload::ContextReady(p)) => serde_json::to_value(p),
        Some(Payload::AnalysisComplete(p)) => serde_json::to_value(p),
        Some(Payload::Final(p)) => serde_json::to_value(p),
        Some(Payload::Error(p)) => serde_json::to_value(p),
        None => {
            Ok(json!({"code": "internal", "message": "event without payload", "retryable": false}))
        }
    }
    .unwrap_or(Value::Null);
    json!({
        "run_id": run_id,
        "request_id": request_id,
        "sequence": event.sequence,
        "at": event.at,
        "type": event_type(event),
        "trace_id": event.trace_id,
        "payload": payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::Progress;

    #[test]
    fn the_envelope_carries_the_run_trace_id_beside_the_jangar_keys() {
        let event = DecisionEvent {
            sequence: 3,
            at: "2026-01-01T00:00:00.000Z".into(),
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            payload: Some(Payload::Progress(Progress::default())),
        };
        let data = envelope("decision-x", "x", &event);
        assert_eq!(data["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let mut keys: Vec<&str> = data
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "at",
                "payload",
                "request_id",
                "run_id",
                "sequence",
                "trace_id",
                "type"
            ]
        );
    }

    #[test]
    fn an_event_recorded_before_tracing_still_reads() {
        let old = r#"{"sequence":0,"at":"2026-01-01T00:00:00.000Z","payload":{"error":{"code":"timeout","message":"m","retryable":true}}}"#;
        let event: DecisionEvent = serde_json::from_str(old).expect("old event");
        assert_eq!(event.trace_id, "");
        assert_eq!(envelope("r", "q", &event)["trace_id"], "");
    }
}
