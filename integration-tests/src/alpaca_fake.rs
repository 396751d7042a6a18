//! A local server that speaks Alpaca's market-data news API (`GET /v1beta1/news`), standing in
//! for the third-party service we cannot reach from tests.
//!
//! It implements the parts of the real API the provider relies on: key headers (else Alpaca's
//! 401 body), `symbols`, inclusive `start`/`end`, `sort`, `limit` (1..=50, else 400) and opaque
//! `page_token` pagination with `next_page_token`. The liberty taken: any request for `AIG`
//! answers 500, a provider outage for one symbol.
//!
//! The headlines are synthetic test fixtures (source `fixture`, `example.test` URLs), not news.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const FAKE_ALPACA_KEY_ID: &str = "PKTEST0000000000FAKE";
pub const FAKE_ALPACA_SECRET: &str = "fake-alpaca-secret-9d41";
/// Requests for this symbol fail with a 500.
pub const OUTAGE_SYMBOL: &str = "AIG";

pub struct FakeAlpaca {
    pub base_url: String,
    pub requests: Arc<AtomicUsize>,
}

struct FakeState {
    items: Vec<Value>,
    requests: Arc<AtomicUsize>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn item(id: i64, at: DateTime<Utc>, headline: &str, symbols: &[&str]) -> Value {
    json!({
        "id": id,
        "headline": headline,
        "author": "Fixture Desk",
        "created_at": ts(at),
        "updated_at": ts(at),
        "summary": "",
        "content": "",
        "url": format!("https://example.test/news/{id}"),
        "images": [],
        "symbols": symbols,
        "source": "fixture",
    })
}

/// IBM around the sample decision's as-of (2013-10-08T14:30:00Z): a positive item, a negative
/// one, a reworded duplicate, one published after as-of, one older than the 24 h lookback, and
/// enough neutral items that the window needs two pages.
pub fn fixture_items() -> Vec<Value> {
    let at = |h: u32, m: u32| {
        Utc.with_ymd_and_hms(2013, 10, 8, h, m, 0)
            .single()
            .unwrap_or_else(|| panic!("fixture time"))
    };
    let mut items = vec![
        item(
            1,
            at(14, 20),
            "IBM beats estimates and raises full-year outlook",
            &["IBM"],
        ),
        item(
            2,
            at(14, 27),
            "IBM BEATS ESTIMATES and raises full-year outlook!",
            &["IBM"],
        ),
        item(3, at(13, 50), "IBM faces lawsuit over contract", &["IBM"]),
        item(4, at(15, 0), "IBM downgraded after fraud probe", &["IBM"]),
        item(
            5,
            at(14, 0) - Duration::hours(30),
            "IBM shares plunge",
            &["IBM"],
        ),
    ];
    for i in 0..50 {
        items.push(item(
            100 + i,
            at(3, 0) + Duration::minutes(i),
            &format!("IBM schedules investor webcast number {i}"),
            &["IBM"],
        ));
    }
    items
}

#[derive(Debug, Deserialize)]
struct NewsQuery {
    symbols: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<i64>,
    sort: Option<String>,
    page_token: Option<String>,
}

fn alpaca_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"code": 40010000, "message": message}))).into_response()
}

fn created_at(v: &Value) -> Option<DateTime<Utc>> {
    v["created_at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

async fn news(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(q): Query<NewsQuery>,
) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("APCA-API-KEY-ID") != Some(FAKE_ALPACA_KEY_ID)
        || header("APCA-API-SECRET-KEY") != Some(FAKE_ALPACA_SECRET)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "unauthorized."})),
        )
            .into_response();
    }
    let limit = q.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return alpaca_error(StatusCode::BAD_REQUEST, "invalid limit: must be 1..50");
    }
    let parse = |raw: &Option<String>| -> Result<Option<DateTime<Utc>>, ()> {
        raw.as_deref()
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| ())
            })
            .transpose()
    };
    let Ok(start) = parse(&q.start) else {
        return alpaca_error(StatusCode::BAD_REQUEST, "invalid start");
    };
    let Ok(end) = parse(&q.end) else {
        return alpaca_error(StatusCode::BAD_REQUEST, "invalid end");
    };
    let symbols: Vec<String> = q
        .symbols
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if symbols.iter().any(|s| s == OUTAGE_SYMBOL) {
        return alpaca_error(StatusCode::INTERNAL_SERVER_ERROR, "internal server error");
    }
    let mut matching: Vec<&Value> = state
        .items
        .iter()
        .filter(|v| {
            symbols.is_empty()
                || v["symbols"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|s| symbols.iter().any(|w| s == w.as_str())))
        })
        .filter(|v| {
            let t = created_at(v);
            start.is_none_or(|s| t.is_some_and(|t| t >= s))
                && end.is_none_or(|e| t.is_some_and(|t| t <= e))
        })
        .collect();
    matching.sort_by_key(|v| created_at(v));
    if q.sort.as_deref() != Some("asc") {
        matching.reverse();
    }
    // Opaque to clients; an offset here.
    let offset: usize = match q.page_token.as_deref().map(str::parse) {
        None => 0,
        Some(Ok(o)) => o,
        Some(Err(_)) => return alpaca_error(StatusCode::BAD_REQUEST, "invalid page_token"),
    };
    let page: Vec<&Value> = matching
        .iter()
        .skip(offset)
        .take(limit as usize)
        .copied()
        .collect();
    let next = offset + page.len();
    let token = (next < matching.len()).then(|| next.to_string());
    Json(json!({"news": page, "next_page_token": token})).into_response()
}

pub fn start() -> anyhow::Result<FakeAlpaca> {
    let requests = Arc::new(AtomicUsize::new(0));
    let state = Arc::new(FakeState {
        items: fixture_items(),
        requests: requests.clone(),
    });
    let app = axum::Router::new()
        .route("/v1beta1/news", get(news))
        .with_state(state);
    let addr = crate::serve::spawn("fake alpaca", app)?;
    Ok(FakeAlpaca {
        base_url: format!("http://{addr}"),
        requests,
    })
}
