//! The production providers against local servers that speak Alpaca's news and SEC EDGAR's wire
//! formats, and the market-context API over them on the real stack.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;
use torghut_activities::providers::alpaca_news::{AlpacaNewsConfig, AlpacaNewsProvider};
use torghut_activities::providers::edgar::{EdgarConfig, EdgarProvider};
use torghut_activities::providers::fundamentals::FundamentalsProvider;
use torghut_activities::providers::news::NewsProvider;
use torghut_activities::secret::Secret;
use torghut_activities::sentiment::SentimentScorer;
use torghut_activities::skill::SkillError;
use torghut_activities::skills::fundamentals::fundamentals;
use torghut_activities::skills::news::news_sentiment;
use torghut_integration_tests::alpaca_fake::{
    self, FAKE_ALPACA_KEY_ID, FAKE_ALPACA_SECRET, FakeAlpaca,
};
use torghut_integration_tests::edgar_fake::{self, FakeEdgar};
use torghut_integration_tests::{Stack, sample_request, sse, stack_in};
use url::Url;

/// The engine's own shape; Torghut's contract at `/api/torghut/market-context` is
/// `torghut_contract.rs`'s.
const CONTEXT: &str = "/api/torghut/market-context/engine";
const AS_OF: &str = "2013-10-08T14:30:00Z";

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2013, 10, 8, 14, 30, 0)
        .single()
        .expect("time")
}

struct Fakes {
    alpaca: FakeAlpaca,
    edgar: FakeEdgar,
}

fn fakes() -> &'static Fakes {
    static FAKES: OnceLock<Fakes> = OnceLock::new();
    FAKES.get_or_init(|| Fakes {
        alpaca: alpaca_fake::start().expect("fake alpaca"),
        edgar: edgar_fake::start().expect("fake edgar"),
    })
}

/// A stack whose worker and gateway read news and fundamentals over HTTP from the fakes.
fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    let f = fakes();
    stack_in(
        &STACK,
        &[
            ("TORGHUT_ALPACA_NEWS_URL", f.alpaca.base_url.as_str()),
            ("TORGHUT_ALPACA_KEY_ID", FAKE_ALPACA_KEY_ID),
            ("TORGHUT_ALPACA_SECRET_KEY", FAKE_ALPACA_SECRET),
            ("TORGHUT_EDGAR_URL", f.edgar.base_url.as_str()),
            ("TORGHUT_EDGAR_TICKERS_URL", f.edgar.tickers_url.as_str()),
            ("TORGHUT_EDGAR_USER_AGENT", "Torghut tests ops@example.test"),
        ],
    )
}

fn alpaca(key_id: &str) -> AlpacaNewsProvider {
    AlpacaNewsProvider::new(AlpacaNewsConfig {
        base_url: Url::parse(&format!("{}/", fakes().alpaca.base_url)).expect("url"),
        key_id: Secret::new(key_id.to_owned()),
        secret_key: Secret::new(FAKE_ALPACA_SECRET.to_owned()),
        timeout: StdDuration::from_secs(5),
    })
}

fn edgar(user_agent: &str) -> EdgarProvider {
    EdgarProvider::new(EdgarConfig {
        base_url: Url::parse(&fakes().edgar.base_url).expect("url"),
        tickers_url: Url::parse(&fakes().edgar.tickers_url).expect("url"),
        user_agent: user_agent.to_owned(),
        timeout: StdDuration::from_secs(5),
        cache_ttl: StdDuration::from_secs(60),
    })
}

/// Providers are synchronous and run on the blocking pool, as the activities run them.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

