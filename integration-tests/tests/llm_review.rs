//! Torghut's existing LLM-review client against the gateway, with a local server speaking the
//! OpenAI chat-completions wire format behind the worker.

use serde_json::{Value, json};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use torghut_integration_tests::openai_fake::FAKE_OPENAI_KEY;
use torghut_integration_tests::sse::{self, SseLog};
use torghut_integration_tests::stack;

const STREAM: &str = "/api/torghut/decision-engine/stream";

/// Runs the stand-in for Torghut's client; returns its JSON verdict.
fn torghut_client(model: &str, request_id: Option<&str>, retries: u32) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/torghut_llm_client.py");
    let mut cmd = Command::new("python3");
    cmd.args([
        script,
        "--base-url",
        &stack().gateway_url,
        "--model",
        model,
        "--retries",
        &retries.to_string(),
    ]);
    if let Some(id) = request_id {
        cmd.args(["--request-id", id]);
    }
    let out = cmd.output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "client printed no JSON ({e}): {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn llm_request(model: &str) -> Value {
    json!({
        "request_id": uuid::Uuid::new_v4().to_string(),
        "symbol": "LLM",
        "strategy_id": "torghut-llm-review",
        "trigger": {"type": "llm_review", "event_ts": "2026-11-22T15:00:00Z"},
        "portfolio": {"equity": 0, "buying_power": "0", "current_exposure": "0"},
        "risk_policy": {"max_notional_per_trade": null, "max_position_pct_equity": null, "kill_switch_enabled": false},
        "llm_review": {"model": model, "messages": [{"role": "user", "content": "review this trade"}], "temperature": 0.2, "max_tokens": 128}
    })
}

async fn stream(body: &Value) -> (u16, Option<SseLog>, String) {
    let resp = reqwest::Client::new()
        .post(stack().url(STREAM))
        .json(body)
        .send()
        .await
        .expect("gateway");
    let status = resp.status().as_u16();
    if status != 200 {
        return (status, None, resp.text().await.unwrap_or_default());
    }
    (
        status,
        Some(
            sse::read(resp, None, Duration::from_secs(90))
                .await
                .expect("stream"),
        ),
        String::new(),
    )
}

fn usage_is_consistent(usage: &Value) {
    let n = |k: &str| {
        usage[k]
            .as_u64()
            .unwrap_or_else(|| panic!("usage.{k} in {usage}"))
    };
    assert!(
        n("prompt_tokens") > 0 && n("completion_tokens") > 0,
        "{usage}"
    );
    assert_eq!(
        n("total_tokens"),
        n("prompt_tokens") + n("completion_tokens")
    );
}

