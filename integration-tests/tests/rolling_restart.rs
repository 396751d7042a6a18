//! A rolling restart must not fail Torghut's retry: two gateways behind a local proxy (haproxy,
//! probing `/readyz` as a Service or load balancer does), one restarted (SIGTERM) while a client
//! streams a decision; the client retries once, 0.5 s after its stream broke, through the proxy
//! with the same `request_id` (what Torghut does), and sees exactly one `decision.final`.
//!
//! The gateways run with `TORGHUT_GATEWAY_SHUTDOWN_DELAY_SECONDS=1`: after SIGTERM their
//! readiness fails at once while they still serve, so the proxy has taken the stopping gateway
//! out before it stops accepting, as the pre-stop delay of deploy/ arranges in Kubernetes.

use serde_json::Value;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use torghut_integration_tests::{Stack, Stop, free_port, sample_request, sse, stack_in};

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    stack_in(
        &STACK,
        &[
            // Every decision takes 6 s longer, so the restart lands while it runs.
            ("TORGHUT_FAULTS", "technicals-regime=hang:6:always"),
            ("TORGHUT_GATEWAY_SHUTDOWN_DELAY_SECONDS", "1"),
        ],
    )
}

/// haproxy in front of gateway `a` (the stack's own) and `b`: `balance first` sends everything
/// to `a` while its readiness passes, checked every 200 ms, out after one failure.
fn start_proxy(stack: &Stack, a: &str, b: &str) -> String {
    let port = free_port().expect("port");
    let config = format!(
        "global
  maxconn 256
defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
frontend torghut
  bind 127.0.0.1:{port}
  default_backend gateways
backend gateways
  balance first
  option httpchk
  http-check send meth GET uri /readyz
  http-check expect status 200
  default-server inter 200ms fall 1 rise 2
  server a {a} check
  server b {b} check
"
    );
    let path = stack.log_dir.join("haproxy.cfg");
    std::fs::write(&path, config).expect("haproxy.cfg");
    stack
        .start_process(
            "haproxy",
            Command::new("/usr/sbin/haproxy")
                .arg("-db")
                .arg("-f")
                .arg(&path),
        )
        .expect("haproxy (scripts/install-deps.sh installs it)");
    let url = format!("http://127.0.0.1:{port}");
    url
}

async fn ready(url: &str) -> bool {
    reqwest::get(format!("{url}/readyz"))
        .await
        .is_ok_and(|r| r.status().is_success())
}

async fn stream(url: &str, body: &Value) -> sse::SseLog {
    let resp = reqwest::Client::new()
        .post(format!("{url}/api/torghut/decision-engine/stream"))
        .json(body)
        .send()
        .await
        .expect("the proxy answers");
    assert_eq!(resp.status().as_u16(), 200, "through the proxy");
    sse::read(resp, None, Duration::from_secs(120))
        .await
        .expect("stream")
}

fn finals(log: &sse::SseLog) -> usize {
    log.events
        .iter()
        .filter(|e| e.event == "decision.final")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_restarted_mid_stream_costs_torghut_one_retry_and_one_final() {
    let stack = stack();
    let a = stack.gateway_url.trim_start_matches("http://").to_owned();
    let b = format!("127.0.0.1:{}", free_port().expect("port"));
    stack
        .start_gateway_named("gateway-b", &b)
        .expect("second gateway");
    let proxy = start_proxy(stack, &a, &b);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !ready(&proxy).await {
        assert!(tokio::time::Instant::now() < deadline, "proxy not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let body = sample_request();
    let request_id = body["request_id"].as_str().expect("id").to_owned();
    let first = tokio::spawn({
        let (proxy, body) = (proxy.clone(), body.clone());
        async move { stream(&proxy, &body).await }
    });
    // Once the run exists (asked of gateway b, which the proxy does not use yet), restart a.
    let status_url = format!("http://{b}/api/torghut/decision-engine/runs/{request_id}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !reqwest::get(&status_url)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopping = tokio::task::spawn_blocking(move || stack.stop("gateway", Stop::Graceful));

    let first = first.await.expect("first stream");
    assert_eq!(
        finals(&first),
        0,
        "the decision outlives gateway a's drain: {:?}",
        first.names()
    );
    assert!(
        first.comments.iter().any(|c| c.contains("reconnect")),
        "gateway a served the stream and ended it with a reconnect hint: {:?}",
        first.comments
    );

    // Torghut's retry: once, 0.5 s later, through the proxy, the same request.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = stream(&proxy, &body).await;
    let accepted = second
        .events
        .iter()
        .find(|e| e.event == "decision.accepted")
        .expect("accepted");
    assert_eq!(
        accepted.data["payload"]["idempotent"], true,
        "the retry joined the same run"
    );
    assert_eq!(
        finals(&first) + finals(&second),
        1,
        "exactly one final seen by the client: {:?}",
        second.names()
    );
    assert_eq!(
        second.last().map(|e| e.event.as_str()),
        Some("decision.final"),
        "{:?}",
        second.names()
    );
    assert_eq!(second.last().expect("final").data["request_id"], request_id);

    stopping
        .await
        .expect("join")
        .expect("gateway a exits after SIGTERM");
    assert_eq!(
        stack
            .settled_count(&format!("WorkflowId = 'decision-{request_id}'"), 1)
            .await
            .expect("count"),
        1,
        "one run"
    );

    // The restart completes: a is back, and the proxy sends to it again.
    tokio::task::spawn_blocking(move || stack.start_gateway())
        .await
        .expect("join")
        .expect("gateway a starts again");
    let log = stack.log("gateway");
    assert!(
        log.contains("/readyz fails now"),
        "readiness failed before draining"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !ready(&proxy).await {
        assert!(tokio::time::Instant::now() < deadline, "proxy not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
