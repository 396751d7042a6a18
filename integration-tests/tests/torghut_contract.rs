//! Torghut's market-context contract (`torghut.market-context.v1`) on the real stack, read the
//! way Torghut's `MarketContextClient` reads it: without a token, from a gateway that has tokens
//! configured and `TORGHUT_MARKET_CONTEXT_PUBLIC=true`.
//!
//! The sweep itself is `integration-tests/contract/torghut_client_check.py`: pydantic models
//! with `extra="forbid"` and a JSON Schema, both written from the contract, and Torghut's gate,
//! over every embedded symbol and trading day, with and without `asOf`, and health.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use torghut_integration_tests::{Stack, stack_in};

const CONTEXT: &str = "/api/torghut/market-context";
const TOKEN: &str = "tok-torghut-5b1e7d0c9a";
/// GOOG has daily bars only; the worker is told to fail its technicals source, so the sweep
/// sees a `technicals_error` that Torghut's gate must block on.
const FAILING_SYMBOL: &str = "GOOG";

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    stack_in(
        &STACK,
        &[
            ("TORGHUT_API_TOKENS", "torghut:tok-torghut-5b1e7d0c9a"),
            ("TORGHUT_MARKET_CONTEXT_PUBLIC", "true"),
            ("TORGHUT_FAULTS", "technicals-regime@GOOG=fail:always"),
        ],
    )
}

async fn get(path: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut req = reqwest::Client::new()
        .get(stack().url(path))
        .header("accept", "application/json");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("gateway");
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ctype, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn torghuts_client_validates_every_embedded_symbol_and_health_and_its_gate_behaves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let url = stack().url(CONTEXT);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(root.join("contract/torghut_client_check.py"))
            .args(["--url", &url])
            .arg("--schema")
            .arg(root.join("contract/torghut-market-context.v1.schema.json"))
            .arg("--openapi")
            .arg(root.join("../gateway/openapi.json"))
            .args(["--failing-symbol", FAILING_SYMBOL])
            .output()
    })
    .await
    .expect("join")
    .expect("python3 runs (scripts/install-deps.sh installs pydantic)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the client check failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.lines().any(|l| l.ends_with(" 0 failed")), "{stdout}");
}

#[tokio::test]
async fn the_public_switch_opens_the_market_context_routes_and_nothing_else() {
    // No token: the market-context routes answer (here a 400 for the missing symbol, proving
    // the handler ran), every other route but the probes is still a 401.
    for path in [
        CONTEXT,
        "/api/torghut/market-context/engine",
        "/api/torghut/market-context/health?symbol=ibm",
        "/api/torghut/market-context/engine/health?symbol=ibm",
    ] {
        let (status, _, body) = get(path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
    for path in [
        "/openapi.json",
        "/api/torghut/decision-engine/runs/decision-x",
        "/api/torghut/market-context/",
    ] {
        let (status, _, body) = get(path, None).await;
        assert_eq!(status, 401, "{path}: {body}");
    }
    let (status, _, _) = get("/openapi.json", Some(TOKEN)).await;
    assert_eq!(status, 200, "a token still works");
}

#[tokio::test]
async fn as_of_and_its_snake_case_spelling_read_the_same_context() {
    let camel = format!("{CONTEXT}?symbol=IBM&asOf=2013-10-08T10%3A30%3A00-04%3A00");
    let snake = format!("{CONTEXT}?symbol=IBM&as_of=2013-10-08T14:30:00Z");
    let (s1, ctype, a) = get(&camel, None).await;
    let (s2, _, b) = get(&snake, None).await;
    assert_eq!((s1, s2), (200, 200), "{a}\n{b}");
    assert!(ctype.starts_with("application/json"), "{ctype}");
    assert_eq!(a["ok"], true);
    assert_eq!(a["context"]["asOfUtc"], "2013-10-08T14:30:00Z");
    assert_eq!(a, b, "one instant, one context");
}

#[tokio::test]
async fn bad_values_repeats_and_unknown_symbols_are_json_400s_never_a_silent_now() {
    for (query, field, code) in [
        ("?symbol=IBM&asOf=garbage", "asOf", "invalid_parameter"),
        ("?symbol=IBM&asOf=2013-10-08", "asOf", "invalid_parameter"),
        (
            "?symbol=IBM&asOf=2013-10-08T14:30:00Z&as_of=2013-10-08T14:30:00Z",
            "as_of",
            "duplicate_parameter",
        ),
        ("?symbol=IBM&symbol=IBM", "symbol", "duplicate_parameter"),
        (
            "?symbol=IBM&asof=2013-10-08T14:30:00Z",
            "asof",
            "unknown_parameter",
        ),
        ("?symbol=ZZZZ", "symbol", "unknown_symbol"),
        ("?asOf=2013-10-08T14:30:00Z", "symbol", "missing_parameter"),
    ] {
        let (status, ctype, body) = get(&format!("{CONTEXT}{query}"), None).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(ctype.starts_with("application/json"), "{query}: {ctype}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
        for key in ["reason", "message"] {
            assert!(
                body["error"][key].as_str().is_some_and(|s| !s.is_empty()),
                "{query}: {body}"
            );
        }
    }
}
