//! Bearer-token authentication and per-token rate limiting on a gateway configured with tokens.

use serde_json::Value;
use std::sync::OnceLock;
use torghut_integration_tests::{Stack, sample_request, sse, stack_in};

const TORGHUT_TOKEN: &str = "tok-torghut-5b1e7d0c9a";
const BURST_TOKEN: &str = "tok-burst-77e2f1a4c3d9";

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    stack_in(
        &STACK,
        &[
            (
                "TORGHUT_API_TOKENS",
                "torghut:tok-torghut-5b1e7d0c9a,burst:tok-burst-77e2f1a4c3d9",
            ),
            ("TORGHUT_RATE_LIMIT_PER_MINUTE", "5"),
        ],
    )
}

async fn get(path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(stack().url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("gateway")
}

#[tokio::test]
async fn every_route_but_the_probes_and_the_metrics_needs_a_configured_bearer_token() {
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            get(path, None).await.status().as_u16(),
            200,
            "{path} is open"
        );
    }
    for (path, token) in [
        ("/openapi.json", None),
        ("/api/torghut/market-context?symbol=IBM", None),
        (
            "/api/torghut/decision-engine/runs/decision-x",
            Some("tok-torghut-5b1e7d0c9"),
        ),
        ("/openapi.json", Some("not-a-configured-token-at-all")),
    ] {
        let resp = get(path, token).await;
        assert_eq!(resp.status().as_u16(), 401, "{path} {token:?}");
        assert_eq!(
            resp.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unauthorized");
        let text = body.to_string();
        assert!(
            !text.contains(TORGHUT_TOKEN) && !text.contains(BURST_TOKEN),
            "{text}"
        );
    }
    // Refused requests are counted too, under their route's template: the metrics layer runs
    // outside authentication.
    let metrics = get("/metrics", None).await.text().await.expect("metrics");
    assert!(
        metrics.lines().any(|l| l
            == r#"torghut_gateway_http_requests_total{route="/api/torghut/decision-engine/runs/{id}",status_class="4xx"} 1"#),
        "{metrics}"
    );
    // Unauthenticated posts start nothing.
    let body = sample_request();
    let resp = reqwest::Client::new()
        .post(stack().url("/api/torghut/decision-engine/runs"))
        .json(&body)
        .send()
        .await
        .expect("gateway");
    assert_eq!(resp.status().as_u16(), 401);

    // With the token, a decision streams to its final.
    let resp = reqwest::Client::new()
        .post(stack().url("/api/torghut/decision-engine/stream"))
        .bearer_auth(TORGHUT_TOKEN)
        .json(&sample_request())
        .send()
        .await
        .expect("gateway");
    assert_eq!(resp.status().as_u16(), 200);
    let log = sse::read(resp, None, std::time::Duration::from_secs(120))
        .await
        .expect("stream");
    assert_eq!(log.last().map(|e| e.event.as_str()), Some("decision.final"));
}

#[tokio::test]
async fn each_token_has_its_own_rate_limit_with_retry_after() {
    for i in 0..5 {
        let s = get("/openapi.json", Some(BURST_TOKEN))
            .await
            .status()
            .as_u16();
        assert_eq!(s, 200, "request {i} is within the limit");
    }
    let limited = get("/openapi.json", Some(BURST_TOKEN)).await;
    assert_eq!(limited.status().as_u16(), 429);
    let retry: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!(
        (1..=12).contains(&retry),
        "5 a minute: one every 12 s, got {retry}"
    );
    let body: Value = limited.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(!body.to_string().contains(BURST_TOKEN));
    // Another token is not affected.
    assert_eq!(get("/healthz", None).await.status().as_u16(), 200);
    assert_eq!(
        get("/openapi.json", Some(TORGHUT_TOKEN))
            .await
            .status()
            .as_u16(),
        200
    );
}
