//! `POST /api/torghut/decision-engine/stream`: validate, start or join the run, stream it.

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query;
use crate::request_trace::RequestTrace;
use crate::runs::RunRef;
use crate::sse::{self, StreamSpec};
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Uri, header};
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

/// The body must be declared JSON (`application/json`, any parameters, any case): a browser
/// sends `text/plain` or a form without a CORS preflight, so accepting those would let any web
/// page start runs on a gateway without tokens.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let essence = raw
        .as_deref()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if essence.as_deref() == Some("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(raw.unwrap_or_default()))
    }
}

/// Validates a request body and starts or joins its run: the common first half of `/stream`
/// and `/runs`.
pub async fn start_from_body(
    state: &AppState,
    caller: &Caller,
    trace: RequestTrace,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<RunRef, ApiError> {
    query::strict(uri, &[])?;
    require_json(headers)?;
    let bytes = read_body(body).await?;
    let (wire, request) = parse_request(&bytes).map_err(ApiError::invalid)?;
    caller.may_start(&request.account_id, &request.strategy_id)?;
    state.runs.start_or_join(wire, &request, trace.0).await
}

pub async fn start_and_stream(
    State(state): State<AppState>,
    Extension(trace): Extension<RequestTrace>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let run = start_from_body(&state, &caller, trace, &uri, &headers, body).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_a_body_declared_as_json_is_read() {
        let with = |ct: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(ct) = ct {
                h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).expect("hv"));
            }
            require_json(&h)
        };
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ] {
            assert!(with(Some(ok)).is_ok(), "{ok}");
        }
        for bad in [
            None,
            Some("text/plain"),
            Some("text/plain;charset=UTF-8"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
        ] {
            assert!(
                matches!(with(bad), Err(ApiError::UnsupportedMediaType(_))),
                "{bad:?}"
            );
        }
    }
}
