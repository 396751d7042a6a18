//! `POST /api/torghut/decision-engine/triggers`: event-driven triggers. Each signal becomes the
//! decision the intraday loop would start for it — the same dedupe key, the same `request_id` —
//! so an event and the loop (or a retried event) never decide the same signal twice.

use crate::AppState;
use crate::error::ApiError;
use crate::request_trace::RequestTrace;
use crate::routes::stream::read_body;
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use torghut_policy::triggers::{TriggerSignal, build_request, dedupe_key};
use torghut_proto::FieldError;
use torghut_proto::model;
use torghut_proto::v1::{DecisionRequest, ExecutionContext, Portfolio, RiskPolicy, Trigger};

/// More signals than this in one call is a backfill; it belongs to a replay, not an event.
pub const MAX_TRIGGERS: usize = 500;

#[derive(Debug, Deserialize)]
pub struct TriggersBody {
    strategy_id: String,
    portfolio: Portfolio,
    #[serde(default)]
    risk_policy: Option<RiskPolicy>,
    execution_context: ExecutionContext,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    deadline_seconds: Option<u32>,
    triggers: Vec<TriggerSignal>,
}

/// A request-level path as the path inside this body: the signal's own fields live under
/// `triggers[i]`, the shared ones keep their names.
fn path_in_body(i: usize, path: &str) -> String {
    if path == "symbol" {
        format!("triggers[{i}].symbol")
    } else if path == "trigger.type" {
        format!("triggers[{i}].type")
    } else if let Some(rest) = path.strip_prefix("trigger.") {
        format!("triggers[{i}].{rest}")
    } else {
        path.to_owned()
    }
}

pub async fn submit_triggers(
    State(state): State<AppState>,
    Extension(trace): Extension<RequestTrace>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = read_body(body).await?;
    let parsed: TriggersBody = serde_json::from_slice(&bytes).map_err(|e| {
        let reason = e.to_string();
        if e.is_syntax() || e.is_eof() {
            ApiError::MalformedJson(FieldError {
                path: "$".into(),
                reason: format!("malformed JSON: {reason}"),
            })
        } else {
            ApiError::field("$", reason)
        }
    })?;
    if parsed.triggers.is_empty() || parsed.triggers.len() > MAX_TRIGGERS {
        return Err(ApiError::field(
            "triggers",
            format!(
                "expected 1..={MAX_TRIGGERS} signals, got {}",
                parsed.triggers.len()
            ),
        ));
    }
    let template = DecisionRequest {
        request_id: String::new(),
        symbol: String::new(),
        strategy_id: parsed.strategy_id.clone(),
        trigger: Some(Trigger::default()),
        portfolio: Some(parsed.portfolio),
        risk_policy: parsed.risk_policy,
        execution_context: Some(parsed.execution_context),
        deadline_seconds: parsed.deadline_seconds,
        account_id: parsed.account_id,
        llm_review: None,
    };
    // Every signal is validated before any decision starts: a bad one rejects the call whole.
    let mut distinct: BTreeMap<String, (usize, DecisionRequest, model::ValidatedRequest)> =
        BTreeMap::new();
    let mut keys = Vec::with_capacity(parsed.triggers.len());
    for (i, signal) in parsed.triggers.iter().enumerate() {
        let wire = build_request(&template, &parsed.strategy_id, signal);
        let validated = model::validate(&wire)
            .map_err(|e| ApiError::field(path_in_body(i, &e.path), e.reason))?;
        let key = dedupe_key(&parsed.strategy_id, signal);
        keys.push(key.clone());
        distinct.entry(key).or_insert((i, wire, validated));
    }
    let mut runs: BTreeMap<String, Value> = BTreeMap::new();
    for (key, (_, wire, validated)) in distinct {
        // Every run this call starts is traced under the call's trace.
        let run = match state.runs.start_or_join(wire, &validated, trace.0).await {
            Ok(run) => {
                json!({"run_id": run.workflow_id, "request_id": run.request_id, "created": !run.idempotent})
            }
            // Same key, different portfolio or policy: the first decision of a signal stands.
            Err(ApiError::Conflict { run_id, request_id }) => {
                json!({"run_id": run_id, "request_id": request_id, "created": false})
            }
            Err(e) => return Err(e),
        };
        runs.insert(key, run);
    }
    let results: Vec<Value> = keys
        .iter()
        .map(|k| {
            let mut r = runs.get(k).cloned().unwrap_or(Value::Null);
            r["dedupe_key"] = json!(k);
            r
        })
        .collect();
    let created = runs.values().filter(|r| r["created"] == true).count();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"distinct": runs.len(), "created": created, "results": results})),
    ))
}
