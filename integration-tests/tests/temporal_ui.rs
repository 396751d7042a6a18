//! An operator's view: headless Chromium opens the Temporal UI, finds a finished decision by its
//! `Symbol` search attribute, and sees the decision's action on the run's page.

use serde_json::Value;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use temporalio_client::{WorkflowCountOptions, WorkflowDescribeOptions};
use torghut_integration_tests::{Stack, sample_request, sse, stack_in};

static UI: OnceLock<Stack> = OnceLock::new();

/// Renders a page the way a browser does (scripts run, API calls answered) and returns its DOM.
fn render(url: &str) -> String {
    let profile = std::env::temp_dir().join(format!("torghut-chromium-{}", uuid::Uuid::new_v4()));
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("chromium is installed (scripts/install-deps.sh installs it)");
    let _ = std::fs::remove_dir_all(profile);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn an_operator_finds_a_decision_by_symbol_and_sees_its_action() {
    let stack = stack_in(&UI, &[]);
    let body = sample_request();
    let resp = reqwest::Client::new()
        .post(stack.url("/api/torghut/decision-engine/stream"))
        .json(&body)
        .send()
        .await
        .expect("gateway");
    let log = sse::read(resp, None, Duration::from_secs(90))
        .await
        .expect("stream");
    let last = log.last().expect("final");
    let intent: &Value = &last.data["payload"]["intent"];
    let action = intent["action"].as_str().expect("action").to_owned();
    let workflow_id = last.data["run_id"].as_str().expect("run id").to_owned();

    let client = stack.temporal().await.expect("temporal");
    let query = format!("Symbol = 'IBM' AND WorkflowId = '{workflow_id}'");
    for _ in 0..50 {
        if client
            .count_workflows(query.clone(), WorkflowCountOptions::default())
            .await
            .expect("count")
            .count()
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let list = render(&format!(
        "{}/namespaces/default/workflows?query=Symbol%3D%22IBM%22",
        stack.ui_url
    ));
    assert!(
        list.contains(&workflow_id),
        "the UI's Symbol filter lists the run ({} bytes of DOM)",
        list.len()
    );

    let run_id = client
        .get_workflow_handle::<temporalio_client::UntypedWorkflow>(workflow_id.clone())
        .describe(WorkflowDescribeOptions::default())
        .await
        .expect("describe")
        .run_id()
        .to_owned();
    let page = render(&format!(
        "{}/namespaces/default/workflows/{workflow_id}/{run_id}/history",
        stack.ui_url
    ));
    assert!(page.contains("decision-workflow"), "the run page rendered");
    assert!(
        page.contains(&format!("\"action\":\"{action}\"")),
        "the run page shows the action {action}"
    );
}
