//! Submit-and-poll: `POST /runs`, `GET /runs/{id}`, and `GET /runs/{id}/events` (SSE resume).
//!
//! `{id}` is the run id the API hands out (the workflow id, `decision-<request_id>`); a bare
//! `request_id` is accepted too, since that is what a caller already knows.

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query;
use crate::request_trace::RequestTrace;
use crate::routes::stream::start_from_body;
use crate::runs::{scope_of, status_name, waiting_for_worker};
use crate::sse::{self, StreamSpec};
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::json;
use std::time::Duration;
use temporalio_client::WorkflowExecutionDescription;
use torghut_proto::event::{envelope, event_type, is_terminal};
use torghut_proto::v1::decision_event::Payload;
use torghut_workflows::{DecisionWorkflow, ids};

pub async fn submit(
    State(state): State<AppState>,
    Extension(trace): Extension<RequestTrace>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let run = start_from_body(&state, &caller, trace, &uri, &headers, body).await?;
    let base = "/api/torghut/decision-engine/runs";
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "run_id": run.workflow_id,
            "request_id": run.request_id,
            "temporal_run_id": run.temporal_run_id,
            "idempotent": run.idempotent,
            "status_url": format!("{base}/{}", run.workflow_id),
            "events_url": format!("{base}/{}/events", run.workflow_id),
        })),
    ))
}

/// How long a status read waits for the run's watcher to load the events, before it answers
/// with what it has: a closed run loads from its result at once, a running one needs a worker.
const LOAD_WAIT: Duration = Duration::from_secs(2);

/// Describes the run for this caller: 404 when it does not exist *or* is outside the caller's
/// scopes, so a client token cannot learn which runs exist.
async fn describe_for(
    state: &AppState,
    caller: &Caller,
    workflow_id: &str,
) -> Result<WorkflowExecutionDescription, ApiError> {
    let description = state.runs.describe(workflow_id).await?;
    let (account, strategy) = scope_of(&description);
    if !caller.may_read(&account, &strategy) {
        return Err(ApiError::NotFound(workflow_id.to_owned()));
    }
    Ok(description)
}

/// `GET /runs/{id}`: answers from Temporal within a bounded time whether or not a worker is up
/// (describe for the status; the events the gateway holds), saying when the run waits for one.
pub async fn get_run(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<impl IntoResponse, ApiError> {
    query::strict(&uri, &[])?;
    let workflow_id = ids::decision_from_either(&id);
    let description = describe_for(&state, &caller, &workflow_id).await?;
    let mut rx = state.hub.subscribe(&workflow_id);
    // Bounded: without a worker a running run's events cannot be polled.
    let _ = tokio::time::timeout(LOAD_WAIT, rx.wait_for(|s| s.loaded || s.not_found)).await;
    let snapshot = rx.borrow().clone();
    let request_id = ids::request_id_of(&workflow_id).to_owned();
    let events: Vec<_> = snapshot
        .events
        .iter()
        .map(|e| envelope(&workflow_id, &request_id, e))
        .collect();
    let terminal = snapshot.events.iter().rev().find(|e| is_terminal(e));
    let (final_payload, error_payload) = match terminal.and_then(|e| e.payload.as_ref()) {
        Some(Payload::Final(f)) => (serde_json::to_value(f).ok(), None),
        Some(Payload::Error(e)) => (None, serde_json::to_value(e).ok()),
        _ => (None, None),
    };
    Ok(Json(json!({
        "run_id": workflow_id,
        "request_id": request_id,
        "temporal_run_id": description.run_id(),
        "status": status_name(description.status()),
        "finished": snapshot.finished,
        "waiting_for_worker": waiting_for_worker(&description),
        "last_event": terminal.or(snapshot.events.last()).map(event_type),
        "events": events,
        "final": final_payload,
        "error": error_payload,
    })))
}

/// The event id to resume after: `Last-Event-ID` wins over `?last_event_id=`; the next offset
/// must exist, so `u64::MAX` is refused rather than wrapped.
fn resume_from(headers: &HeaderMap, uri: &Uri) -> Result<u64, ApiError> {
    let params = query::strict(uri, &["last_event_id"])?;
    let (field, raw) = match headers.get("last-event-id") {
        Some(v) => (
            "Last-Event-ID",
            Some(v.to_str().map(str::to_owned).unwrap_or_default()),
        ),
        None => ("last_event_id", params.get("last_event_id").cloned()),
    };
    let Some(raw) = raw else {
        return Ok(0);
    };
    raw.trim()
        .parse::<u64>()
        .ok()
        .and_then(|last| last.checked_add(1))
        .ok_or_else(|| {
            ApiError::field(
                field,
                format!(
                    "expected the numeric id of the last event received (0..{}), got {raw:?}",
                    u64::MAX - 1
                ),
            )
        })
}

/// `GET /runs/{id}/events`: the headers at once, then the events the gateway has and every one
/// after, with heartbeats, whether or not a worker is up.
pub async fn resume_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let workflow_id = ids::decision_from_either(&id);
    let from = resume_from(&headers, &uri)?;
    describe_for(&state, &caller, &workflow_id).await?;
    let rx = state.hub.subscribe(&workflow_id);
    Ok(sse::stream(
        StreamSpec {
            request_id: ids::request_id_of(&workflow_id).to_owned(),
            workflow_id,
            from,
            idempotent: true,
            retry: state.config.sse_retry,
            heartbeat: state.config.heartbeat,
            shutdown: state.shutdown.clone(),
            metrics: state.metrics.clone(),
        },
        rx,
    ))
}

/// `POST /runs/{id}/cancel`: asks the workflow to stop. It compensates (releases any exposure
/// reservation) and ends the stream with `decision.error` `{code: "cancelled"}`.
pub async fn cancel_run(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<impl IntoResponse, ApiError> {
    query::strict(&uri, &[])?;
    let workflow_id = ids::decision_from_either(&id);
    let description = describe_for(&state, &caller, &workflow_id).await?;
    if description.status() != temporalio_client::WorkflowExecutionStatus::Running {
        return Err(ApiError::AlreadyFinished {
            run_id: workflow_id,
            status: status_name(description.status()),
        });
    }
    state
        .runs
        .client()
        .get_workflow_handle::<DecisionWorkflow>(workflow_id.clone())
        .cancel(temporalio_client::WorkflowCancelOptions::default())
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"run_id": workflow_id, "status": "cancel_requested"})),
    ))
}
