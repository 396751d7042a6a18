//! `GET /api/torghut/market-context` and its `/health`: the merged context Torghut reads before
//! (or instead of) asking for a decision.

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use torghut_proto::model::Symbol;
use torghut_workflows::market_context::health;

#[derive(Debug, Deserialize)]
pub struct ContextQuery {
    symbol: Option<String>,
    as_of: Option<String>,
}

fn parse_symbol(raw: Option<&str>) -> Result<Option<Symbol>, ApiError> {
    raw.map(|s| {
        Symbol::parse(s).ok_or_else(|| {
            ApiError::field(
                "symbol",
                format!("expected an upper-case ticker such as IBM or BRK.B, got {s:?}"),
            )
        })
    })
    .transpose()
}

fn parse_as_of(raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                ApiError::field(
                    "as_of",
                    format!("expected an RFC 3339 timestamp such as 2013-10-08T14:30:00Z, got {s:?}: {e}"),
                )
            })
    })
    .transpose()
}

pub async fn market_context(
    State(state): State<AppState>,
    Query(q): Query<ContextQuery>,
) -> Result<Response, ApiError> {
    let symbol = parse_symbol(q.symbol.as_deref())?
        .ok_or_else(|| ApiError::field("symbol", "required query parameter"))?;
    let as_of = parse_as_of(q.as_of.as_deref())?;
    let (bundle, hit) = state
        .context
        .get(symbol.as_str(), as_of, Utc::now())
        .await?;
    let mut resp = Json(&*bundle).into_response();
    resp.headers_mut().insert(
        "x-cache",
        HeaderValue::from_static(if hit { "hit" } else { "miss" }),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// 200 while any domain is available, 503 when none is, so a probe can alert on it.
pub async fn market_context_health(
    State(state): State<AppState>,
    Query(q): Query<ContextQuery>,
) -> Result<Response, ApiError> {
    let symbol = parse_symbol(q.symbol.as_deref())?.map_or_else(
        || state.config.market_context_probe_symbol.clone(),
        |s| s.to_string(),
    );
    let as_of = parse_as_of(q.as_of.as_deref())?.unwrap_or_else(Utc::now);
    // Always measured afresh: a health probe answered from the cache would hide an outage.
    let health = health(&state.context.fetch(&symbol, as_of).await?);
    let status = if health.status == "unavailable" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((status, Json(health)).into_response())
}
