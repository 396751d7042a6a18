//! Distributed tracing on the real stack, exporting to a fake OTLP/HTTP collector: a decision's
//! trace goes from the caller's `traceparent` through the gateway and Temporal to every skill,
//! its events carry the trace id, and both binaries export spans of that one trace.

use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use torghut_integration_tests::otlp_fake::{self, FakeCollector, ReceivedSpan};
use torghut_integration_tests::sse;
use torghut_integration_tests::{Stack, sample_request, stack_in};
use torghut_policy::skills::DECISION_SKILLS;

static TRACED: OnceLock<Stack> = OnceLock::new();
static COLLECTOR: OnceLock<FakeCollector> = OnceLock::new();

const TIMEOUT: Duration = Duration::from_secs(90);
fn collector() -> &'static FakeCollector {
    COLLECTOR.get_or_init(|| match otlp_fake::start() {
        Ok(c) => c,
        Err(e) => panic!("fake collector: {e:#}"),
    })
}

/// A stack whose worker and gateway export to the fake collector, in small quick batches.
fn traced() -> &'static Stack {
    let endpoint = collector().base_url.clone();
    stack_in(
        &TRACED,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    )
}

fn random_hex(bytes: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..2 * bytes].to_owned()
}

/// Waits until the collector holds spans of `trace_id` that satisfy `done`, and returns them.
async fn spans_until(trace_id: &str, done: impl Fn(&[ReceivedSpan]) -> bool) -> Vec<ReceivedSpan> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let spans = collector().trace(trace_id);
        if done(&spans) || Instant::now() > deadline {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn skill_spans<'a>(spans: &'a [ReceivedSpan], skill: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| {
            s.name == "skill"
                && s.service == "torghut-worker"
                && s.attributes.get("skill").map(String::as_str) == Some(skill)
        })
        .collect()
}

fn every_skill_reported(spans: &[ReceivedSpan]) -> bool {
    DECISION_SKILLS
        .iter()
        .all(|k| !skill_spans(spans, k).is_empty())
}

fn one<'a>(spans: &'a [ReceivedSpan], service: &str, name: &str) -> &'a ReceivedSpan {
    let found: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.service == service && s.name == name)
        .collect();
    assert_eq!(found.len(), 1, "one {service} {name} span in {spans:#?}");
    found[0]
}

fn by_id<'a>(spans: &'a [ReceivedSpan], id: &str) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|s| s.span_id == id)
}

