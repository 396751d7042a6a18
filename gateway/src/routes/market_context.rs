//! The market context Torghut reads before (or instead of) asking for a decision, in two shapes:
//!
//! - `GET /api/torghut/market-context` and `.../health`: Torghut's contract,
//!   `torghut.market-context.v1` (`torghut_context`), which its `MarketContextClient` validates
//!   strictly: `{"ok": true, "context": ...}` and `{"ok": true, "health": ...}`.
//! - `GET /api/torghut/market-context/engine` and `.../engine/health`: the engine's own, richer
//!   bundle (every skill output as the decision sees it, the policy's weighted quality and
//!   whether a decision on it would pass the quality gate).
//!
//! Both read `symbol` and `asOf` (or `as_of`); anything else in the query is a 400.

use crate::AppState;
use crate::error::ApiError;
use crate::torghut_context::{self, DomainsHealth};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use torghut_proto::model::Symbol;
use torghut_proto::v1::MarketContextBundle;
use torghut_workflows::market_context::health;

/// The query both shapes take. Parsed by hand rather than with axum's `Query`, so a repeated
/// parameter, an unknown one (a misspelt `as-of` would otherwise mean "now") and a bad value
/// are each a 400 naming the parameter.
#[derive(Debug, Default, PartialEq)]
pub struct ContextQuery {
    pub symbol: Option<Symbol>,
    pub as_of: Option<DateTime<Utc>>,
}

const AS_OF_NAMES: [&str; 2] = ["asOf", "as_of"];

impl ContextQuery {
    /// The symbol asked for; a health probe without one checks the configured probe symbol.
    fn symbol_or_probe(&self, state: &AppState) -> String {
        match &self.symbol {
            Some(s) => s.to_string(),
            None => state.config.market_context_probe_symbol.clone(),
        }
    }

    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut symbol: Option<String> = None;
        let mut as_of: Option<(String, String)> = None;
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let (key, value) = (key.into_owned(), value.into_owned());
            match key.as_str() {
                "symbol" => {
                    if symbol.replace(value).is_some() {
                        return Err(ApiError::bad_query(
                            "duplicate_parameter",
                            "symbol",
                            "given more than once; give it once",
                        ));
                    }
                }
                k if AS_OF_NAMES.contains(&k) => {
                    if let Some((first, _)) = as_of.replace((key.clone(), value)) {
                        let reason = if first == key {
                            "given more than once; give it once".to_owned()
                        } else {
                            format!("{first} and {key} are the same parameter; give one of them")
                        };
                        return Err(ApiError::bad_query("duplicate_parameter", &key, reason));
                    }
                }
                _ => {
                    return Err(ApiError::bad_query(
                        "unknown_parameter",
                        &key,
                        "not a parameter of this route; it takes symbol and asOf (or as_of)",
                    ));
                }
            }
        }
        let symbol = symbol
            .map(|s| {
                Symbol::parse(&s).ok_or_else(|| {
                    ApiError::bad_query(
                        "invalid_parameter",
                        "symbol",
                        format!("expected an upper-case ticker such as IBM or BRK.B, got {s:?}"),
                    )
                })
            })
            .transpose()?;
        let as_of = as_of
            .map(|(name, raw)| {
                parse_as_of(&raw).ok_or_else(|| {
                    ApiError::bad_query(
                        "invalid_parameter",
                        &name,
                        format!(
                            "expected an ISO 8601 timestamp with an offset, such as \
                             2013-10-08T14:30:00+00:00 or 2013-10-08T14:30:00Z, got {raw:?}"
                        ),
                    )
                })
            })
            .transpose()?;
        Ok(Self { symbol, as_of })
    }
}

