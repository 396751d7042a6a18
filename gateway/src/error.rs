//! The gateway's one error type: each variant is a status code and a JSON body that says what
//! was wrong and, for bad input, which field.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use torghut_proto::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON at all.
    #[error("{0}")]
    MalformedJson(FieldError),
    /// JSON, but a field is missing, of the wrong type or out of range.
    #[error("{0}")]
    InvalidField(FieldError),
    /// A query parameter that is malformed, repeated, unknown, or names what we have no data
    /// for: always a 400 naming the parameter, never a silent default.
    #[error("query parameter {field}: {reason}")]
    BadQuery {
        code: &'static str,
        field: String,
        reason: String,
    },
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The `request_id` is already used by a materially different request.
    #[error(
        "request_id {request_id} is already used by a different request; only trigger.event_ts may change on a retry"
    )]
    Conflict { request_id: String, run_id: String },
    /// A `/triggers` signal whose account and key already decided with a different portfolio
    /// or policy.
    #[error(
        "signal {dedupe_key} was already decided by {run_id} with a different portfolio or policy; send the same one, or a new signal"
    )]
    SignalConflict {
        field: String,
        dedupe_key: String,
        run_id: String,
    },
    #[error("run {run_id} already finished ({status}); nothing to cancel")]
    AlreadyFinished {
        run_id: String,
        status: &'static str,
    },
    #[error("no decision run {0}")]
    NotFound(String),
    /// A body that is not declared as JSON: without this, a plain HTML form or a `text/plain`
    /// fetch from any web page could start a run without a CORS preflight.
    #[error("Content-Type must be application/json, got {0:?}")]
    UnsupportedMediaType(String),
    /// The caller's token does not cover this account or strategy.
    #[error("token {token:?} may not use {field} {value:?}")]
    Forbidden {
        token: String,
        field: &'static str,
        value: String,
    },
    /// A `/triggers` call needs more rate-limit units than the token has now.
    #[error("{0}")]
    RateLimited(String, std::time::Duration),
    /// A request the router or an extractor refused before any handler ran (a bad path, an
    /// unknown method): any such text answer becomes this envelope (`json_errors`).
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    #[error("temporal is unavailable: {0}")]
    Unavailable(String),
}

impl ApiError {
    /// A 422 naming the field (a JSON path or a query parameter) and why it is wrong.
    pub fn field(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::InvalidField(FieldError {
            path: path.into(),
            reason: reason.into(),
        })
    }

    /// A 400 naming the query parameter, with a code a client can branch on.
    pub fn bad_query(code: &'static str, field: &str, reason: impl Into<String>) -> Self {
        ApiError::BadQuery {
            code,
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn invalid(e: FieldError) -> Self {
        if e.path == "$" && e.reason.starts_with("malformed JSON") {
            ApiError::MalformedJson(e)
        } else if e.path == "$" && e.reason.starts_with("body is") {
            ApiError::BodyTooLarge {
                limit: torghut_proto::model::MAX_BODY_BYTES,
            }
        } else {
            ApiError::InvalidField(e)
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, Option<&str>) {
        match self {
            ApiError::MalformedJson(e) => {
                (StatusCode::BAD_REQUEST, "malformed_json", Some(&e.path))
            }
            ApiError::InvalidField(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some(&e.path),
            ),
            ApiError::BadQuery { code, field, .. } => {
                (StatusCode::BAD_REQUEST, code, Some(field.as_str()))
            }
            ApiError::BodyTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", Some("$"))
            }
            ApiError::Conflict { .. } => (
                StatusCode::CONFLICT,
                "request_id_conflict",
                Some("request_id"),
            ),
            ApiError::SignalConflict { field, .. } => {
                (StatusCode::CONFLICT, "request_id_conflict", Some(field))
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Some("Content-Type"),
            ),
            ApiError::Forbidden { field, .. } => (StatusCode::FORBIDDEN, "forbidden", Some(field)),
            ApiError::RateLimited(..) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", None),
            ApiError::Refused { status, code, .. } => (*status, code, None),
            ApiError::AlreadyFinished { .. } => (StatusCode::CONFLICT, "run_finished", None),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporal_unavailable",
                None,
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = self.parts();
        let mut body = json!({"error": {"code": code, "message": self.to_string()}});
        if let Some(field) = field {
            body["error"]["field"] = json!(field);
        }
        if let ApiError::InvalidField(e) | ApiError::MalformedJson(e) = &self {
            body["error"]["reason"] = json!(e.reason);
        }
        if let ApiError::BadQuery { reason, .. } = &self {
            body["error"]["reason"] = json!(reason);
        }
        if let ApiError::Conflict { run_id, .. } | ApiError::SignalConflict { run_id, .. } = &self {
            body["error"]["run_id"] = json!(run_id);
        }
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited(_, wait) = &self {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// The error code of a status the router or an extractor answered with.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_field",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Every error answer is the JSON envelope: a refusal made outside our handlers (axum's path,
/// query and method rejections, an unknown route: `text/plain` or empty) is rewritten into it,
/// keeping its status and its text as the message.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned()
    } else {
        text
    };
    let mut rewritten = ApiError::Refused {
        status,
        code: code_of(status),
        message,
    }
    .into_response();
    // Keep what the refusal said beyond its body (`Allow` on a 405, for one).
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}
