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

/// How a run ended, read off its terminal event. The one classification of an ending: the
/// workflow's `DecisionAction` search attribute, the intraday loop's summary and the gateway's
/// metrics all use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// An intent the policy chose: `buy`, `sell` or `hold`.
    Intent { action: String },
    /// A hold forced by the gates, with their kinds (the intent's `veto_reasons`).
    Veto { reasons: Vec<String> },
    /// An `llm_review` run's answer.
    LlmReview,
    /// `decision.error`, with its code.
    Error { code: String },
}

impl Ending {
    /// The ending of a terminal event's payload; `None` for any other event.
    pub fn of(payload: &Payload) -> Option<Ending> {
        match payload {
            Payload::Final(f) => Some(match &f.intent {
                Some(i) if i.vetoed => Ending::Veto {
                    reasons: i.veto_reasons.clone(),
                },
                Some(i) => Ending::Intent {
                    action: i.action.clone(),
                },
                None => Ending::LlmReview,
            }),
            Payload::Error(e) => Some(Ending::Error {
                code: e.code.clone(),
            }),
            _ => None,
        }
    }

    /// The ending of a run's event log (its last event), if it has one.
    pub fn of_log(events: &[DecisionEvent]) -> Option<Ending> {
        events.last()?.payload.as_ref().and_then(Ending::of)
    }

    /// One word for it: the action, `veto`, `llm_review` or `error`.
    pub fn label(&self) -> &str {
        match self {
            Ending::Intent { action } => action,
            Ending::Veto { .. } => "veto",
            Ending::LlmReview => "llm_review",
            Ending::Error { .. } => "error",
        }
    }
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

/// A run's event as one caller sees it: `decision.accepted` says whether *this* call joined a
/// run that already existed (`idempotent`). The log itself is shared by every caller of the run,
/// so the workflow writes `false` there and the gateway sets the caller's answer here.
pub fn for_caller(event: &DecisionEvent, joined: bool) -> DecisionEvent {
    let mut event = event.clone();
    if let Some(Payload::Accepted(a)) = event.payload.as_mut() {
        a.idempotent = joined;
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{Accepted, DecisionError, DecisionIntent, Final, Progress};

    #[test]
    fn every_ending_is_classified_once() {
        let intent = |action: &str, vetoed: bool| {
            Payload::Final(Final {
                intent: Some(DecisionIntent {
                    action: action.into(),
                    vetoed,
                    veto_reasons: if vetoed {
                        vec!["kill_switch".into()]
                    } else {
                        vec![]
                    },
                    ..Default::default()
                }),
                llm_response: None,
            })
        };
        assert_eq!(
            Ending::of(&intent("buy", false)).map(|e| e.label().to_owned()),
            Some("buy".into())
        );
        assert_eq!(
            Ending::of(&intent("hold", true)),
            Some(Ending::Veto {
                reasons: vec!["kill_switch".into()]
            })
        );
        assert_eq!(
            Ending::of(&Payload::Final(Final::default())),
            Some(Ending::LlmReview)
        );
        let error = Payload::Error(DecisionError {
            code: "timeout".into(),
            ..Default::default()
        });
        assert_eq!(
            Ending::of(&error).map(|e| e.label().to_owned()),
            Some("error".into())
        );
        assert_eq!(Ending::of(&Payload::Progress(Progress::default())), None);
    }

    #[test]
    fn only_the_accepted_event_takes_the_callers_answer() {
        let accepted = DecisionEvent {
            payload: Some(Payload::Accepted(Accepted::default())),
            ..Default::default()
        };
        let seen = for_caller(&accepted, true);
        assert!(matches!(
            seen.payload,
            Some(Payload::Accepted(Accepted {
                idempotent: true,
                ..
            }))
        ));
        let progress = DecisionEvent {
            payload: Some(Payload::Progress(Progress::default())),
            ..Default::default()
        };
        assert_eq!(for_caller(&progress, true), progress);
    }

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
