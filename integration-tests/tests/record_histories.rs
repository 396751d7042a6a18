//! Records the histories that `replay.rs` replays, into the folder of the current shape. Not part
//! of the suite (it rewrites files);
//! run it after a deliberate, versioned workflow change:
//!
//!     cargo build --workspace --bins
//!     cargo test -p torghut-integration-tests --test record_histories -- --ignored
//!
//! Each scenario asserts its outcome first, so a recorded file is the outcome its name says.

use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::Duration;
use torghut_integration_tests::histories::{CURRENT_SHAPE, SCENARIOS};
use torghut_integration_tests::sse;
use torghut_integration_tests::{Stack, sample_request, stack_in};

static RECORDER: OnceLock<Stack> = OnceLock::new();

fn recorder() -> &'static Stack {
    stack_in(
        &RECORDER,
        &[("TORGHUT_FAULTS", "risk-exposure-sizing@BAC=hang:120:always")],
    )
}

fn scenario(name: &str) -> (Value, &'static str) {
    let mut b = sample_request();
    match name {
        "buy" => (b, "buy"),
        "sell" => {
            b["trigger"]["event_ts"] = json!("2013-10-08T15:45:00Z");
            b["trigger"]["features"] = json!({});
            (b, "sell")
        }
        "hold-no-position-to-sell" => {
            b["trigger"]["event_ts"] = json!("2013-10-08T15:45:00Z");
            b["trigger"]["features"] = json!({});
            b["portfolio"]["position"] = Value::Null;
            (b, "hold")
        }
        "veto-kill-switch" => {
            b["risk_policy"]["kill_switch_enabled"] = json!(true);
            (b, "veto")
        }
        "veto-missing-technicals" => {
            b["symbol"] = json!("NVDA");
            b["portfolio"]["position"] = Value::Null;
            (b, "veto")
        }
        "deadline-error" => {
            b["symbol"] = json!("BAC");
            b["trigger"]["event_ts"] = json!("2013-10-09T17:30:00Z");
            b["trigger"]["features"] = json!({});
            b["portfolio"]["position"] = Value::Null;
            b["deadline_seconds"] = json!(10);
            (b, "error")
        }
        "llm-review" => (
            json!({
                "request_id": uuid::Uuid::new_v4().to_string(), "symbol": "LLM", "strategy_id": "torghut-llm-review",
                "trigger": {"type": "llm_review", "event_ts": "2026-11-22T15:00:00Z"},
                "portfolio": {"equity": "0", "buying_power": "0", "current_exposure": "0"},
                "risk_policy": {"max_notional_per_trade": null, "max_position_pct_equity": null},
                "llm_review": {"model": "fake-json", "messages": [{"role": "user", "content": "review"}]}
            }),
            "llm_review",
        ),
        other => panic!("unknown scenario {other}"),
    }
}

#[tokio::test]
#[ignore = "rewrites integration-tests/histories; run deliberately"]
async fn record_histories() {
    let stack = recorder();
    for name in SCENARIOS {
        let (body, outcome) = scenario(name);
        let resp = reqwest::Client::new()
            .post(stack.url("/api/torghut/decision-engine/stream"))
            .json(&body)
            .send()
            .await
            .expect("gateway");
        let log = sse::read(resp, None, Duration::from_secs(120))
            .await
            .expect("stream");
        let last = log.last().expect("terminal");
        let got = match last.event.as_str() {
            "decision.error" => "error".to_owned(),
            _ => {
                let intent = &last.data["payload"]["intent"];
                if intent.is_null() {
                    "llm_review".to_owned()
                } else if intent["vetoed"] == json!(true) {
                    "veto".to_owned()
                } else {
                    intent["action"].as_str().unwrap_or_default().to_owned()
                }
            }
        };
        assert_eq!(got, outcome, "{name}: {:?}", last.data);
        let id = last.data["run_id"].as_str().expect("run id").to_owned();
        let history = stack.history_json(&id).await.expect("history");
        let pretty: Value = serde_json::from_str(&history).expect("json");
        let path = format!(
            "{}/histories/{CURRENT_SHAPE}/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::write(&path, serde_json::to_vec_pretty(&pretty).expect("ser")).expect("write");
        println!("recorded {path}");
    }
}
