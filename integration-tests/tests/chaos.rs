//! Chaos on the real stack: the gateway, the worker and the Temporal dev server are stopped and
//! started again while decisions run and clients stream. Every submitted decision still ends
//! with exactly one terminal event, and a client that resumes with `Last-Event-ID` sees every
//! event exactly once, in order.
//!
//! The stack is this binary's own, and its `technicals-regime` skill answers IBM only after 4 s,
//! so each run is mid-flight for long enough to break something under it.

use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;
use torghut_integration_tests::sse::{self, ConnectionEnd, Followed};
use torghut_integration_tests::{Stack, Stop, sample_request, stack_in};

static CHAOS: OnceLock<Stack> = OnceLock::new();

const CLIENTS: usize = 8;
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

fn chaos() -> &'static Stack {
    stack_in(
        &CHAOS,
        &[("TORGHUT_FAULTS", "technicals-regime@IBM=hang:4:always")],
    )
}

/// Several tests restart processes of the one stack: they take turns.
async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// Starts `CLIENTS` decisions and reads each stream up to `decision.accepted`; returns the
/// request ids.
async fn start_decisions(stack: &Stack) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for _ in 0..CLIENTS {
        let body = sample_request();
        let resp = client
            .post(stack.url("/api/torghut/decision-engine/stream"))
            .json(&body)
            .send()
            .await
            .expect("gateway");
        assert_eq!(resp.status(), 200);
        let log = sse::read(resp, Some(1), Duration::from_secs(60))
            .await
            .expect("accepted");
        assert_eq!(log.names(), ["decision.accepted"]);
        ids.push(body["request_id"].as_str().expect("id").to_owned());
    }
    ids
}

/// Resumes every run after its `decision.accepted` (id 0) on a connection of its own, and
/// returns once all of them are connected, with the tasks that follow them to the end.
async fn follow_all(
    stack: &'static Stack,
    ids: &[String],
) -> Vec<tokio::task::JoinHandle<anyhow::Result<Followed>>> {
    let mut tasks = Vec::new();
    for id in ids {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            sse::follow(&stack.gateway_url, &id, Some(0), Some(tx), RUN_TIMEOUT).await
        }));
        rx.await.expect("the client connected");
    }
    tasks
}

/// The chaos must strike mid-run: every run is still running when it does.
async fn assert_all_running(stack: &Stack, ids: &[String]) {
    let temporal = stack.temporal().await.expect("temporal client");
    for id in ids {
        let status = temporal
            .get_workflow_handle::<temporalio_client::UntypedWorkflow>(format!("decision-{id}"))
            .describe(temporalio_client::WorkflowDescribeOptions::default())
            .await
            .expect("describe")
            .status();
        assert_eq!(
            status,
            temporalio_client::WorkflowExecutionStatus::Running,
            "{id} finished before the chaos: the fault plan no longer slows it down"
        );
    }
}

/// What every scenario starts from: `CLIENTS` runs still running, each followed by a client on
/// an open stream; returns their request ids and the clients' tasks.
async fn runs_in_flight(
    stack: &'static Stack,
) -> (
    Vec<String>,
    Vec<tokio::task::JoinHandle<anyhow::Result<Followed>>>,
) {
    let ids = start_decisions(stack).await;
    let tasks = follow_all(stack, &ids).await;
    assert_all_running(stack, &ids).await;
    (ids, tasks)
}

/// The whole log of a run as a fresh client sees it after the fact.
async fn replayed(stack: &Stack, id: &str) -> Vec<(String, Option<u64>, Value)> {
    let followed = sse::follow(&stack.gateway_url, id, None, None, RUN_TIMEOUT)
        .await
        .expect("replay");
    followed
        .log
        .events
        .into_iter()
        .map(|e| (e.event, e.id, e.data))
        .collect()
}

/// Every run ended with one terminal event; the resumed client saw ids 1.. with no gap and no
/// repeat, exactly what a fresh replay of the run shows; and one Temporal run per request.
async fn assert_exactly_once(stack: &Stack, ids: &[String], followed: Vec<Followed>) {
    for (id, f) in ids.iter().zip(followed) {
        let got: Vec<u64> = f.log.events.iter().filter_map(|e| e.id).collect();
        let expected: Vec<u64> = (1..=got.len() as u64).collect();
        assert_eq!(
            got, expected,
            "{id}: ids in order, once each ({:?})",
            f.ends
        );
        assert_eq!(
            f.log
                .events
                .iter()
                .filter(|e| e.event == "decision.final" || e.event == "decision.error")
                .count(),
            1,
            "{id}: one terminal event: {:?}",
            f.log.names()
        );
        assert_eq!(
            f.log.last().map(|e| e.event.as_str()),
            Some("decision.final"),
            "{id}: {:?}",
            f.log.names()
        );
        let full = replayed(stack, id).await;
        let seen: Vec<(String, Option<u64>, Value)> = f
            .log
            .events
            .iter()
            .map(|e| (e.event.clone(), e.id, e.data.clone()))
            .collect();
        assert_eq!(
            seen.as_slice(),
            &full[1..],
            "{id}: the same events a replay shows"
        );
        let runs = stack
            .settled_count(&format!("WorkflowId = 'decision-{id}'"), 1)
            .await
            .expect("count");
        assert_eq!(runs, 1, "{id}: one run");
    }
}

