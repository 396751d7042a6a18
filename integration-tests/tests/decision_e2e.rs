//! A decision end to end: HTTP → gateway → real Temporal → worker → SSE, and the API's
//! idempotency, resume and validation contracts.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::time::Duration;
use temporalio_client::WorkflowCountOptions;
use torghut_integration_tests::sse::{self, SseLog};
use torghut_integration_tests::{sample_request, stack};

const STREAM: &str = "/api/torghut/decision-engine/stream";
const TIMEOUT: Duration = Duration::from_secs(90);

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post_stream(body: &Value) -> reqwest::Response {
    http()
        .post(stack().url(STREAM))
        .json(body)
        .send()
        .await
        .expect("gateway reachable")
}

async fn stream_to_end(body: &Value) -> SseLog {
    let resp = post_stream(body).await;
    assert_eq!(resp.status(), 200);
    sse::read(resp, None, TIMEOUT)
        .await
        .expect("a complete stream")
}

async fn executions(request_id: &str) -> usize {
    stack()
        .count_workflows(&format!("WorkflowId = 'decision-{request_id}'"))
        .await
        .expect("count")
}

#[tokio::test]
async fn a_decision_streams_every_step_and_ends_with_a_bounded_intent() {
    let body = sample_request();
    let request_id = body["request_id"].as_str().expect("id").to_owned();
    let log = stream_to_end(&body).await;

    let names = log.names();
    assert_eq!(names.first(), Some(&"decision.accepted"), "{names:?}");
    assert_eq!(
        names.iter().filter(|n| **n == "decision.progress").count(),
        4,
        "{names:?}"
    );
    let ctx = names
        .iter()
        .position(|n| *n == "decision.context_ready")
        .expect("context_ready");
    let ana = names
        .iter()
        .position(|n| *n == "decision.analysis_complete")
        .expect("analysis");
    assert!(
        ctx < ana && names.last() == Some(&"decision.final"),
        "{names:?}"
    );
    assert_eq!(log.retry_ms, Some(2000), "retry hint");

    for (i, e) in log.events.iter().enumerate() {
        assert_eq!(e.id, Some(i as u64), "ids are the log offsets");
        assert_eq!(e.data["sequence"], json!(i));
        assert_eq!(e.data["request_id"], json!(request_id));
        assert_eq!(e.data["run_id"], json!(format!("decision-{request_id}")));
        assert!(
            e.data["at"].as_str().is_some_and(|a| a.ends_with('Z')),
            "{:?}",
            e.data
        );
    }
    assert_eq!(log.events[0].data["payload"]["idempotent"], json!(false));

    // The skills computed from the embedded bars: technicals is present and fresh.
    let ready = &log.events[ctx].data["payload"];
    let tech = ready["domains"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["domain"] == "technicals-regime"))
        .expect("technicals domain");
    assert_eq!(tech["status"], "ok", "{ready}");

    let intent = &log.last().expect("final").data["payload"]["intent"];
    assert!(["buy", "sell", "hold"].contains(&intent["action"].as_str().expect("action")));
    let qty: f64 = intent["qty"]
        .as_str()
        .expect("qty string")
        .parse()
        .expect("decimal");
    let limit: f64 = intent["order_constraints"]["limit_price"]
        .as_str()
        .map_or(0.0, |p| p.parse().expect("price"));
    assert!(
        qty * limit <= 7000.0 * 1.01,
        "per-trade cap holds: {intent}"
    );
    assert!(
        ["alpaca", "lean"].contains(&intent["adapter_hint"]["adapter"].as_str().expect("adapter"))
    );
    assert!(
        !intent["adapter_hint"]["reason"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(intent["artifact_refs"].as_array().map(Vec::len), Some(4));
    assert!(
        intent["risk_flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f
                .as_str()
                .is_some_and(|f| f.starts_with("news-sentiment:missing")))),
        "missing news is an explicit flag: {intent}"
    );
    assert_eq!(executions(&request_id).await, 1);

    // Operators find it by its search attributes.
    let client = stack().temporal().await.expect("temporal client");
    let action = intent["action"].as_str().expect("action");
    let query = format!(
        "WorkflowId = 'decision-{request_id}' AND Symbol = 'IBM' AND StrategyId = 'intraday-v3-momentum-01' \
         AND TradingMode = 'paper' AND DecisionAction = '{action}'"
    );
    let mut found = 0;
    for _ in 0..50 {
        found = client
            .count_workflows(query.clone(), WorkflowCountOptions::default())
            .await
            .expect("count")
            .count();
        if found == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found, 1, "{query}");
}

