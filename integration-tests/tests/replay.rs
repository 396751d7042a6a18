//! Replays the recorded histories in `histories/<shape>/` against the current workflow code with the
//! SDK's `WorkflowReplayer`: a change that would make running decisions non-deterministic fails
//! here, before it ships. No server is needed.

use base64::Engine;
use serde_json::Value;
use std::path::PathBuf;
use temporalio_client::WorkflowHistory;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use temporalio_sdk::{WorkflowContext, WorkflowResult};
use torghut_integration_tests::histories::{SCENARIOS, SHAPES};
use torghut_workflows::activity_io::{RoutingCall, SizingCall, SkillCall};
use torghut_workflows::decision::{DecisionInput, DecisionOutcome};
use torghut_workflows::{DecisionWorkflow, ExposureLedger};

fn history_files(shape: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/histories")).join(shape);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| format!("{shape}/{}", s.to_string_lossy()))
                .unwrap_or_default();
            (name, std::fs::read(&p).expect("read history"))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn histories() -> Vec<(String, WorkflowHistory)> {
    SHAPES
        .iter()
        .flat_map(|shape| history_files(shape))
        .map(|(name, bytes)| {
            let history = WorkflowHistory::from_json(&bytes).expect("history JSON");
            (name, history)
        })
        .collect()
}

/// Each event's one attribute object, with its kind (`ActivityTaskScheduledEventAttributes`...).
fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let doc: Value = serde_json::from_slice(bytes).expect("history JSON");
    doc["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| {
            e["attributes"]
                .as_object()?
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.clone()))
        })
        .collect()
}

/// The JSON inputs of the activities a history scheduled, by activity type.
fn activity_inputs(bytes: &[u8]) -> Vec<(String, Value)> {
    events(bytes)
        .into_iter()
        .filter(|(kind, _)| kind == "ActivityTaskScheduledEventAttributes")
        .map(|(_, a)| {
            let name = a["activity_type"]["name"]
                .as_str()
                .expect("type")
                .to_owned();
            let data = a["input"]["payloads"][0]["data"]
                .as_str()
                .expect("payload data");
            let raw = base64::engine::general_purpose::STANDARD
                .decode(data)
                .expect("base64");
            (name, serde_json::from_slice(&raw).expect("JSON input"))
        })
        .collect()
}

/// Whether the run recorded patch `typed-activity-inputs` (a `core_patch` marker whose payload,
/// base64 JSON, names it).
fn has_patch_marker(bytes: &[u8]) -> bool {
    events(bytes).iter().any(|(kind, a)| {
        kind == "MarkerRecordedEventAttributes"
            && a["marker_name"] == "core_patch"
            && a["details"]["patch-data"]["payloads"][0]["data"]
                .as_str()
                .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
                .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
                .is_some_and(|p| p["id"] == torghut_workflows::activity_io::TYPED_ACTIVITY_INPUTS)
    })
}

#[tokio::test]
async fn every_recorded_history_replays_against_the_current_workflow() {
    let all = histories();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    for shape in SHAPES {
        for scenario in SCENARIOS {
            let expected = format!("{shape}/{scenario}");
            assert!(
                names.contains(&expected.as_str()),
                "missing recorded history {expected}: {names:?}"
            );
        }
    }
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<DecisionWorkflow>()
        .expect("register decision")
        .register_workflow::<ExposureLedger>()
        .expect("register ledger")
        .build();
    let replayer = WorkflowReplayer::new(options).expect("replayer");
    for (name, history) in all {
        if let Err(e) = replayer.replay_workflow(history).await {
            panic!("history {name} no longer replays (non-deterministic change?): {e}");
        }
    }
}

/// The two shapes really differ, and a worker of today takes either: every activity input a
/// recorded run scheduled decodes into today's input type and converts to its typed request (an
/// old run's input may still be queued when the new worker starts).
#[test]
fn old_and_new_activity_inputs_both_convert_to_the_typed_requests() {
    for shape in SHAPES {
        for (name, bytes) in history_files(shape) {
            let inputs = activity_inputs(&bytes);
            assert!(!inputs.is_empty(), "{name}: no activities");
            let decision = !name.ends_with("llm-review");
            if decision {
                assert_eq!(
                    has_patch_marker(&bytes),
                    shape == "v2-typed-inputs",
                    "{name}: the patch marker is what tells the shapes apart"
                );
            }
            for (activity, input) in inputs {
                let carries_request = input.get("request").is_some();
                match activity.as_str() {
                    "market-context" | "news-sentiment" | "fundamentals" | "technicals-regime" => {
                        assert_eq!(
                            carries_request,
                            shape == "v1-wire-inputs",
                            "{name} {activity}"
                        );
                        let call: SkillCall = serde_json::from_value(input).expect("skill input");
                        call.into_query().expect("converts");
                    }
                    "risk-exposure-sizing" => {
                        assert_eq!(
                            carries_request,
                            shape == "v1-wire-inputs",
                            "{name} {activity}"
                        );
                        let call: SizingCall = serde_json::from_value(input).expect("sizing input");
                        call.into_request().expect("converts");
                    }
                    "execution-routing" => {
                        assert_eq!(
                            carries_request,
                            shape == "v1-wire-inputs",
                            "{name} {activity}"
                        );
                        let call: RoutingCall =
                            serde_json::from_value(input).expect("routing input");
                        call.into_request().expect("converts");
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A stand-in for a careless edit of `decision-workflow`: it issues a timer before anything
/// else, where the recorded runs scheduled activities. The replayer must refuse it.
#[workflow]
pub struct ChangedDecisionWorkflow {
    _input: DecisionInput,
}

#[workflow_methods]
impl ChangedDecisionWorkflow {
    #[init]
    pub fn new(_ctx: &temporalio_sdk::WorkflowContextView, input: DecisionInput) -> Self {
        Self { _input: input }
    }

    #[run(name = "decision-workflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<DecisionOutcome> {
        ctx.timer(std::time::Duration::from_secs(1)).await;
        Ok(DecisionOutcome::default())
    }
}

#[tokio::test]
async fn a_non_deterministic_change_is_caught() {
    let (name, history) = histories()
        .into_iter()
        .find(|(n, _)| n == "v1-wire-inputs/buy")
        .expect("the buy history");
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<ChangedDecisionWorkflow>()
        .expect("register")
        .build();
    let replayer = WorkflowReplayer::new(options).expect("replayer");
    let result = replayer.replay_workflow(history).await;
    assert!(
        result.is_err(),
        "replaying {name} against changed code must fail"
    );
}
