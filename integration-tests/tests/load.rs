//! A load test through the gateway: 500 distinct decisions mixed with 60 duplicates and 60 bad
//! inputs, fired 32 at a time. Every valid request gets exactly one run and exactly one terminal
//! event; every bad one a 4xx and no run. (Figures of speed belong to benchmarks, not here: this
//! test asserts outcomes only.)

use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use torghut_integration_tests::{sample_request, stack};

const VALID: usize = 500;
const DUPLICATES: usize = 60;
const BAD: usize = 60;
const CONCURRENCY: usize = 32;
const RUNS: &str = "/api/torghut/decision-engine/runs";

enum Body {
    Json(Value),
    Raw(Vec<u8>),
}

fn valid(i: usize, strategy: &str, account: &str) -> Value {
    let mut b = sample_request();
    let symbols = ["IBM", "SPY", "BAC", "AIG"];
    b["symbol"] = json!(symbols[i % 4]);
    b["strategy_id"] = json!(strategy);
    b["account_id"] = json!(account);
    b["portfolio"]["position"]["symbol"] = json!(symbols[i % 4]);
    // Spread the as-of clock over the 2013-10-08 session.
    let minute = 30 + (i % 360);
    b["trigger"]["event_ts"] = json!(format!(
        "2013-10-08T{:02}:{:02}:00Z",
        13 + minute / 60,
        minute % 60
    ));
    b
}

fn bad(i: usize, strategy: &str) -> (Body, &'static str) {
    let mut b = sample_request();
    b["strategy_id"] = json!(strategy);
    match i % 6 {
        0 => (Body::Raw(b"{\"request_id\": ".to_vec()), "$"),
        1 => {
            b.as_object_mut().expect("obj").remove("symbol");
            (Body::Json(b), "symbol")
        }
        2 => {
            b["portfolio"]["equity"] = json!("-5");
            (Body::Json(b), "portfolio.equity")
        }
        3 => {
            b["execution_context"]["mode"] = json!("yolo");
            (Body::Json(b), "execution_context.mode")
        }
        4 => {
            b["trigger"]["event_ts"] = json!("yesterday");
            (Body::Json(b), "trigger.event_ts")
        }
        _ => {
            b["request_id"] = json!("not-a-uuid");
            (Body::Json(b), "request_id")
        }
    }
}

async fn post(client: &reqwest::Client, body: &Body) -> (u16, Value) {
    let req = client.post(stack().url(RUNS));
    let req = match body {
        Body::Json(v) => req.json(v),
        Body::Raw(b) => req
            .header("content-type", "application/json")
            .body(b.clone()),
    };
    let resp = req.send().await.expect("gateway");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_valid_request_gets_one_run_and_one_terminal_event_every_bad_one_a_4xx() {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (strategy, bad_strategy, account) = (
        format!("load-{id}"),
        format!("load-bad-{id}"),
        format!("acct-load-{id}"),
    );
    let valids: Vec<Value> = (0..VALID).map(|i| valid(i, &strategy, &account)).collect();
    let mut work: Vec<(Body, Option<&'static str>)> = Vec::new();
    for (i, v) in valids.iter().enumerate() {
        work.push((Body::Json(v.clone()), None));
        if i < DUPLICATES {
            work.push((Body::Json(v.clone()), None));
        }
        if i < BAD {
            let (b, field) = bad(i, &bad_strategy);
            work.push((b, Some(field)));
        }
    }
    let client = reqwest::Client::new();
    let answers: Vec<(u16, Value, Option<&str>)> = futures::stream::iter(work.iter())
        .map(|(body, field)| {
            let client = client.clone();
            async move {
                let (s, v) = post(&client, body).await;
                (s, v, *field)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut created: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad_seen = 0;
    for (status, body, field) in &answers {
        match field {
            Some(f) => {
                bad_seen += 1;
                assert!(
                    (400..500).contains(status),
                    "bad input {f}: {status} {body}"
                );
                assert_eq!(body["error"]["field"], json!(f), "{body}");
            }
            None => {
                assert_eq!(*status, 202, "{body}");
                let run = body["run_id"].as_str().expect("run_id").to_owned();
                let fresh = usize::from(body["idempotent"] == json!(false));
                *created.entry(run).or_default() += fresh;
            }
        }
    }
    assert_eq!(bad_seen, BAD);
    assert_eq!(created.len(), VALID, "one run per distinct request");
    assert!(
        created.values().all(|n| *n == 1),
        "exactly one submission created each run"
    );

    // Every run ends, with exactly one terminal event.
    let deadline = Instant::now() + Duration::from_secs(600);
    let finished: Vec<(String, Value)> = futures::stream::iter(created.keys().cloned())
        .map(|run| {
            let client = client.clone();
            async move {
                loop {
                    let v: Value = client
                        .get(stack().url(&format!("{RUNS}/{run}")))
                        .send()
                        .await
                        .expect("gateway")
                        .json()
                        .await
                        .expect("json");
                    if v["finished"] == json!(true) || Instant::now() > deadline {
                        return (run, v);
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (run, v) in &finished {
        assert_eq!(v["finished"], json!(true), "{run} never finished: {v}");
        let terminals = v["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| {
                matches!(
                    e["type"].as_str(),
                    Some("decision.final" | "decision.error")
                )
            })
            .count();
        assert_eq!(terminals, 1, "{run}: {v}");
    }

    // And Temporal agrees: one execution per valid request, none for the bad ones.
    let settled = stack()
        .settled_count(&format!("StrategyId = '{strategy}'"), VALID)
        .await
        .expect("count");
    assert_eq!(settled, VALID);
    let none = stack()
        .count_workflows(&format!("StrategyId = '{bad_strategy}'"))
        .await
        .expect("count");
    assert_eq!(none, 0);
}