async fn join_all(tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Followed>>>) -> Vec<Followed> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(
            t.await
                .expect("client task")
                .expect("client followed its run"),
        );
    }
    out
}

#[tokio::test]
async fn a_drained_gateway_ends_streams_with_a_hint_and_clients_resume_exactly_once() {
    let _turn = exclusive().await;
    let stack = chaos();
    let (ids, tasks) = runs_in_flight(stack).await;

    stack
        .stop("gateway", Stop::Graceful)
        .expect("SIGTERM the gateway");
    stack.start_gateway().expect("start the gateway again");

    let followed = join_all(tasks).await;
    for (id, f) in ids.iter().zip(&followed) {
        assert_eq!(
            f.ends.first(),
            Some(&ConnectionEnd::Closed),
            "{id}: the draining gateway closed the stream: {:?}",
            f.ends
        );
        assert!(
            f.log.comments.iter().any(|c| c.contains("reconnect")),
            "{id}: with a reconnect hint: {:?}",
            f.log.comments
        );
    }
    assert_exactly_once(stack, &ids, followed).await;
}

#[tokio::test]
async fn a_killed_gateway_breaks_streams_and_clients_resume_exactly_once() {
    let _turn = exclusive().await;
    let stack = chaos();
    let (ids, tasks) = runs_in_flight(stack).await;

    stack
        .stop("gateway", Stop::Kill)
        .expect("SIGKILL the gateway");
    tokio::time::sleep(Duration::from_secs(1)).await;
    stack.start_gateway().expect("start the gateway again");

    let followed = join_all(tasks).await;
    for (id, f) in ids.iter().zip(&followed) {
        assert_eq!(
            f.ends.first(),
            Some(&ConnectionEnd::Broken),
            "{id}: the first connection broke: {:?}",
            f.ends
        );
    }
    assert_exactly_once(stack, &ids, followed).await;
}

#[tokio::test]
async fn a_killed_worker_is_replaced_and_every_run_still_ends() {
    let _turn = exclusive().await;
    let stack = chaos();
    let (ids, tasks) = runs_in_flight(stack).await;

    // Mid-run: the technicals skill of every run is inside its 4 s hang.
    stack
        .stop("worker", Stop::Kill)
        .expect("SIGKILL the worker");
    tokio::time::sleep(Duration::from_secs(1)).await;
    stack.start_worker().expect("start a worker again");

    let followed = join_all(tasks).await;
    assert_exactly_once(stack, &ids, followed).await;
}

#[tokio::test]
async fn a_restarted_temporal_server_resumes_runs_from_its_database() {
    let _turn = exclusive().await;
    let stack = chaos();
    let (ids, tasks) = runs_in_flight(stack).await;

    stack
        .stop("temporal", Stop::Kill)
        .expect("SIGKILL the Temporal server");
    // While Temporal is down, a new decision is refused with a retryable 503, not lost silently.
    let late = sample_request();
    let refused = reqwest::Client::new()
        .post(stack.url("/api/torghut/decision-engine/runs"))
        .json(&late)
        .send()
        .await
        .expect("gateway");
    assert_eq!(refused.status(), 503, "{:?}", refused.text().await);
    stack
        .start_temporal()
        .expect("start the Temporal server on the same database");

    let followed = join_all(tasks).await;
    assert_exactly_once(stack, &ids, followed).await;

    // The refused client retries and gets its decision.
    let late_id = late["request_id"].as_str().expect("id").to_owned();
    let accepted = reqwest::Client::new()
        .post(stack.url("/api/torghut/decision-engine/runs"))
        .json(&late)
        .send()
        .await
        .expect("gateway");
    assert!(
        accepted.status().is_success(),
        "{:?}",
        accepted.text().await
    );
    let replay = replayed(stack, &late_id).await;
    assert_eq!(
        replay.last().map(|e| e.0.as_str()),
        Some("decision.final"),
        "{replay:?}"
    );
}
