//! Event names and the SSE data envelope shared by the gateway, its clients and the tests.
//!
//! The envelope `{run_id, request_id, sequence, at, payload}` is the one Jangar's TypeScript
//! endpoint already emits, so existing SSE consumers parse us without change.

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
        "payload": payload,
    })
}
