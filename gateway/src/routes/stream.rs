//! `POST /api/torghut/decision-engine/stream`: validate, start or join the run, stream it.

use crate::AppState;
use crate::error::ApiError;
use crate::request_trace::RequestTrace;
use crate::runs::RunRef;
use crate::sse::{self, StreamSpec};
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::response::IntoResponse;
use torghut_proto::model::MAX_BODY_BYTES;
use torghut_proto::parse_request;

/// Reads the body with the size limit, answering 413 in our JSON error shape.
pub async fn read_body(body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::BodyTooLarge {
            limit: MAX_BODY_BYTES,
        })
}

/// Validates a request body and starts or joins its run: the common first half of `/stream`
/// and `/runs`.
pub async fn start_from_body(
    state: &AppState,
    trace: RequestTrace,
    body: Body,
) -> Result<RunRef, ApiError> {
    let bytes = read_body(body).await?;
    let (wire, request) = parse_request(&bytes).map_err(ApiError::invalid)?;
    state.runs.start_or_join(wire, &request, trace.0).await
}

pub async fn start_and_stream(
    State(state): State<AppState>,
    Extension(trace): Extension<RequestTrace>,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let run = start_from_body(&state, trace, body).await?;
    tracing::info!(workflow_id = %run.workflow_id, idempotent = run.idempotent, "streaming decision");
    let rx = state.hub.subscribe(&run.workflow_id);
    Ok(sse::stream(
        StreamSpec {
            workflow_id: run.workflow_id,
            request_id: run.request_id,
            from: 0,
            idempotent: run.idempotent,
            retry: state.config.sse_retry,
            heartbeat: state.config.heartbeat,
            shutdown: state.shutdown.clone(),
            metrics: state.metrics.clone(),
        },
        rx,
    ))
}
