//! Fault injection on the real stack: a worker told to fail or hang (TORGHUT_FAULTS), killed with
//! SIGKILL mid-step, and deadlines hit — the decision still ends, and the exposure ledger holds
//! exactly what it should.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;
use temporalio_client::WorkflowQueryOptions;
use torghut_integration_tests::sse::{self, SseLog};
use torghut_integration_tests::{Stack, sample_request, stack_in};
use torghut_policy::ledger::LedgerState;
use torghut_workflows::ExposureLedger;
use torghut_workflows::ids;

static FAULTY: OnceLock<Stack> = OnceLock::new();

/// Each scenario owns a symbol, so one worker can carry every fault at once.
const FAULTS: &str = "technicals-regime@AIG=fail:2;\
                      fundamentals@SPY=fail:always;\
                      risk-exposure-sizing@IBM=hang:8:1;\
                      risk-exposure-sizing@BAC=hang:120:always";

fn faulty() -> &'static Stack {
    stack_in(&FAULTY, &[("TORGHUT_FAULTS", FAULTS)])
}

/// The sample request for another symbol, with features left out (so the trigger cannot
/// disagree with the bars) and an account of its own. BAC is asked at 17:30, when its bars trend
/// up, so that its decision sizes a buy and reserves.
fn request_for(symbol: &str) -> Value {
    let mut body = sample_request();
    body["symbol"] = json!(symbol);
    if symbol == "BAC" {
        body["trigger"]["event_ts"] = json!("2013-10-09T17:30:00Z");
    }
    body["trigger"]["features"] = json!({});
    body["portfolio"]["position"] = Value::Null;
    body["account_id"] = json!(format!("acct-{}", uuid::Uuid::new_v4()));
    body
}

async fn run(body: &Value) -> SseLog {
    let resp = reqwest::Client::new()
        .post(faulty().url("/api/torghut/decision-engine/stream"))
        .json(body)
        .send()
        .await
        .expect("gateway");
    assert_eq!(resp.status(), 200);
    sse::read(resp, None, Duration::from_secs(180))
        .await
        .expect("stream")
}

fn domain<'a>(log: &'a SseLog, name: &str) -> &'a Value {
    log.events
        .iter()
        .find(|e| e.event == "decision.context_ready")
        .and_then(|e| e.data["payload"]["domains"].as_array())
        .and_then(|d| d.iter().find(|d| d["domain"] == name))
        .unwrap_or_else(|| panic!("no {name} in {:?}", log.names()))
}

async fn try_ledger(account: &str) -> Option<LedgerState> {
    let client = faulty().temporal().await.ok()?;
    client
        .get_workflow_handle::<ExposureLedger>(ids::ledger(account))
        .query(
            ExposureLedger::snapshot,
            (),
            WorkflowQueryOptions::default(),
        )
        .await
        .ok()
}

async fn ledger(account: &str) -> LedgerState {
    try_ledger(account)
        .await
        .expect("the account's ledger exists")
}