#[tokio::test]
async fn torghuts_client_gets_the_models_json_and_usage() {
    let out = torghut_client("fake-json", None, 0);
    assert_eq!(out["ok"], json!(true), "{out}");
    let content: Value =
        serde_json::from_str(out["content"].as_str().expect("content")).expect("JSON object text");
    assert_eq!(content["verdict"], "approve");
    assert!(
        content["echo"].as_str().is_some_and(|e| e.contains("AAPL")),
        "the prompt reached the model: {content}"
    );
    usage_is_consistent(&out["usage"]);
    let events: Vec<&str> = out["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(events.first(), Some(&"decision.accepted"));
    assert_eq!(events.last(), Some(&"decision.final"));
}

#[tokio::test]
async fn a_streamed_answer_is_aggregated_with_its_usage_frame() {
    let out = torghut_client("fake-stream", None, 0);
    assert_eq!(out["ok"], json!(true), "{out}");
    let content: Value = serde_json::from_str(out["content"].as_str().expect("content"))
        .expect("whole JSON after aggregation");
    assert_eq!(content["verdict"], "approve");
    usage_is_consistent(&out["usage"]);
    assert_eq!(out["model"], "fake-stream");
}

#[tokio::test]
async fn a_server_without_json_mode_is_asked_again_without_response_format() {
    let before = stack()
        .openai
        .calls
        .with_response_format
        .load(Ordering::SeqCst);
    let total_before = stack().openai.calls.total.load(Ordering::SeqCst);
    let out = torghut_client("fake-no-response-format", None, 0);
    assert_eq!(out["ok"], json!(true), "{out}");
    assert!(
        stack()
            .openai
            .calls
            .with_response_format
            .load(Ordering::SeqCst)
            > before
    );
    assert!(
        stack().openai.calls.total.load(Ordering::SeqCst) >= total_before + 2,
        "refused, then plain"
    );
}

#[tokio::test]
async fn a_retry_with_a_new_event_ts_joins_the_run_and_never_gets_409() {
    let first = llm_request("fake-json");
    let (status, log, _) = stream(&first).await;
    assert_eq!(status, 200);
    let first_final = log.expect("log").last().expect("final").data["payload"].clone();
    let mut retry = first.clone();
    retry["trigger"]["event_ts"] = json!("2026-11-22T15:00:07.123456+00:00");
    let (status, log, body) = stream(&retry).await;
    assert_eq!(status, 200, "{body}");
    let log = log.expect("log");
    assert_eq!(log.events[0].data["payload"]["idempotent"], json!(true));
    assert_eq!(log.last().expect("final").data["payload"], first_final);
    // A genuinely different request under the reused id is still refused.
    let mut other = first.clone();
    other["llm_review"]["messages"][0]["content"] = json!("a different prompt");
    assert_eq!(stream(&other).await.0, 409);
}

#[tokio::test]
async fn an_upstream_that_always_times_out_ends_with_a_timeout_error_within_the_deadline() {
    let mut body = llm_request("fake-slow");
    body["deadline_seconds"] = json!(20);
    let started = Instant::now();
    let (status, log, _) = stream(&body).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200);
    let last = log.expect("log").last().cloned().expect("terminal");
    assert_eq!(last.event, "decision.error");
    assert_eq!(last.data["payload"]["code"], "timeout", "{:?}", last.data);
    assert!(
        elapsed < Duration::from_secs(20),
        "ended after {elapsed:?}, past its 20 s deadline"
    );
    // And Torghut's client reads it as a timeout.
    let out = torghut_client("fake-slow", None, 0);
    assert_eq!(out["code"], "timeout", "{out}");
}

#[tokio::test]
async fn the_api_key_never_reaches_events_logs_or_history() {
    let body = llm_request("fake-leaky");
    let request_id = body["request_id"].as_str().expect("id").to_owned();
    let (_, log, _) = stream(&body).await;
    let log = log.expect("log");
    let last = log.last().expect("terminal");
    assert_eq!(last.event, "decision.error");
    assert_eq!(last.data["payload"]["code"], "upstream_error");
    let message = last.data["payload"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("[redacted]"),
        "the echoed key was redacted: {message}"
    );
    let ok = torghut_client("fake-json", None, 0);
    assert_eq!(ok["ok"], json!(true));

    let history = stack()
        .history_json(&format!("decision-{request_id}"))
        .await
        .expect("history");
    assert!(
        history.contains("upstream proxy failed"),
        "the failure is in the history"
    );
    let all_events: String = log.events.iter().map(|e| e.data.to_string()).collect();
    for (place, text) in [
        ("events", all_events),
        ("history", history),
        ("worker log", stack().log("worker")),
        ("gateway log", stack().log("gateway")),
    ] {
        assert!(
            !text.contains(FAKE_OPENAI_KEY),
            "the API key leaked into the {place}"
        );
        assert!(
            !text.contains("TOPSECRET"),
            "part of the API key leaked into the {place}"
        );
    }
}

#[tokio::test]
async fn llm_review_validation_stays_strict() {
    let cases = [
        ("/llm_review/messages", json!([]), "llm_review.messages"),
        (
            "/llm_review/messages",
            json!([{"role": "wizard", "content": "x"}]),
            "llm_review.messages[0].role",
        ),
        ("/llm_review/max_tokens", json!(0), "llm_review.max_tokens"),
        (
            "/llm_review/temperature",
            json!(7),
            "llm_review.temperature",
        ),
    ];
    for (pointer, value, field) in cases {
        let mut body = llm_request("fake-json");
        *body.pointer_mut(pointer).expect("pointer") = value;
        let (status, _, text) = stream(&body).await;
        assert_eq!(status, 422, "{field}: {text}");
        let err: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(err["error"]["field"], field, "{text}");
    }
}