#[tokio::test]
async fn a_decision_is_one_trace_from_the_callers_traceparent_to_every_skill() {
    let stack = traced();
    let (trace_id, caller_span) = (random_hex(16), random_hex(8));
    let body = sample_request();
    let resp = reqwest::Client::new()
        .post(stack.url("/api/torghut/decision-engine/stream"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&body)
        .send()
        .await
        .expect("gateway");
    assert_eq!(resp.status(), 200);
    let log = sse::read(resp, None, TIMEOUT).await.expect("stream");
    assert_eq!(log.last().map(|e| e.event.as_str()), Some("decision.final"));
    for e in &log.events {
        assert_eq!(
            e.data["trace_id"],
            Value::from(trace_id.clone()),
            "{:?}",
            e.data
        );
    }

    let spans = spans_until(&trace_id, |s| {
        every_skill_reported(s)
            && s.iter().any(|x| x.service == "torghut-gateway")
            && s.iter().any(|x| x.name == "RunWorkflow:decision-workflow")
    })
    .await;
    assert!(every_skill_reported(&spans), "{spans:#?}");
    // The gateway: its request span continues the caller's, and starts the workflow.
    let request = one(&spans, "torghut-gateway", "request");
    assert_eq!(request.parent_span_id, caller_span, "{request:?}");
    assert_eq!(request.attributes.get("trace_id"), Some(&trace_id));
    let start = one(&spans, "torghut-gateway", "StartWorkflow:decision-workflow");
    assert_eq!(start.parent_span_id, request.span_id);
    // The worker: the SDK carried the context in the start's Temporal headers.
    let run = one(&spans, "torghut-worker", "RunWorkflow:decision-workflow");
    assert_eq!(run.parent_span_id, start.span_id);
    // Every skill: a span of ours under the SDK's span of that activity attempt.
    for skill in DECISION_SKILLS {
        for span in skill_spans(&spans, skill) {
            let parent = by_id(&spans, &span.parent_span_id)
                .unwrap_or_else(|| panic!("{skill}: parent of {span:?} not exported"));
            assert_eq!(parent.name, format!("RunActivity:{skill}"), "{span:?}");
            assert_eq!(parent.service, "torghut-worker");
            assert_eq!(span.attributes.get("trace_id"), Some(&trace_id));
            assert!(span.attributes.contains_key("attempt"), "{span:?}");
            assert_eq!(
                span.attributes.get("workflow_id").map(String::as_str),
                Some(
                    format!(
                        "decision-{}",
                        body["request_id"].as_str().unwrap_or_default()
                    )
                    .as_str()
                )
            );
        }
    }

    // And the logs: the skills' lines (worker) and the request's (gateway) name the trace.
    let worker_log = stack.log("worker");
    assert!(
        worker_log
            .lines()
            .any(|l| l.contains("skill finished") && l.contains(&trace_id)),
        "no skill log line with trace_id={trace_id}"
    );
    assert!(
        stack
            .log("gateway")
            .lines()
            .any(|l| l.contains("streaming decision") && l.contains(&trace_id)),
        "no gateway log line with trace_id={trace_id}"
    );
}

#[tokio::test]
async fn a_run_submitted_without_a_valid_traceparent_gets_a_trace_of_its_own() {
    let stack = traced();
    let body = sample_request();
    let request_id = body["request_id"].as_str().expect("id").to_owned();
    let http = reqwest::Client::new();
    let resp = http
        .post(stack.url("/api/torghut/decision-engine/runs"))
        // Upper-case hex is invalid: the gateway must start a new trace, not fail the request.
        .header(
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
        )
        .json(&body)
        .send()
        .await
        .expect("submit");
    assert_eq!(resp.status(), 202);
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        let status: Value = http
            .get(stack.url(&format!("/api/torghut/decision-engine/runs/{request_id}")))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        if status["finished"] == Value::Bool(true) || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(status["finished"], Value::Bool(true), "{status}");
    let ids: BTreeSet<&str> = status["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["trace_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "one trace per run: {ids:?}");
    let trace_id = ids.into_iter().next().unwrap_or_default().to_owned();
    assert_eq!(trace_id.len(), 32);
    assert!(
        trace_id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{trace_id}"
    );
    assert_ne!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");

    let spans = spans_until(&trace_id, every_skill_reported).await;
    assert!(every_skill_reported(&spans), "{spans:#?}");
    let request = one(&spans, "torghut-gateway", "request");
    assert_eq!(
        request.parent_span_id, "",
        "a new trace starts at the gateway"
    );
}

#[tokio::test]
async fn every_run_a_triggers_call_starts_is_traced_under_the_callers_trace() {
    let stack = traced();
    let trace_id = random_hex(16);
    let strategy = format!("traced-{}", random_hex(8));
    let body = serde_json::json!({
        "strategy_id": strategy,
        "portfolio": {"equity": "100000", "buying_power": "250000", "current_exposure": "0"},
        "execution_context": {"primary_adapter": "alpaca", "lean_enabled": true, "mode": "paper"},
        "triggers": [
            {"symbol": "IBM", "type": "macd_cross_up", "event_ts": "2013-10-08T14:30:00Z"},
            {"symbol": "SPY", "type": "macd_cross_up", "event_ts": "2013-10-08T14:30:00Z"},
        ],
    });
    let http = reqwest::Client::new();
    let resp = http
        .post(stack.url("/api/torghut/decision-engine/triggers"))
        .header("traceparent", format!("00-{trace_id}-{}-01", random_hex(8)))
        .json(&body)
        .send()
        .await
        .expect("triggers");
    assert_eq!(resp.status(), 202);
    let answer: Value = resp.json().await.expect("json");
    let runs: Vec<String> = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["run_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(runs.len(), 2, "{answer}");
    for run in runs {
        let events = http
            .get(stack.url(&format!("/api/torghut/decision-engine/runs/{run}/events")))
            .send()
            .await
            .expect("events");
        let log = sse::read(events, None, TIMEOUT).await.expect("stream");
        assert!(log.is_terminated(), "{run}: {:?}", log.names());
        for e in &log.events {
            assert_eq!(e.data["trace_id"], Value::from(trace_id.clone()), "{run}");
        }
    }
}