#[tokio::test(flavor = "multi_thread")]
async fn alpaca_news_is_paged_cut_at_as_of_and_scored() {
    let before = fakes().alpaca.requests.load(Ordering::SeqCst);
    let items =
        blocking(|| alpaca(FAKE_ALPACA_KEY_ID).headlines("IBM", as_of(), Duration::hours(24)))
            .await
            .expect("headlines");
    let pages = fakes().alpaca.requests.load(Ordering::SeqCst) - before;
    assert_eq!(pages, 2, "53 items at 50 a page");
    assert_eq!(items.len(), 53, "three items and 50 webcasts in the window");
    assert!(
        items.iter().all(|n| n.created_at <= as_of()),
        "nothing after as-of"
    );
    assert!(
        items
            .iter()
            .all(|n| n.created_at > as_of() - Duration::hours(24)),
        "nothing older than the lookback"
    );

    let out = blocking(|| {
        news_sentiment(
            &alpaca(FAKE_ALPACA_KEY_ID),
            &SentimentScorer::embedded().expect("the embedded model parses"),
            "IBM",
            as_of(),
        )
    })
    .await
    .expect("skill");
    assert_eq!(out.status, "ok", "{out:?}");
    assert_eq!(out.payload["item_count"], "52");
    assert_eq!(out.payload["dedup_removed"], "1", "the shouted duplicate");
    assert_eq!(out.freshness_seconds, 180, "the newest item is 14:27");
    assert_eq!(out.citations.len(), 52);
    assert!(
        out.citations
            .iter()
            .all(|c| c.source == "fixture" && c.url.starts_with("https://example.test/news/"))
    );
    let signal: f64 = out.payload["signal"].parse().expect("signal");
    assert!(
        signal > 0.0,
        "the recent beat outweighs the older lawsuit: {signal}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn alpaca_errors_are_retryable_unavailability_with_alpacas_message() {
    let err = blocking(|| alpaca("PKWRONG").headlines("IBM", as_of(), Duration::hours(24)))
        .await
        .expect_err("bad key");
    assert!(
        matches!(&err, SkillError::Unavailable(m) if m.contains("401") && m.contains("unauthorized")),
        "{err}"
    );
    assert!(
        !err.to_string().contains(FAKE_ALPACA_SECRET),
        "no secret in errors"
    );
    let outage =
        blocking(|| alpaca(FAKE_ALPACA_KEY_ID).headlines("AIG", as_of(), Duration::hours(24)))
            .await
            .expect_err("outage");
    assert!(
        matches!(&outage, SkillError::Unavailable(m) if m.contains("500")),
        "{outage}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edgar_company_facts_by_ticker_with_the_filing_calendar() {
    let provider = std::sync::Arc::new(edgar("Torghut tests ops@example.test"));
    let p = provider.clone();
    let facts = blocking(move || p.company_facts("IBM"))
        .await
        .expect("facts")
        .expect("IBM is mapped");
    assert_eq!(facts.cik, Some(edgar_fake::IBM_CIK));
    let p = provider.clone();
    assert!(
        blocking(move || p.company_facts("ZZZZ"))
            .await
            .expect("no error")
            .is_none(),
        "unknown ticker"
    );
    let p = provider.clone();
    let outage = blocking(move || p.company_facts("BAC"))
        .await
        .expect_err("500");
    assert!(
        matches!(&outage, SkillError::Unavailable(m) if m.contains("500")),
        "{outage}"
    );

    let before = fakes().edgar.requests.load(Ordering::SeqCst);
    let p = provider.clone();
    let out = blocking(move || {
        fundamentals(
            &*p,
            &torghut_activities::providers::files::bars::FileBarProvider::new(
                torghut_activities::providers::files::bars::embedded_dir(),
            ),
            "IBM",
            as_of(),
        )
    })
    .await
    .expect("skill");
    assert_eq!(
        fakes().edgar.requests.load(Ordering::SeqCst),
        before,
        "tickers and facts come from the cache"
    );
    assert_eq!(out.status, "ok", "{out:?}");
    assert_eq!(
        out.payload["revenue"], "104000000000",
        "FY2013's 10-K is filed after as-of"
    );
    assert_eq!(out.payload["revenue_growth"], "0.04");
    assert_eq!(out.payload["last_filed"], "2013-07-30");
    assert_eq!(out.payload["next_expected_filing"], "2013-11-14");
    assert_eq!(out.payload["eps_diluted"], "14.37");
    assert!(
        out.citations[0].url.ends_with("/CIK0000051143.json"),
        "{:?}",
        out.citations
    );

    let anonymous = edgar("curl");
    let refused = blocking(move || anonymous.company_facts("IBM"))
        .await
        .expect_err("403");
    assert!(
        matches!(&refused, SkillError::Unavailable(m) if m.contains("403")),
        "{refused}"
    );
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get_json(path: &str) -> (u16, Option<String>, Value) {
    let resp = http().get(stack().url(path)).send().await.expect("gateway");
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, cache, resp.json().await.expect("json body"))
}

fn domain<'a>(bundle: &'a Value, name: &str) -> &'a Value {
    bundle["domains"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["domain"] == name))
        .unwrap_or_else(|| panic!("no {name} in {bundle}"))
}

