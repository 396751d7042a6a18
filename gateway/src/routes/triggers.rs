//! `POST /api/torghut/decision-engine/triggers`: event-driven triggers. Each signal becomes one
//! decision per account: the dedupe key is the account and the loop's key (strategy, symbol,
//! type, time), and the `request_id` derives from it, so a retried event never decides the same
//! signal twice for one account, and two accounts' signals never share a decision.

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query;
use crate::request_trace::RequestTrace;
use crate::routes::stream::{read_body, require_json};
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use torghut_policy::triggers::{TriggerSignal, build_request, dedupe_key, request_id_for};
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
    #[serde(default, deserialize_with = "torghut_proto::opt_whole_u32")]
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

/// The dedupe key of a signal for an account: the account, then the key the intraday loop
/// shares (strategy, symbol, type, time). Two clients' identical signals are two decisions, each
/// with its own portfolio; the same client's repeats are one.
fn account_key(account: &str, strategy_id: &str, signal: &TriggerSignal) -> String {
    format!("{account}|{}", dedupe_key(strategy_id, signal))
}

pub async fn submit_triggers(
    State(state): State<AppState>,
    Extension(trace): Extension<RequestTrace>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    query::strict(&uri, &[])?;
    require_json(&headers)?;
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
    // The key and the request id use the names as validation reads them.
    let strategy_id = parsed.strategy_id.trim().to_owned();
    let account = parsed
        .account_id
        .as_deref()
        .map_or("default", str::trim)
        .to_owned();
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
    // Distinct keys keep the order of their first signal.
    let mut distinct: Vec<(usize, String, DecisionRequest, model::ValidatedRequest)> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut keys = Vec::with_capacity(parsed.triggers.len());
    for (i, signal) in parsed.triggers.iter().enumerate() {
        let key = account_key(&account, &strategy_id, signal);
        let mut wire = build_request(&template, &strategy_id, signal);
        wire.request_id = request_id_for(&key);
        let validated = model::validate(&wire)
            .map_err(|e| ApiError::field(path_in_body(i, &e.path), e.reason))?;
        if i == 0 {
            caller.may_start(&validated.account_id, &validated.strategy_id)?;
        }
        keys.push(key.clone());
        if !seen.contains_key(&key) {
            seen.insert(key.clone(), distinct.len());
            distinct.push((i, key, wire, validated));
        }
    }
    // One unit per run this call may start; the request itself paid the first.
    caller.charge(u32::try_from(distinct.len().saturating_sub(1)).unwrap_or(u32::MAX))?;
    let mut runs: BTreeMap<String, Value> = BTreeMap::new();
    for (i, key, wire, validated) in distinct {
        // Every run this call starts is traced under the call's trace.
        let run = match state.runs.start_or_join(wire, &validated, trace.0).await {
            Ok(run) => {
                json!({"run_id": run.workflow_id, "request_id": run.request_id, "created": !run.idempotent})
            }
            // Same account and key, different portfolio or policy: as on `/stream`, a 409. Runs
            // this call started for earlier signals stand (a retry of the call joins them).
            Err(ApiError::Conflict { run_id, .. }) => {
                return Err(ApiError::SignalConflict {
                    field: format!("triggers[{i}]"),
                    dedupe_key: key,
                    run_id,
                });
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