#[tokio::test]
async fn duplicate_request_id_returns_the_existing_run() {
    let body = sample_request();
    let request_id = body["request_id"].as_str().expect("id").to_owned();
    let (first, second) = tokio::join!(stream_to_end(&body), stream_to_end(&body));
    let third = stream_to_end(&body).await; // after the run closed: replayed from its result
    let finals: Vec<&Value> = [&first, &second, &third]
        .iter()
        .map(|l| &l.last().expect("terminal").data["payload"])
        .collect();
    assert_eq!(finals[0], finals[1]);
    assert_eq!(finals[0], finals[2]);
    let flags: Vec<&Value> = [&first, &second, &third]
        .iter()
        .map(|l| &l.events[0].data["payload"]["idempotent"])
        .collect();
    assert_eq!(
        flags.iter().filter(|f| ***f == json!(false)).count(),
        1,
        "exactly one creator: {flags:?}"
    );
    assert_eq!(flags[2], &json!(true));
    assert_eq!(first.events.len(), third.events.len());
    assert_eq!(
        executions(&request_id).await,
        1,
        "one workflow execution in Temporal"
    );
}

#[tokio::test]
async fn a_retry_that_only_refreshes_event_ts_joins_the_run() {
    let body = sample_request();
    let first = stream_to_end(&body).await;
    let mut retry = body.clone();
    retry["trigger"]["event_ts"] = json!("2013-10-08T15:46:30Z");
    let second = stream_to_end(&retry).await;
    assert_eq!(second.events[0].data["payload"]["idempotent"], json!(true));
    assert_eq!(
        first.last().expect("final").data,
        second.last().expect("final").data
    );
}

#[tokio::test]
async fn the_same_request_id_with_a_different_body_is_a_conflict() {
    let body = sample_request();
    let _ = stream_to_end(&body).await;
    let mut changed = body.clone();
    changed["portfolio"]["equity"] = json!("5000000");
    let resp = post_stream(&changed).await;
    assert_eq!(resp.status(), 409);
    let err: Value = resp.json().await.expect("json error");
    assert_eq!(err["error"]["code"], "request_id_conflict");
    assert_eq!(err["error"]["field"], "request_id");
}

#[tokio::test]
async fn a_disconnected_client_resumes_with_last_event_id_and_misses_nothing() {
    let body = sample_request();
    let request_id = body["request_id"].as_str().expect("id").to_owned();
    let first = sse::read(post_stream(&body).await, Some(1), TIMEOUT)
        .await
        .expect("first event");
    assert_eq!(first.names(), vec!["decision.accepted"]);
    // Dropping the response disconnects; the run must go on regardless.

    let resumed = http()
        .get(stack().url(&format!(
            "/api/torghut/decision-engine/runs/decision-{request_id}/events"
        )))
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("resume");
    assert_eq!(resumed.status(), 200);
    let rest = sse::read(resumed, None, TIMEOUT)
        .await
        .expect("rest of stream");
    let ids: Vec<u64> = rest.events.iter().filter_map(|e| e.id).collect();
    let expected: Vec<u64> = (1..=ids.len() as u64).collect();
    assert_eq!(
        ids, expected,
        "exactly the missing events, in order, once each"
    );
    assert_eq!(
        rest.last().map(|e| e.event.as_str()),
        Some("decision.final")
    );

    let status: Value = http()
        .get(stack().url(&format!("/api/torghut/decision-engine/runs/{request_id}")))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "completed");
    assert_eq!(
        status["events"].as_array().map(Vec::len),
        Some(rest.events.len() + 1)
    );
    assert_eq!(status["final"], rest.last().expect("final").data["payload"]);
}

