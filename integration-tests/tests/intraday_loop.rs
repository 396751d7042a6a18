//! The intraday loop and event triggers on the real stack: dedupe across both paths, a paused
//! schedule, the kill switch, and a replayed session's decisions report.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowQueryOptions,
    WorkflowStartOptions,
};
use torghut_activities::providers::files::bars::{FileBarProvider, embedded_dir};
use torghut_activities::providers::signals::{MacdCrossScanner, TriggerSource};
use torghut_integration_tests::{bin_dir, stack};
use torghut_workflows::IntradayLoop;
use torghut_workflows::intraday_loop::{LoopConfig, LoopInput, LoopSummary, ReplayClock};

const TRIGGERS: &str = "/api/torghut/decision-engine/triggers";

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn shared() -> Value {
    json!({
        "portfolio": {"equity": "100000", "buying_power": "250000", "current_exposure": "42000"},
        "risk_policy": {"max_notional_per_trade": "7000", "max_position_pct_equity": "0.08", "kill_switch_enabled": false},
        "execution_context": {"primary_adapter": "alpaca", "lean_enabled": true, "mode": "paper"},
    })
}

fn loop_config(strategy: &str, watchlist: &[&str], extra: Value) -> LoopConfig {
    let mut template = shared();
    template["request_id"] = json!("00000000-0000-0000-0000-000000000000");
    template["symbol"] = json!("IBM");
    template["strategy_id"] = json!(strategy);
    template["trigger"] = json!({"type": "template", "event_ts": "2013-10-08T14:30:00Z"});
    template["account_id"] = json!(unique("acct"));
    let mut cfg = json!({"strategy_id": strategy, "watchlist": watchlist, "template": template});
    if let (Some(c), Some(e)) = (cfg.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(cfg).expect("loop config")
}

async fn count(query: String) -> usize {
    stack().count_workflows(&query).await.expect("count")
}

async fn settled_count(query: String, expected: usize) -> usize {
    stack()
        .settled_count(&query, expected)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_hundred_duplicate_triggers_make_one_decision_per_distinct_key() {
    let strategy = unique("dedupe");
    // Four distinct signals, each spelled in a few equivalent ways.
    let distinct = [
        (
            "IBM",
            "macd_cross_up",
            [
                "2013-10-08T14:30:00Z",
                "2013-10-08T10:30:00-04:00",
                "2013-10-08T14:30:00.000Z",
            ],
        ),
        (
            "IBM",
            "macd_cross_down",
            [
                "2013-10-08T14:45:00Z",
                "2013-10-08T10:45:00-04:00",
                "2013-10-08T14:45:00.000Z",
            ],
        ),
        (
            "SPY",
            "macd_cross_up",
            [
                "2013-10-08T14:30:00Z",
                "2013-10-08T10:30:00-04:00",
                "2013-10-08T14:30:00.000Z",
            ],
        ),
        (
            "BAC",
            "macd_cross_up",
            [
                "2013-10-08T15:00:00Z",
                "2013-10-08T11:00:00-04:00",
                "2013-10-08T15:00:00.000Z",
            ],
        ),
    ];
    let all: Vec<Value> = (0..100)
        .map(|i| {
            let (symbol, kind, spellings) = distinct[i % 4];
            json!({"symbol": symbol, "type": kind, "event_ts": spellings[(i / 4) % 3], "source": "test",
                   "features": {"macd": "0.1", "macd_signal": "0.05"}})
        })
        .collect();
    // Five callers at once, twenty signals each: duplicates within and across calls.
    let calls = all.chunks(20).map(|chunk| {
        let mut body = shared();
        body["strategy_id"] = json!(strategy);
        body["triggers"] = json!(chunk);
        async move {
            let resp = reqwest::Client::new()
                .post(stack().url(TRIGGERS))
                .json(&body)
                .send()
                .await
                .expect("gateway");
            assert_eq!(resp.status().as_u16(), 202);
            resp.json::<Value>().await.expect("json")
        }
    });
    let answers = futures::future::join_all(calls).await;
    let mut run_by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut created = 0;
    for a in &answers {
        created += a["created"].as_u64().expect("created");
        for r in a["results"].as_array().expect("results") {
            run_by_key
                .entry(r["dedupe_key"].as_str().expect("key").to_owned())
                .or_default()
                .insert(r["run_id"].as_str().expect("run").to_owned());
        }
    }
    assert_eq!(run_by_key.len(), 4, "{run_by_key:?}");
    assert!(
        run_by_key.values().all(|runs| runs.len() == 1),
        "one run per key: {run_by_key:?}"
    );
    assert_eq!(created, 4, "exactly one call created each decision");
    for runs in run_by_key.values() {
        let id = runs.iter().next().expect("run");
        assert_eq!(count(format!("WorkflowId = '{id}'")).await, 1, "{id}");
    }
    assert_eq!(
        settled_count(format!("StrategyId = '{strategy}'"), 4).await,
        4
    );
}

#[tokio::test]
async fn a_bad_trigger_rejects_the_call_whole_and_names_it() {
    let strategy = unique("bad");
    let mut body = shared();
    body["strategy_id"] = json!(strategy);
    body["triggers"] = json!([
        {"symbol": "IBM", "type": "macd_cross_up", "event_ts": "2013-10-08T14:30:00Z"},
        {"symbol": "IBM", "type": "macd_cross_up", "event_ts": "yesterday"},
    ]);
    let resp = reqwest::Client::new()
        .post(stack().url(TRIGGERS))
        .json(&body)
        .send()
        .await
        .expect("gateway");
    assert_eq!(resp.status().as_u16(), 422);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["error"]["field"], "triggers[1].event_ts", "{err}");
    assert_eq!(
        count(format!("StrategyId = '{strategy}'")).await,
        0,
        "nothing started"
    );
}

fn decisionctl(args: &[&str]) -> Value {
    let out = Command::new(bin_dir().expect("bins").join("decisionctl"))
        .args(args)
        .env(
            "TEMPORAL_ADDRESS",
            format!("http://{}", stack().temporal_address),
        )
        .env("TORGHUT_GATEWAY_URL", &stack().gateway_url)
        .output()
        .expect("decisionctl runs");
    assert!(
        out.status.success(),
        "decisionctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_paused_schedule_starts_nothing_and_unpausing_starts_the_loop() {
    let id = unique("sched");
    let config = loop_config(
        &unique("paused"),
        &["IBM"],
        json!({"window": {"start": "00:00", "end": "23:59"}, "trading_days_only": false, "cadence_seconds": 1}),
    );
    let path = std::env::temp_dir().join(format!("{id}.json"));
    std::fs::write(&path, serde_json::to_vec(&config).expect("json")).expect("write");
    let path = path.to_string_lossy().into_owned();
    let first = decisionctl(&[
        "loop",
        "schedule",
        &path,
        "--id",
        &id,
        "--paused",
        "--every-seconds",
        "1",
    ]);
    assert_eq!(first["result"], "created");
    let again = decisionctl(&[
        "loop",
        "schedule",
        &path,
        "--id",
        &id,
        "--paused",
        "--every-seconds",
        "1",
    ]);
    assert_eq!(again["result"], "updated", "running it twice is idempotent");
    let started_by = format!("TemporalScheduledById = '{id}'");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        count(started_by.clone()).await,
        0,
        "paused: nothing started"
    );

    decisionctl(&[
        "loop",
        "schedule",
        &path,
        "--id",
        &id,
        "--every-seconds",
        "1",
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(started_by.clone()).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the unpaused schedule never started the loop"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Stop it: the kill switch ends the running loop; then the schedule goes.
    let client = stack().temporal().await.expect("temporal");
    // Pause first so no new session starts once this one ends.
    client
        .get_schedule_handle(id.clone())
        .pause(Some("test over"), Default::default())
        .await
        .expect("pause");
    let reached = decisionctl(&["loop", "kill-switch", &id, "on"]);
    let loop_id = reached["workflow_ids"][0]
        .as_str()
        .expect("a running loop")
        .to_owned();
    assert!(
        loop_id.starts_with(&format!("intraday-loop-{id}")),
        "{loop_id}"
    );
    let summary: LoopSummary = client
        .get_workflow_handle::<IntradayLoop>(loop_id.clone())
        .get_result(WorkflowGetResultOptions::default())
        .await
        .expect("loop result");
    assert_eq!(summary.stopped, "kill_switch");
    client
        .get_schedule_handle(id.clone())
        .delete(Default::default())
        .await
        .expect("delete schedule");
}

async fn start_replay(config: LoopConfig) -> String {
    let id = unique("intraday-loop-test");
    stack()
        .temporal()
        .await
        .expect("temporal")
        .start_workflow(
            IntradayLoop::run,
            LoopInput {
                config,
                carry: Default::default(),
            },
            WorkflowStartOptions::new(torghut_workflows::DEFAULT_TASK_QUEUE, id.clone()).build(),
        )
        .await
        .expect("start loop");
    id
}

#[tokio::test]
async fn the_kill_switch_stops_new_decisions_while_in_flight_ones_finish() {
    let strategy = unique("kill");
    let mut config = loop_config(&strategy, &["IBM", "SPY"], json!({"max_concurrent": 1}));
    config.replay = Some(ReplayClock {
        start: "2013-10-08T13:30:00Z".into(),
        end: "2013-10-08T20:00:00Z".into(),
    });
    let id = start_replay(config).await;
    let client = stack().temporal().await.expect("temporal");
    let handle = client.get_workflow_handle::<IntradayLoop>(id.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s: LoopSummary = handle
            .query(IntradayLoop::summary, (), WorkflowQueryOptions::default())
            .await
            .expect("query");
        if s.decisions_started >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no decisions: {s:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    handle
        .execute_update(
            IntradayLoop::set_kill_switch,
            true,
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .expect("kill switch");
    let summary: LoopSummary = handle
        .get_result(WorkflowGetResultOptions::default())
        .await
        .expect("result");
    assert_eq!(summary.stopped, "kill_switch");
    let day = MacdCrossScanner::new(std::sync::Arc::new(FileBarProvider::new(embedded_dir())))
        .signals(
            &["IBM".into(), "SPY".into()],
            None,
            chrono::DateTime::parse_from_rfc3339("2013-10-08T20:00:00Z")
                .expect("ts")
                .with_timezone(&chrono::Utc),
        )
        .expect("signals");
    assert!(
        (summary.decisions_started as usize) < day.len() / 2,
        "stopped early: {} of {} signals",
        summary.decisions_started,
        day.len()
    );
    // Every decision the loop started ran to its end; none was cut off, none started after.
    assert_eq!(
        count(format!("StrategyId = '{strategy}'")).await,
        summary.decisions_started as usize
    );
    assert_eq!(
        count(format!(
            "StrategyId = '{strategy}' AND ExecutionStatus = 'Completed'"
        ))
        .await,
        summary.decisions_started as usize
    );
}

#[tokio::test]
async fn a_replayed_session_writes_a_decisions_report_that_matches_temporal() {
    let strategy = unique("replay");
    let config = loop_config(
        &strategy,
        &["IBM", "SPY"],
        json!({"window": {"start": "10:00", "end": "11:00"}, "max_concurrent": 8}),
    );
    let dir = std::env::temp_dir().join(unique("replay-report"));
    std::fs::create_dir_all(&dir).expect("dir");
    let (cfg, md, js) = (
        dir.join("loop.json"),
        dir.join("report.md"),
        dir.join("summary.json"),
    );
    std::fs::write(&cfg, serde_json::to_vec(&config).expect("json")).expect("write");
    decisionctl(&[
        "loop",
        "replay-day",
        &cfg.to_string_lossy(),
        "--date",
        "2013-10-08",
        "-o",
        &md.to_string_lossy(),
        "--json",
        &js.to_string_lossy(),
    ]);
    let summary: LoopSummary =
        serde_json::from_slice(&std::fs::read(&js).expect("summary")).expect("summary json");
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("ts")
            .with_timezone(&chrono::Utc)
    };
    let scanner = MacdCrossScanner::new(std::sync::Arc::new(FileBarProvider::new(embedded_dir())));
    let expected = scanner
        .signals(
            &["IBM".into(), "SPY".into()],
            Some(at("2013-10-08T13:59:59Z")),
            // The window is [10:00, 11:00) New York: the 11:00 minute is not read.
            at("2013-10-08T14:59:00Z"),
        )
        .expect("signals");
    assert!(
        expected.len() >= 3,
        "the hour has signals: {}",
        expected.len()
    );
    assert_eq!(summary.stopped, "replay_complete");
    assert_eq!(summary.ticks, 60, "10:00 through 10:59, minute by minute");
    assert_eq!(summary.triggers as usize, expected.len(), "{summary:?}");
    assert_eq!(summary.decisions_started as usize, expected.len());
    assert_eq!(
        summary.by_outcome.values().sum::<u32>(),
        summary.decisions_started
    );
    assert_eq!(
        settled_count(format!("StrategyId = '{strategy}'"), expected.len()).await,
        expected.len(),
        "one decision per signal, as Temporal counts them"
    );
    let report = std::fs::read_to_string(&md).expect("report");
    assert!(
        report.contains("## Decisions by outcome") && report.contains("| trigger signals |"),
        "{report}"
    );
}
