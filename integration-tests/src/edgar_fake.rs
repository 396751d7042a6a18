//! A local server that speaks SEC EDGAR's XBRL API: `company_tickers.json` and
//! `/api/xbrl/companyfacts/CIK##########.json`, standing in for the service we cannot reach.
//!
//! Like the SEC it refuses clients without a declared User-Agent (403) and answers 404 for a CIK
//! without facts. The liberty taken: the facts of `BAC` answer 500, a provider outage for one
//! symbol. The facts are synthetic fixtures in the real format, not IBM's filings.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const IBM_CIK: u64 = 51143;
pub const OUTAGE_CIK: u64 = 70858;

pub struct FakeEdgar {
    pub base_url: String,
    pub tickers_url: String,
    pub requests: Arc<AtomicUsize>,
}

fn fact(start: &str, end: &str, val: i64, fy: i32, fp: &str, form: &str, filed: &str) -> Value {
    json!({"start": start, "end": end, "val": val, "accn": "0000000000-00-000000", "fy": fy,
           "fp": fp, "form": form, "filed": filed, "frame": null})
}

/// Two annual reports and a 10-Q before the sample as-of, and a 10-K filed after it.
pub fn ibm_facts() -> Value {
    json!({
        "cik": IBM_CIK,
        "entityName": "SYNTHETIC FIXTURE (not IBM's filings)",
        "facts": {"us-gaap": {
            "Revenues": {"label": "Revenues", "units": {"USD": [
                fact("2011-01-01", "2011-12-31", 100_000_000_000, 2011, "FY", "10-K", "2012-02-28"),
                fact("2012-01-01", "2012-12-31", 104_000_000_000, 2012, "FY", "10-K", "2013-02-26"),
                fact("2013-04-01", "2013-06-30", 24_900_000_000, 2013, "Q2", "10-Q", "2013-07-30"),
                fact("2013-01-01", "2013-12-31", 99_000_000_000, 2013, "FY", "10-K", "2014-02-25"),
            ]}},
            "NetIncomeLoss": {"label": "Net income", "units": {"USD": [
                fact("2011-01-01", "2011-12-31", 15_000_000_000, 2011, "FY", "10-K", "2012-02-28"),
                fact("2012-01-01", "2012-12-31", 16_500_000_000, 2012, "FY", "10-K", "2013-02-26"),
            ]}},
            "Liabilities": {"label": "Liabilities", "units": {"USD": [
                fact("2012-01-01", "2012-12-31", 100_000_000_000, 2012, "FY", "10-K", "2013-02-26"),
            ]}},
            "StockholdersEquity": {"label": "Equity", "units": {"USD": [
                fact("2012-01-01", "2012-12-31", 19_000_000_000, 2012, "FY", "10-K", "2013-02-26"),
            ]}},
            "EarningsPerShareDiluted": {"label": "EPS", "units": {"USD/shares": [
                {"start": "2012-01-01", "end": "2012-12-31", "val": 14.37, "fy": 2012, "fp": "FY",
                 "form": "10-K", "filed": "2013-02-26"},
            ]}},
        }}
    })
}

fn declared_agent(headers: &HeaderMap) -> bool {
    headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains('@'))
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "Your Request Originates from an Undeclared Automated Tool",
    )
        .into_response()
}

async fn tickers(State(n): State<Arc<AtomicUsize>>, headers: HeaderMap) -> Response {
    n.fetch_add(1, Ordering::SeqCst);
    if !declared_agent(&headers) {
        return forbidden();
    }
    Json(json!({
        "0": {"cik_str": IBM_CIK, "ticker": "IBM", "title": "INTERNATIONAL BUSINESS MACHINES CORP"},
        "1": {"cik_str": OUTAGE_CIK, "ticker": "BAC", "title": "BANK OF AMERICA CORP /DE/"},
        "2": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."},
    }))
    .into_response()
}

async fn company_facts(
    State(n): State<Arc<AtomicUsize>>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    n.fetch_add(1, Ordering::SeqCst);
    if !declared_agent(&headers) {
        return forbidden();
    }
    let cik = file
        .strip_prefix("CIK")
        .and_then(|f| f.strip_suffix(".json"))
        .filter(|digits| digits.len() == 10)
        .and_then(|digits| digits.parse::<u64>().ok());
    match cik {
        Some(IBM_CIK) => Json(ibm_facts()).into_response(),
        Some(OUTAGE_CIK) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
        _ => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

pub fn start() -> anyhow::Result<FakeEdgar> {
    let requests = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route("/files/company_tickers.json", get(tickers))
        .route("/api/xbrl/companyfacts/{file}", get(company_facts))
        .with_state(requests.clone());
    let addr = crate::serve::spawn("fake edgar", app)?;
    Ok(FakeEdgar {
        base_url: format!("http://{addr}/"),
        tickers_url: format!("http://{addr}/files/company_tickers.json"),
        requests,
    })
}