#[tokio::test]
async fn submit_then_poll_reaches_the_final() {
    let body = sample_request();
    let resp = http()
        .post(stack().url("/api/torghut/decision-engine/runs"))
        .json(&body)
        .send()
        .await
        .expect("submit");
    assert_eq!(resp.status(), 202);
    let accepted: Value = resp.json().await.expect("json");
    let status_url = accepted["status_url"]
        .as_str()
        .expect("status_url")
        .to_owned();
    let mut last = Value::Null;
    for _ in 0..120 {
        last = http()
            .get(stack().url(&status_url))
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("json");
        if last["finished"] == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last["finished"], json!(true), "{last}");
    assert!(last["final"]["intent"]["action"].is_string(), "{last}");
    let missing =
        http()
            .get(stack().url(
                "/api/torghut/decision-engine/runs/decision-00000000-0000-4000-8000-000000000000",
            ))
            .send()
            .await
            .expect("404");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_and_starts_nothing() {
    let with = |pointer: &str, v: Value| {
        let mut b = sample_request();
        *b.pointer_mut(pointer).expect("pointer") = v;
        b
    };
    let mut missing = sample_request();
    missing["trigger"]
        .as_object_mut()
        .expect("obj")
        .remove("event_ts");
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed JSON",
            b"{\"request_id\": \"x\",".to_vec(),
            400,
            "$",
        ),
        (
            "missing field",
            serde_json::to_vec(&missing).expect("ser"),
            422,
            "trigger.event_ts",
        ),
        (
            "negative money",
            serde_json::to_vec(&with("/portfolio/equity", json!("-5"))).expect("ser"),
            422,
            "portfolio.equity",
        ),
        (
            "unknown mode",
            serde_json::to_vec(&with("/execution_context/mode", json!("yolo"))).expect("ser"),
            422,
            "execution_context.mode",
        ),
        (
            "bad timestamp",
            serde_json::to_vec(&with("/trigger/event_ts", json!("08/10/2013 14:30"))).expect("ser"),
            422,
            "trigger.event_ts",
        ),
        ("body too large", vec![b' '; 300 * 1024], 413, "$"),
    ];
    for (name, body, status, field) in cases {
        let resp = http()
            .post(stack().url(STREAM))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("gateway");
        assert_eq!(resp.status().as_u16(), status, "{name}");
        let err: Value = resp.json().await.expect("json error body");
        assert_eq!(err["error"]["field"], json!(field), "{name}: {err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| m.len() > 10),
            "{name}: {err}"
        );
        if let Ok(v) = serde_json::from_slice::<Value>(&body)
            && let Some(id) = v["request_id"].as_str()
        {
            assert_eq!(executions(id).await, 0, "{name}: nothing started");
        }
    }
}

#[tokio::test]
async fn many_subscribers_share_one_watcher_per_run() {
    const SUBSCRIBERS: usize = 20;
    let body = sample_request();
    let request_id = body["request_id"].as_str().expect("id").to_owned();
    let logs = futures::future::join_all((0..SUBSCRIBERS).map(|_| stream_to_end(&body))).await;
    let finals: std::collections::HashSet<String> = logs
        .iter()
        .map(|l| l.last().expect("terminal").data["payload"].to_string())
        .collect();
    assert_eq!(finals.len(), 1, "every subscriber saw the same final");

    // Each long-poll of the event log is an Update in the run's history. One watcher needs a
    // handful; a poller per subscriber would need at least one each.
    let text = stack()
        .history_json(&format!("decision-{request_id}"))
        .await
        .expect("history")
        .to_ascii_lowercase();
    // No lower bound: on a loaded machine the run can finish before the watcher's first poll
    // reaches it, and the watcher then loads it from its result with no Update at all (seen on
    // CI-like load). The chaos tests stream runs that are still going.
    let polls = text.matches("update_accepted").count() + text.matches("updateaccepted").count();
    assert!(
        polls < SUBSCRIBERS,
        "{polls} polls for {SUBSCRIBERS} subscribers"
    );
}

#[tokio::test]
async fn concurrent_decisions_on_one_account_never_reserve_more_than_its_budget() {
    const DECISIONS: usize = 24;
    let account = format!("acct-{}", uuid::Uuid::new_v4());
    let budget = Decimal::from(2000);
    let bodies: Vec<Value> = (0..DECISIONS)
        .map(|_| {
            let mut b = sample_request();
            b["account_id"] = json!(account);
            b["portfolio"]["buying_power"] = json!("2000");
            b
        })
        .collect();
    let logs = futures::future::join_all(bodies.iter().map(stream_to_end)).await;
    let mut total = Decimal::ZERO;
    let mut buys = 0;
    for log in &logs {
        let intent = &log.last().expect("final").data["payload"]["intent"];
        let reserved: Decimal = intent["reserved_notional"]
            .as_str()
            .expect("reserved")
            .parse()
            .expect("decimal");
        if intent["action"] == "buy" {
            buys += 1;
            assert!(
                reserved > Decimal::ZERO,
                "a buy holds a reservation: {intent}"
            );
        }
        total += reserved;
    }
    assert!(total <= budget, "reserved {total} of a {budget} budget");
    assert!(
        (1..DECISIONS).contains(&buys),
        "the budget was shared, not multiplied: {buys} buys"
    );
    let client = stack().temporal().await.expect("temporal");
    let state: torghut_policy::ledger::LedgerState = client
        .get_workflow_handle::<torghut_workflows::ExposureLedger>(torghut_workflows::ids::ledger(
            &account,
        ))
        .query(
            torghut_workflows::ExposureLedger::snapshot,
            (),
            Default::default(),
        )
        .await
        .expect("ledger");
    let held = state.active_total(None);
    assert_eq!(held, total, "the ledger holds what the intents report");
}
