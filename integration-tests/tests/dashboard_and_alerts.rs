//! The dashboard and the alerts query what the binaries export. Every PromQL expression of the
//! Grafana dashboard (panel targets and template variables) and of the PrometheusRule in
//! `deploy/kustomize/components/monitoring/` must name metrics that a scrape of the real
//! gateway's or worker's `/metrics` holds after real decisions, or series one of the rule file's
//! own recording rules defines. A renamed metric, a histogram queried without `_bucket`, or a
//! Temporal SDK metric under another name fails here, naming the panel or rule.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};
use torghut_integration_tests::promql::{exported_names, metric_names};
use torghut_integration_tests::sse;
use torghut_integration_tests::{sample_request, stack};

const MONITORING: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/kustomize/components/monitoring"
);
const STREAM: &str = "/api/torghut/decision-engine/stream";
const TIMEOUT: Duration = Duration::from_secs(90);

/// A PromQL expression and where it is, for the failure message.
struct Query {
    at: String,
    expr: String,
}

/// The dashboard's queries: each panel's targets (rows' nested panels too) and each query
/// variable.
fn dashboard_queries() -> Vec<Query> {
    let path = format!("{MONITORING}/grafana-dashboard.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let dashboard: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut queries = Vec::new();
    fn panels(list: &Value, queries: &mut Vec<Query>) {
        for panel in list.as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    queries.push(Query {
                        at: format!("panel {:?} target {}", panel["title"], target["refId"]),
                        expr: expr.to_owned(),
                    });
                }
            }
            panels(&panel["panels"], queries);
        }
    }
    panels(&dashboard["panels"], &mut queries);
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] != "query" {
            continue;
        }
        let query = &variable["query"];
        let expr = query.as_str().or_else(|| query["query"].as_str());
        queries.push(Query {
            at: format!("variable {:?}", variable["name"]),
            expr: expr
                .unwrap_or_else(|| panic!("variable {:?} has no query", variable["name"]))
                .to_owned(),
        });
    }
    queries
}

/// The PrometheusRule's expressions, and the series its recording rules define. YAML through
/// Python's PyYAML (openapi-spec-validator's dependency, installed by scripts/install-deps.sh):
/// the workspace has no YAML crate, and this is the only YAML a test reads.
fn rule_queries() -> (Vec<Query>, BTreeSet<String>) {
    let path = format!("{MONITORING}/prometheus-rule.yaml");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
            &path,
        ])
        .output()
        .unwrap_or_else(|e| panic!("python3 (to read {path}): {e}"));
    assert!(
        out.status.success(),
        "reading {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rule: Value = serde_json::from_slice(&out.stdout).expect("the rule as JSON");
    assert_eq!(rule["kind"], json!("PrometheusRule"), "{path}");
    let mut queries = Vec::new();
    let mut recorded = BTreeSet::new();
    for group in rule["spec"]["groups"].as_array().into_iter().flatten() {
        for r in group["rules"].as_array().into_iter().flatten() {
            let name = r["alert"].as_str().or_else(|| r["record"].as_str());
            let name = name.unwrap_or_else(|| panic!("a rule without alert or record: {r}"));
            if let Some(record) = r["record"].as_str() {
                recorded.insert(record.to_owned());
            }
            queries.push(Query {
                at: format!("rule {name:?}"),
                expr: r["expr"]
                    .as_str()
                    .unwrap_or_else(|| panic!("rule {name}: no expr"))
                    .to_owned(),
            });
        }
    }
    (queries, recorded)
}

/// `at: name` for each metric a query names that is neither exported nor recorded.
fn unknown(
    queries: &[Query],
    exported: &BTreeSet<String>,
    recorded: &BTreeSet<String>,
) -> Vec<String> {
    let mut missing = Vec::new();
    for q in queries {
        let names = metric_names(&q.expr);
        assert!(!names.is_empty(), "{}: names no metric: {}", q.at, q.expr);
        for name in names {
            if !exported.contains(&name) && !recorded.contains(&name) {
                missing.push(format!("{}: {name}", q.at));
            }
        }
    }
    missing
}

async fn scrape(base: &str) -> String {
    let resp = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap_or_else(|e| panic!("{base}/metrics: {e}"));
    assert_eq!(resp.status(), 200, "{base}/metrics");
    resp.text().await.expect("metrics text")
}

async fn decide(body: &Value) {
    let resp = reqwest::Client::new()
        .post(stack().url(STREAM))
        .json(body)
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(resp.status(), 200);
    let log = sse::read(resp, None, TIMEOUT)
        .await
        .expect("a complete stream");
    assert!(log.is_terminated(), "{:?}", log.names());
}

#[tokio::test]
async fn every_dashboard_and_alert_query_names_a_metric_the_binaries_export() {
    let stack = stack();
    let ready = format!("{}/readyz", stack.worker_metrics_url);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reqwest::get(&ready)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "worker never ready at {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Real decisions, so what is recorded only when it happens is there: a trade (sizing
    // reserves exposure), a veto, every skill, the SDK's task and poll latencies.
    let trade = sample_request();
    let mut vetoed = sample_request();
    vetoed["risk_policy"]["kill_switch_enabled"] = json!(true);
    tokio::join!(decide(&trade), decide(&vetoed));

    // The gateway counts a decision when its watcher sees the end, shortly after the stream's.
    let deadline = Instant::now() + Duration::from_secs(30);
    let gateway = loop {
        let text = scrape(&stack.gateway_url).await;
        let counted: f64 = text
            .lines()
            .filter(|l| l.starts_with("torghut_gateway_decisions_total{"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum();
        if counted >= 2.0 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "two decisions never counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let worker = scrape(&stack.worker_metrics_url).await;
    let exported: BTreeSet<String> = exported_names(&gateway)
        .into_iter()
        .chain(exported_names(&worker))
        .collect();
    // The worker's /metrics carries the Temporal SDK core's metrics after ours.
    assert!(
        exported.contains("temporal_worker_task_slots_available"),
        "no SDK metrics on the worker's /metrics:\n{worker}"
    );

    let (rules, recorded) = rule_queries();
    let dashboard = dashboard_queries();
    assert!(
        dashboard.len() >= 20 && rules.len() >= 10,
        "too few queries read"
    );

    // The check can fail: a made-up name is reported, where it is.
    let made_up = [Query {
        at: "a made-up panel".into(),
        expr: "sum(rate(torghut_gateway_made_up_total[5m])) / sum(rate(torghut_gateway_decision_latency_seconds[5m]))".into(),
    }];
    assert_eq!(
        unknown(&made_up, &exported, &recorded),
        [
            "a made-up panel: torghut_gateway_decision_latency_seconds",
            "a made-up panel: torghut_gateway_made_up_total"
        ],
        "a histogram's bare name and an unknown name must both be reported"
    );

    let missing: Vec<String> = unknown(&dashboard, &exported, &recorded)
        .into_iter()
        .chain(unknown(&rules, &exported, &recorded))
        .collect();
    assert!(
        missing.is_empty(),
        "queries naming metrics no binary exports:\n  {}\n\nexported: {exported:#?}",
        missing.join("\n  ")
    );
}
