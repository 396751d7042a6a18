//! Reads while no worker is up: a status read answers from Temporal within a bounded time and
//! says the run waits for a worker; a stream sends its headers, the events so far and
//! heartbeats. Then a worker comes back and the run finishes.
//!
//! The stack is this binary's own (its worker is stopped), and IBM's `technicals-regime` skill
//! takes 4 s, so the run is mid-flight when the worker goes.

use serde_json::Value;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use torghut_integration_tests::{Stack, Stop, sample_request, sse, stack_in};

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    stack_in(
        &STACK,
        &[("TORGHUT_FAULTS", "technicals-regime@IBM=hang:4:always")],
    )
}

const BASE: &str = "/api/torghut/decision-engine";
/// A read that takes longer than this is a hang, not a slow answer.
const BOUND: Duration = Duration::from_secs(20);

#[tokio::test]
async fn reads_answer_within_a_bounded_time_while_no_worker_is_up() {
    let stack = stack();
    let client = reqwest::Client::new();
    let body = sample_request();
    let id = body["request_id"].as_str().expect("id").to_owned();
    let resp = client
        .post(stack.url(&format!("{BASE}/stream")))
        .json(&body)
        .send()
        .await
        .expect("gateway");
    let log = sse::read(resp, Some(1), Duration::from_secs(60))
        .await
        .expect("accepted");
    assert_eq!(log.names(), ["decision.accepted"]);
    stack.stop("worker", Stop::Kill).expect("kill the worker");

    // The status answers each time within the bound, and soon says it waits for a worker.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status: Value = client
            .get(stack.url(&format!("{BASE}/runs/{id}")))
            .timeout(BOUND)
            .send()
            .await
            .expect("a status read answers while no worker is up")
            .json()
            .await
            .expect("json");
        assert_eq!(status["status"], "running", "{status}");
        if status["waiting_for_worker"] == true {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "never said it waits for a worker: {status}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(
        status["events"]
            .as_array()
            .is_some_and(|e| !e.is_empty() && e[0]["type"] == "decision.accepted"),
        "the events the gateway holds: {status}"
    );

    // Many streams at once: each gets its headers, the events so far and a heartbeat.
    let streams = (0..50).map(|_| {
        let url = stack.url(&format!("{BASE}/runs/{id}/events"));
        let client = client.clone();
        async move {
            let resp = tokio::time::timeout(BOUND, client.get(url).send())
                .await
                .expect("headers within the bound")
                .expect("gateway");
            assert_eq!(resp.status().as_u16(), 200);
            let mut body = resp.bytes_stream();
            let mut text = String::new();
            // Heartbeats every 5 s (the harness's setting): one within the bound.
            let until = tokio::time::Instant::now() + BOUND;
            while !(text.contains("decision.accepted") && text.contains(": heartbeat")) {
                match tokio::time::timeout_at(until, futures::StreamExt::next(&mut body)).await {
                    Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                    other => panic!("stream stalled: {other:?} after {text:?}"),
                }
            }
        }
    });
    futures::future::join_all(streams).await;

    // A worker comes back; the run ends and a fresh read shows it.
    stack.start_worker().expect("worker again");
    let resp = client
        .get(stack.url(&format!("{BASE}/runs/{id}/events")))
        .send()
        .await
        .expect("gateway");
    let log = sse::read(resp, None, Duration::from_secs(180))
        .await
        .expect("stream to the end");
    assert!(log.is_terminated(), "{:?}", log.names());
    let status: Value = client
        .get(stack.url(&format!("{BASE}/runs/{id}")))
        .timeout(BOUND)
        .send()
        .await
        .expect("gateway")
        .json()
        .await
        .expect("json");
    assert_eq!(status["waiting_for_worker"], false, "{status}");
    assert_eq!(status["finished"], true, "{status}");
}
