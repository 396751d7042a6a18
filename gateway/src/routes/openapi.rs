//! The OpenAPI document of this gateway, served as written in `gateway/openapi.json` (checked by
//! `openapi-spec-validator` in the test suite and against the routes in the integration tests).

use axum::http::header;
use axum::response::IntoResponse;

pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}