/// Waits until the account's ledger holds a reservation (the sizing step's first attempt ran).
async fn wait_for_reservation(account: &str) -> bool {
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if try_ledger(account)
            .await
            .is_some_and(|s| !s.reservations.is_empty())
        {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn a_skill_that_fails_twice_then_succeeds_gives_the_same_answer() {
    let log = run(&request_for("AIG")).await;
    assert_eq!(
        log.last().map(|e| e.event.as_str()),
        Some("decision.final"),
        "{:?}",
        log.names()
    );
    let tech = domain(&log, "technicals-regime");
    assert_eq!(tech["status"], "ok", "the third attempt succeeded: {tech}");
    assert!(
        tech["risk_flags"].as_array().is_some_and(Vec::is_empty),
        "{tech}"
    );
    let id = log.events[0].data["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    let history = faulty().history_json(&id).await.expect("history");
    assert!(
        history.contains("\"attempt\":3"),
        "the activity ran a third attempt"
    );
}

#[tokio::test]
async fn a_skill_that_always_fails_becomes_a_missing_domain_and_the_decision_completes() {
    let log = run(&request_for("SPY")).await;
    assert_eq!(
        log.last().map(|e| e.event.as_str()),
        Some("decision.final"),
        "{:?}",
        log.names()
    );
    let fundamentals = domain(&log, "fundamentals");
    assert_eq!(fundamentals["status"], "missing");
    assert_eq!(
        fundamentals["risk_flags"],
        json!(["fundamentals:missing:failed_after_retries"])
    );
    let intent = &log.last().expect("final").data["payload"]["intent"];
    assert!(
        intent["risk_flags"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("fundamentals:missing:failed_after_retries"))),
        "{intent}"
    );
}

#[tokio::test]
async fn a_worker_killed_mid_step_restarts_and_the_run_reserves_once() {
    let body = request_for("IBM");
    let account = body["account_id"].as_str().expect("account").to_owned();
    let stack = faulty();
    let stream = tokio::spawn({
        let body = body.clone();
        async move { run(&body).await }
    });
    // The first sizing attempt reserves, then hangs for 8 s: kill the worker inside that window.
    assert!(
        wait_for_reservation(&account).await,
        "the first attempt reserved"
    );
    stack.kill_worker().expect("SIGKILL the worker");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.start_worker().expect("restart the worker");

    let log = stream.await.expect("stream task");
    let last = log.last().expect("terminal");
    assert_eq!(last.event, "decision.final", "{:?}", log.names());
    let intent = &last.data["payload"]["intent"];
    let state = ledger(&account).await;
    let active: Vec<_> = state
        .reservations
        .values()
        .filter(|r| !r.released)
        .collect();
    assert_eq!(active.len(), 1, "exactly one reservation: {state:?}");
    assert_eq!(
        active[0].notional,
        Decimal::from_str(intent["reserved_notional"].as_str().expect("reserved"))
            .expect("decimal"),
        "the ledger holds what the intent reports"
    );
}

#[tokio::test]
async fn a_missed_deadline_ends_with_a_timeout_error_and_releases_the_reservation() {
    let mut body = request_for("BAC");
    body["deadline_seconds"] = json!(10);
    let account = body["account_id"].as_str().expect("account").to_owned();
    let log = run(&body).await;
    let last = log.last().expect("terminal");
    assert_eq!(last.event, "decision.error", "{:?}", log.names());
    assert_eq!(last.data["payload"]["code"], "timeout");
    let release = log
        .events
        .iter()
        .find(|e| e.data["payload"]["step"] == "release-exposure")
        .expect("the compensation ran");
    assert_eq!(release.data["payload"]["status"], "completed");
    let state = ledger(&account).await;
    assert!(
        state.reservations.values().all(|r| r.released),
        "nothing held after the deadline: {state:?}"
    );
}

#[tokio::test]
async fn a_cancelled_run_ends_with_cancelled_and_releases() {
    let body = request_for("BAC");
    let account = body["account_id"].as_str().expect("account").to_owned();
    let id = format!("decision-{}", body["request_id"].as_str().expect("id"));
    let stream = tokio::spawn({
        let body = body.clone();
        async move { run(&body).await }
    });
    assert!(
        wait_for_reservation(&account).await,
        "sizing reserved before the cancel"
    );
    let http = reqwest::Client::new();
    let resp = http
        .post(faulty().url(&format!("/api/torghut/decision-engine/runs/{id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(resp.status(), 202);
    let log = stream.await.expect("stream");
    let last = log.last().expect("terminal");
    assert_eq!(last.event, "decision.error");
    assert_eq!(last.data["payload"]["code"], "cancelled");
    assert!(
        ledger(&account)
            .await
            .reservations
            .values()
            .all(|r| r.released)
    );
    let again = http
        .post(faulty().url(&format!("/api/torghut/decision-engine/runs/{id}/cancel")))
        .send()
        .await
        .expect("cancel again");
    assert_eq!(again.status(), 409, "a finished run cannot be cancelled");
}
