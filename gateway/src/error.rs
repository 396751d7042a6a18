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
    #[error("run {run_id} already finished ({status}); nothing to cancel")]
    AlreadyFinished {
        run_id: String,
        status: &'static str,
    },
    #[error("no decision run {0}")]
    NotFound(String),
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
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
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
        if let ApiError::Conflict { run_id, .. } = &self {
            body["error"]["run_id"] = json!(run_id);
        }
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        (status, Json(body)).into_response()
    }
}
