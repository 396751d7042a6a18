//! Submit-and-poll: `POST /runs`, `GET /runs/{id}`, and `GET /runs/{id}/events` (SSE resume).
//!
//! `{id}` is the run id the API hands out (the workflow id, `decision-<request_id>`); a bare
//! `request_id` is accepted too, since that is what a caller already knows.

use crate::AppState;
use crate::error::ApiError;
use crate::request_trace::RequestTrace;
use crate::routes::stream::start_from_body;
use crate::runs::status_name;
use crate::sse::{self, StreamSpec};
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use temporalio_client::WorkflowDescribeOptions;
use torghut_proto::event::{envelope, event_type, is_terminal};
use torghut_proto::v1::decision_event::Payload;
use torghut_workflows::{DecisionWorkflow, workflow_id};

fn run_id(raw: &str) -> String {
    if raw.starts_with("decision-") {
        raw.to_ascii_lowercase()
    } else {
        workflow_id(raw)
    }
}

fn request_id_of(workflow_id: &str) -> String {
    workflow_id.trim_start_matches("decision-").to_owned()
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(trace): Extension<RequestTrace>,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let run = start_from_body(&state, trace, body).await?;
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

pub async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let workflow_id = run_id(&id);
    let snapshot = state
        .hub
        .load(&workflow_id)
        .await
        .ok_or_else(|| ApiError::NotFound(workflow_id.clone()))?;
    let request_id = request_id_of(&workflow_id);
    let description = state
        .runs
        .client()
        .get_workflow_handle::<DecisionWorkflow>(workflow_id.clone())
        .describe(WorkflowDescribeOptions::default())
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
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
        "last_event": terminal.or(snapshot.events.last()).map(event_type),
        "events": events,
        "final": final_payload,
        "error": error_payload,
    })))
}

#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    /// For clients that cannot set `Last-Event-ID` (it wins when both are present).
    last_event_id: Option<u64>,
}

pub async fn resume_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ResumeQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let workflow_id = run_id(&id);
    let last = match headers.get("last-event-id") {
        None => query.last_event_id,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::InvalidField(torghut_proto::FieldError::new(
                        "Last-Event-ID",
                        "expected the numeric id of the last event received",
                    ))
                })?,
        ),
    };
    if state.hub.load(&workflow_id).await.is_none() {
        return Err(ApiError::NotFound(workflow_id));
    }
    let rx = state.hub.subscribe(&workflow_id);
    Ok(sse::stream(
        StreamSpec {
            request_id: request_id_of(&workflow_id),
            workflow_id,
            from: last.map_or(0, |l| l + 1),
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
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let workflow_id = run_id(&id);
    let handle = state
        .runs
        .client()
        .get_workflow_handle::<DecisionWorkflow>(workflow_id.clone());
    let description = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .map_err(|e| match e {
            temporalio_client::errors::WorkflowInteractionError::NotFound(_) => {
                ApiError::NotFound(workflow_id.clone())
            }
            other => ApiError::Unavailable(other.to_string()),
        })?;
    if description.status() != temporalio_client::WorkflowExecutionStatus::Running {
        return Err(ApiError::AlreadyFinished {
            run_id: workflow_id,
            status: status_name(description.status()),
        });
    }
    handle
        .cancel(temporalio_client::WorkflowCancelOptions::default())
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"run_id": workflow_id, "status": "cancel_requested"})),
    ))
}