/// RFC 3339 (ISO 8601 with an offset). A `+` left unescaped in a query string arrives as a space
/// (`...14:30:00 00:00`); where a space stands exactly where an offset's sign belongs, it is
/// read as the `+` it was, since no other reading exists.
fn parse_as_of(raw: &str) -> Option<DateTime<Utc>> {
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    parse(raw).or_else(|| {
        let (head, offset) = raw.rsplit_once(' ')?;
        let b = offset.as_bytes();
        let looks_like_offset = b.len() == 5
            && b[2] == b':'
            && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit())
            && head.contains('T');
        looks_like_offset
            .then(|| parse(&format!("{head}+{offset}")))
            .flatten()
    })
}

fn required_symbol(q: &ContextQuery) -> Result<Symbol, ApiError> {
    q.symbol.clone().ok_or_else(|| {
        ApiError::bad_query("missing_parameter", "symbol", "required, e.g. ?symbol=IBM")
    })
}

/// A symbol we have no intraday data for cannot have a market context: a 400, not a 200 whose
/// every domain is missing.
fn known(symbol: &Symbol, engine: &MarketContextBundle) -> Result<(), ApiError> {
    if torghut_context::symbol_not_covered(engine) {
        return Err(ApiError::bad_query(
            "unknown_symbol",
            "symbol",
            format!("no market data for {symbol}: the engine's bar source does not cover it"),
        ));
    }
    Ok(())
}

/// The merged context from the cache (or a `market-context-workflow` run), with `x-cache`.
async fn cached(
    state: &AppState,
    q: &ContextQuery,
) -> Result<(std::sync::Arc<MarketContextBundle>, &'static str), ApiError> {
    let symbol = required_symbol(q)?;
    let (engine, hit) = state
        .context
        .get(symbol.as_str(), q.as_of, Utc::now())
        .await?;
    known(&symbol, &engine)?;
    Ok((engine, if hit { "hit" } else { "miss" }))
}

