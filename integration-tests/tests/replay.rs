//! Replays the recorded histories in `histories/` against the current workflow code with the
//! SDK's `WorkflowReplayer`: a change that would make running decisions non-deterministic fails
//! here, before it ships. No server is needed.

use std::path::PathBuf;
use temporalio_client::WorkflowHistory;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use temporalio_sdk::{WorkflowContext, WorkflowResult};
use torghut_workflows::decision::{DecisionInput, DecisionOutcome};
use torghut_workflows::{DecisionWorkflow, ExposureLedger};

fn histories() -> Vec<(String, WorkflowHistory)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/histories"));
    let mut out: Vec<(String, WorkflowHistory)> = std::fs::read_dir(&dir)
        .expect("histories dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read history");
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                name,
                WorkflowHistory::from_json(&bytes).expect("history JSON"),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn every_recorded_history_replays_against_the_current_workflow() {
    let all = histories();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "buy",
        "sell",
        "hold-no-position-to-sell",
        "veto-kill-switch",
        "veto-missing-technicals",
        "deadline-error",
        "llm-review",
    ] {
        assert!(
            names.contains(&expected),
            "missing recorded history {expected}: {names:?}"
        );
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
        .find(|(n, _)| n == "buy")
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