fn flags(v: &Value) -> Vec<String> {
    v["risk_flags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_market_context_api_merges_all_four_domains_at_as_of() {
    let path = format!("{CONTEXT}?symbol=IBM&as_of={AS_OF}");
    let (status, cache, bundle) = get_json(&path).await;
    assert_eq!(status, 200, "{bundle}");
    assert_eq!(bundle["symbol"], "IBM");
    assert_eq!(bundle["as_of_utc"], AS_OF);
    assert_eq!(bundle["domains"].as_array().map(Vec::len), Some(4));
    for d in [
        "market-context",
        "technicals-regime",
        "news-sentiment",
        "fundamentals",
    ] {
        let out = domain(&bundle, d);
        assert_ne!(out["status"], "missing", "{d}: {out}");
        assert_eq!(out["as_of_utc"], AS_OF, "{d}");
        assert!(
            out["context_version"]
                .as_str()
                .is_some_and(|v| !v.is_empty())
        );
    }
    assert_eq!(
        domain(&bundle, "news-sentiment")["payload"]["item_count"],
        "52"
    );
    assert_eq!(
        domain(&bundle, "fundamentals")["payload"]["revenue"],
        "104000000000"
    );
    let quality: f64 = bundle["quality_score"]
        .as_str()
        .expect("quality")
        .parse()
        .expect("decimal");
    assert!(quality > 0.5 && quality <= 1.0, "{quality}");
    assert_eq!(bundle["usable"], true);
    let run = stack()
        .history_json(&format!("market-context-IBM-{AS_OF}"))
        .await
        .expect("the context was gathered by a market-context-workflow run on the worker");
    assert!(
        run.matches("context-domain").count() >= 4,
        "four context-domain activities"
    );
    let (_, cache2, again) = get_json(&path).await;
    assert_eq!(
        (cache.as_deref(), cache2.as_deref()),
        (Some("miss"), Some("hit"))
    );
    assert_eq!(again, bundle);
}

#[tokio::test]
async fn a_provider_outage_is_an_explicit_missing_domain_not_an_error() {
    let (status, _, bundle) = get_json(&format!("{CONTEXT}?symbol=AIG&as_of={AS_OF}")).await;
    assert_eq!(status, 200, "{bundle}");
    let news = domain(&bundle, "news-sentiment");
    assert_eq!(news["status"], "missing");
    assert_eq!(
        flags(news),
        vec!["news-sentiment:missing:failed_after_retries"]
    );
    assert!(flags(&bundle).contains(&"news-sentiment:missing:failed_after_retries".to_owned()));
    assert_ne!(domain(&bundle, "technicals-regime")["status"], "missing");
}

#[tokio::test]
async fn bad_query_parameters_are_a_400_naming_the_parameter() {
    for (query, field, code) in [
        ("", "symbol", "missing_parameter"),
        ("?symbol=ibm", "symbol", "invalid_parameter"),
        ("?symbol=IBM&as_of=yesterday", "as_of", "invalid_parameter"),
        ("?symbol=IBM&asOf=garbage", "asOf", "invalid_parameter"),
        ("?symbol=IBM&symbol=AIG", "symbol", "duplicate_parameter"),
        ("?symbol=IBM&when=now", "when", "unknown_parameter"),
        (
            "?symbol=ZZZZ&as_of=2013-10-08T14:30:00Z",
            "symbol",
            "unknown_symbol",
        ),
    ] {
        let (status, _, body) = get_json(&format!("{CONTEXT}{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
        assert!(
            body["error"]["reason"]
                .as_str()
                .is_some_and(|r| r.len() > 10),
            "{body}"
        );
    }
}

#[tokio::test]
async fn health_reports_freshness_and_availability_by_domain() {
    // The probe symbol SPY has bars but no news items and no company facts.
    let (status, _, health) = get_json(&format!("{CONTEXT}/health?as_of={AS_OF}")).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["probe_symbol"], "SPY");
    assert_eq!(health["status"], "degraded");
    let by = |name: &str| {
        health["domains"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["domain"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {health}"))
    };
    assert_eq!(by("technicals-regime")["available"], true);
    assert_eq!(by("technicals-regime")["freshness_target_seconds"], 60);
    assert_eq!(by("news-sentiment")["available"], false);
    assert_eq!(by("news-sentiment")["freshness_target_seconds"], 300);
    assert_eq!(by("fundamentals")["available"], false);
    assert_eq!(by("fundamentals")["freshness_target_seconds"], 86400);

    // Today the embedded dataset is years old: available, but stale, and it says by how much.
    let (status, _, now) = get_json(&format!("{CONTEXT}/health?symbol=IBM")).await;
    assert_eq!(status, 200, "{now}");
    assert_eq!(now["status"], "degraded");
    for d in ["market-context", "technicals-regime"] {
        let d = &now["domains"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["domain"] == d).cloned())
            .expect("domain");
        assert_eq!(d["status"], "stale", "{d}");
        assert!(
            d["freshness_seconds"]
                .as_u64()
                .is_some_and(|s| s > 365 * 86400),
            "{d}"
        );
    }

    // Before the dataset begins there is nothing at all: every domain missing is a 503.
    let (status, _, none) = get_json(&format!(
        "{CONTEXT}/health?symbol=BAC&as_of=2000-01-03T15:00:00Z"
    ))
    .await;
    assert_eq!(status, 503, "{none}");
    assert_eq!(none["status"], "unavailable");
}

#[tokio::test]
async fn a_decision_reads_news_and_fundamentals_over_http() {
    let body = sample_request();
    let resp = http()
        .post(stack().url("/api/torghut/decision-engine/stream"))
        .json(&body)
        .send()
        .await
        .expect("gateway");
    let log = sse::read(resp, None, StdDuration::from_secs(120))
        .await
        .expect("stream");
    assert!(log.is_terminated(), "{:?}", log.names());
    let ready = log
        .events
        .iter()
        .find(|e| e.event == "decision.context_ready")
        .expect("context_ready");
    let domains = ready.data["payload"]["domains"]
        .as_array()
        .expect("domains")
        .clone();
    for d in &domains {
        assert_ne!(d["status"], "missing", "{d}");
    }
    let last = log.last().expect("final");
    assert_eq!(last.event, "decision.final", "{:?}", last.data);
    let intent_flags = flags(&last.data["payload"]["intent"]);
    assert!(
        !intent_flags.iter().any(|f| f.contains(":missing:")),
        "{intent_flags:?}"
    );
}

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let (status, _, doc) = get_json("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/api/torghut/decision-engine/stream",
        "/api/torghut/decision-engine/runs",
        "/api/torghut/decision-engine/runs/{id}",
        "/api/torghut/decision-engine/runs/{id}/events",
        "/api/torghut/decision-engine/runs/{id}/cancel",
        "/api/torghut/decision-engine/triggers",
        "/api/torghut/market-context",
        "/api/torghut/market-context/health",
        "/api/torghut/market-context/engine",
        "/api/torghut/market-context/engine/health",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} undocumented");
    }
    // And every documented path is routed: an unrouted path is axum's empty 404.
    for (path, ops) in paths {
        let concrete = path.replace("{id}", "decision-00000000-0000-0000-0000-000000000000");
        for method in ops.as_object().expect("operations").keys() {
            let req = match method.as_str() {
                "get" => http().get(stack().url(&concrete)),
                "post" => http()
                    .post(stack().url(&concrete))
                    .json(&serde_json::json!({})),
                other => panic!("unexpected method {other}"),
            };
            let resp = req.send().await.expect("gateway");
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            assert!(
                !(status == 404 && text.is_empty()) && status != 405,
                "{method} {path} is not routed ({status})"
            );
        }
    }
}