fn with_headers(mut resp: Response, cache: &'static str) -> Response {
    resp.headers_mut()
        .insert("x-cache", HeaderValue::from_static(cache));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /api/torghut/market-context`: Torghut's contract.
pub async fn torghut_market_context(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = ContextQuery::parse(raw.as_deref())?;
    let (engine, cache) = cached(&state, &q).await?;
    let context = torghut_context::bundle(&engine);
    Ok(with_headers(
        Json(json!({"ok": true, "context": context})).into_response(),
        cache,
    ))
}

/// `GET /api/torghut/market-context/health`: Torghut's health. Always measured afresh (a probe
/// answered from the cache would hide an outage), and always a 200 `{"ok": true}` when the
/// request itself was good: a failing source is reported in the body (`overallState: down`,
/// `ingestion.lastError`) where Torghut's client reads it, not as an HTTP error it cannot.
pub async fn torghut_market_context_health(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = ContextQuery::parse(raw.as_deref())?;
    let symbol = q.symbol_or_probe(&state);
    let as_of = q.as_of.unwrap_or_else(Utc::now);
    let as_of_utc = as_of.to_rfc3339_opts(SecondsFormat::Secs, true);
    let checked_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let fetched = state.context.fetch(&symbol, as_of).await;
    let ingestion = state.context.ingestion();
    let health = match fetched {
        Ok(engine) => {
            if let Some(s) = &q.symbol {
                known(s, &engine)?;
            }
            let b = torghut_context::bundle(&engine);
            let overall = torghut_context::overall_state(&b);
            json!({
                "overallState": overall,
                "status": overall,
                "contextVersion": torghut_context::CONTEXT_VERSION,
                "symbol": b.symbol,
                "asOfUtc": b.as_of_utc,
                "checkedAt": checked_at,
                "freshnessSeconds": b.freshness_seconds,
                "qualityScore": b.quality_score,
                "riskFlags": b.risk_flags,
                "domains": DomainsHealth {
                    technicals: (&b.domains.technicals).into(),
                    regime: (&b.domains.regime).into(),
                    news: (&b.domains.news).into(),
                    fundamentals: (&b.domains.fundamentals).into(),
                },
                "ingestion": ingestion,
            })
        }
        // The source itself failed: nothing is known of any domain.
        Err(_) => json!({
            "overallState": "down",
            "status": "down",
            "contextVersion": torghut_context::CONTEXT_VERSION,
            "symbol": symbol,
            "asOfUtc": as_of_utc,
            "checkedAt": checked_at,
            "freshnessSeconds": null,
            "qualityScore": 0,
            "riskFlags": ["market_context_source_error"],
            "domains": {},
            "ingestion": ingestion,
        }),
    };
    let mut resp = Json(json!({"ok": true, "health": health})).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `GET /api/torghut/market-context/engine`: the engine's own bundle, snake_case.
pub async fn engine_market_context(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = ContextQuery::parse(raw.as_deref())?;
    let (engine, cache) = cached(&state, &q).await?;
    Ok(with_headers(Json(&*engine).into_response(), cache))
}

/// `GET /api/torghut/market-context/engine/health`: 200 while any domain is available, 503 when
/// none is, so a probe can alert on it.
pub async fn engine_market_context_health(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = ContextQuery::parse(raw.as_deref())?;
    let symbol = q.symbol_or_probe(&state);
    let as_of = q.as_of.unwrap_or_else(Utc::now);
    // Always measured afresh: a health probe answered from the cache would hide an outage.
    let engine = state.context.fetch(&symbol, as_of).await?;
    if let Some(s) = &q.symbol {
        known(s, &engine)?;
    }
    let health = health(&engine);
    let status = if health.status == "unavailable" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((status, Json(health)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2013, 10, 8, h, m, 0)
            .single()
            .expect("time")
    }

    fn rejected(raw: &str) -> (&'static str, String) {
        match ContextQuery::parse(Some(raw)) {
            Err(ApiError::BadQuery { code, field, .. }) => (code, field),
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn as_of_and_its_snake_case_spelling_are_the_same_parameter() {
        for raw in [
            "symbol=IBM&asOf=2013-10-08T14:30:00%2B00:00",
            "symbol=IBM&as_of=2013-10-08T14:30:00Z",
            "asOf=2013-10-08T10:30:00-04:00&symbol=IBM",
            // An unescaped `+` arrives as a space.
            "symbol=IBM&asOf=2013-10-08T14:30:00+00:00",
        ] {
            let q = ContextQuery::parse(Some(raw)).expect(raw);
            assert_eq!(q.as_of, Some(at(14, 30)), "{raw}");
            assert_eq!(q.symbol.as_ref().map(Symbol::as_str), Some("IBM"));
        }
        assert_eq!(
            ContextQuery::parse(None).expect("empty"),
            ContextQuery::default()
        );
    }

    #[test]
    fn bad_repeated_and_unknown_parameters_are_named() {
        for (raw, code, field) in [
            ("symbol=IBM&asOf=garbage", "invalid_parameter", "asOf"),
            ("symbol=IBM&as_of=2013-10-08", "invalid_parameter", "as_of"),
            (
                "symbol=IBM&asOf=2013-10-08T14:30:00",
                "invalid_parameter",
                "asOf",
            ),
            ("symbol=IBM&asOf=", "invalid_parameter", "asOf"),
            ("symbol=ibm", "invalid_parameter", "symbol"),
            ("symbol=", "invalid_parameter", "symbol"),
            ("symbol=IBM&symbol=AIG", "duplicate_parameter", "symbol"),
            (
                "symbol=IBM&asOf=2013-10-08T14:30:00Z&asOf=2013-10-08T14:31:00Z",
                "duplicate_parameter",
                "asOf",
            ),
            (
                "symbol=IBM&asOf=2013-10-08T14:30:00Z&as_of=2013-10-08T14:30:00Z",
                "duplicate_parameter",
                "as_of",
            ),
            (
                "symbol=IBM&as-of=2013-10-08T14:30:00Z",
                "unknown_parameter",
                "as-of",
            ),
        ] {
            assert_eq!(rejected(raw), (code, field.to_owned()), "{raw}");
        }
    }
}
