//! Prometheus metrics on the real stack: decisions through the gateway move the gateway's and
//! the worker's counters by exactly their number, and the open-streams gauge follows the
//! streams, a client that walks away included.

use futures::StreamExt;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use torghut_integration_tests::sse::{self, SseLog};
use torghut_integration_tests::{sample_request, stack};
use torghut_policy::skills::{CONTEXT_SKILLS, DECISION_SKILLS};

const STREAM: &str = "/api/torghut/decision-engine/stream";
const TIMEOUT: Duration = Duration::from_secs(90);
fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// One scrape: every sample line (`name{labels} value`) by its series.
#[derive(Debug, Clone, Default)]
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            let value = value
                .parse()
                .unwrap_or_else(|e| panic!("{line:?}: value: {e}"));
            samples.insert(series.to_owned(), value);
        }
        Self(samples)
    }

    /// One series, 0 when it has not been observed yet.
    fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    /// All series of metric `name`, summed.
    fn sum(&self, name: &str) -> f64 {
        self.0
            .iter()
            .filter(|(s, _)| *s == name || s.starts_with(&format!("{name}{{")))
            .map(|(_, v)| v)
            .sum()
    }
}

async fn scrape(base: &str) -> Scrape {
    let resp = http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{base}/metrics: {e}"));
    assert_eq!(resp.status(), 200, "{base}/metrics");
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        ctype.starts_with("text/plain; version=0.0.4"),
        "{base}/metrics: {ctype}"
    );
    Scrape::parse(&resp.text().await.expect("metrics text"))
}

async fn gateway() -> Scrape {
    scrape(&stack().gateway_url).await
}

async fn worker() -> Scrape {
    scrape(&stack().worker_metrics_url).await
}

/// Polls `check` on fresh gateway scrapes until it holds or 30 s pass; the last scrape.
async fn gateway_until(what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = gateway().await;
        if check(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: never held; last {s:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn worker_ready() {
    let url = format!("{}/readyz", stack().worker_metrics_url);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http().get(&url).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "worker never ready at {url}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn post_stream(body: &Value) -> reqwest::Response {
    let resp = http()
        .post(stack().url(STREAM))
        .json(body)
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(resp.status(), 200);
    resp
}

async fn stream_to_end(body: &Value) -> SseLog {
    let log = sse::read(post_stream(body).await, None, TIMEOUT)
        .await
        .expect("a complete stream");
    assert!(log.is_terminated(), "{:?}", log.names());
    log
}

/// The intent of a stream that ended in `decision.final`.
fn intent(log: &SseLog) -> Value {
    let last = log.last().expect("events");
    assert_eq!(last.event, "decision.final", "{:?}", last.data);
    last.data["payload"]["intent"].clone()
}

#[tokio::test]
async fn decisions_move_the_gateway_and_worker_counters_by_exactly_their_number() {
    worker_ready().await;
    let (g0, w0) = (gateway().await, worker().await);

    // A: the client reads `decision.accepted` and walks away; the run goes on, and its watcher
    // still sees it end.
    let a = sample_request();
    let a_id = format!("decision-{}", a["request_id"].as_str().expect("id"));
    let mut a_body = post_stream(&a).await.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("event: decision.accepted") {
        let chunk = tokio::time::timeout(TIMEOUT, a_body.next())
            .await
            .expect("accepted in time")
            .expect("stream open")
            .expect("bytes");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(
        gateway().await.get("torghut_gateway_sse_streams_open"),
        1.0,
        "A's stream is open"
    );
    drop(a_body);

    // B runs to its end; C is vetoed by its kill switch; then a duplicate of B joins B's
    // closed run and replays it.
    let b = sample_request();
    let mut c = sample_request();
    c["risk_policy"]["kill_switch_enabled"] = json!(true);
    let (b_log, c_log) = tokio::join!(stream_to_end(&b), stream_to_end(&c));
    let dup_log = stream_to_end(&b).await;
    assert_eq!(dup_log.events[0].data["payload"]["idempotent"], json!(true));

    let mut run_polls = 0.0;
    let a_final = loop {
        let run: Value = http()
            .get(stack().url(&format!("/api/torghut/decision-engine/runs/{a_id}")))
            .send()
            .await
            .expect("gateway")
            .json()
            .await
            .expect("run json");
        run_polls += 1.0;
        if run["finished"] == json!(true) {
            break run["final"].clone();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let intents = [a_final["intent"].clone(), intent(&b_log), intent(&c_log)];
    assert_eq!(intents[2]["vetoed"], json!(true), "{}", intents[2]);
    let n = intents.len() as f64;

    // Streams ended (A's by the disconnect) and watchers gone: every decision counted.
    let g1 = gateway_until(
        "streams closed, watchers gone, three decisions counted",
        |s| {
            s.get("torghut_gateway_sse_streams_open") == 0.0
                && s.get("torghut_gateway_runs_watched") == 0.0
                && s.sum("torghut_gateway_decisions_total")
                    - g0.sum("torghut_gateway_decisions_total")
                    >= n
        },
    )
    .await;
    let gd = |series: &str| g1.get(series) - g0.get(series);
    let gsum = |name: &str| g1.sum(name) - g0.sum(name);

    assert_eq!(
        gd(r#"torghut_gateway_decision_starts_total{result="started"}"#),
        n
    );
    assert_eq!(
        gd(r#"torghut_gateway_decision_starts_total{result="joined"}"#),
        1.0
    );
    assert_eq!(
        gd(r#"torghut_gateway_decision_starts_total{result="conflict"}"#),
        0.0
    );
    assert_eq!(
        gsum("torghut_gateway_decisions_total"),
        n,
        "each run once, the replayed duplicate not again"
    );
    for action in ["buy", "sell", "hold"] {
        let want = intents.iter().filter(|i| i["action"] == action).count() as f64;
        assert_eq!(
            gd(&format!(
                r#"torghut_gateway_decisions_total{{action="{action}",outcome="final"}}"#
            )),
            want,
            "{action}"
        );
    }
    let vetoed = intents
        .iter()
        .filter(|i| i["vetoed"] == json!(true))
        .count() as f64;
    assert_eq!(gd("torghut_gateway_decisions_vetoed_total"), vetoed);
    assert_eq!(
        gd(r#"torghut_gateway_decision_veto_reasons_total{reason="kill_switch"}"#),
        1.0
    );
    assert_eq!(gsum("torghut_gateway_decision_errors_total"), 0.0);
    assert_eq!(
        gd(r#"torghut_gateway_decision_latency_seconds_count{outcome="final"}"#),
        n
    );
    let latency = gd(r#"torghut_gateway_decision_latency_seconds_sum{outcome="final"}"#);
    assert!(
        latency > 0.0 && latency < n * TIMEOUT.as_secs_f64(),
        "{latency}"
    );
    assert_eq!(
        gd(
            r#"torghut_gateway_http_requests_total{route="/api/torghut/decision-engine/stream",status_class="2xx"}"#
        ),
        n + 1.0,
        "A, B, C and the duplicate"
    );
    assert_eq!(
        gd(
            r#"torghut_gateway_http_requests_total{route="/api/torghut/decision-engine/runs/{id}",status_class="2xx"}"#
        ),
        run_polls
    );

    let w1 = worker().await;
    let wd = |series: &str| w1.get(series) - w0.get(series);
    for skill in DECISION_SKILLS {
        assert_eq!(
            wd(&format!(
                r#"torghut_worker_skill_duration_seconds_count{{skill="{skill}"}}"#
            )),
            n,
            "{skill}: one attempt per decision"
        );
        let outcomes: f64 = ["ok", "missing", "failed"]
            .iter()
            .map(|o| {
                wd(&format!(
                    r#"torghut_worker_skill_outcomes_total{{outcome="{o}",skill="{skill}"}}"#
                ))
            })
            .sum();
        assert_eq!(outcomes, n, "{skill}");
        assert_eq!(
            wd(&format!(
                r#"torghut_worker_skill_outcomes_total{{outcome="failed",skill="{skill}"}}"#
            )),
            0.0,
            "{skill}"
        );
    }
    for domain in CONTEXT_SKILLS {
        let with_data = wd(&format!(
            r#"torghut_worker_skill_outcomes_total{{outcome="ok",skill="{domain}"}}"#
        ));
        for metric in [
            "torghut_worker_context_freshness_seconds",
            "torghut_worker_context_quality",
        ] {
            assert_eq!(
                wd(&format!(r#"{metric}_count{{domain="{domain}"}}"#)),
                with_data,
                "{metric} {domain}: one per output with data"
            );
        }
    }
    assert!(
        wd(r#"torghut_worker_skill_outcomes_total{outcome="ok",skill="technicals-regime"}"#) == n,
        "the embedded bars cover the sample: technicals always has data"
    );
    let reserved = intents
        .iter()
        .filter(|i| {
            i["reserved_notional"]
                .as_str()
                .and_then(|r| r.parse::<f64>().ok())
                .is_some_and(|r| r > 0.0)
        })
        .count() as f64;
    assert!(
        reserved >= 1.0,
        "the sample buys, so there is a grant to count: {intents:?}"
    );
    assert_eq!(
        wd("torghut_worker_exposure_reservations_granted_total"),
        reserved
    );
    assert_eq!(
        wd("torghut_worker_exposure_reservations_released_total"),
        0.0,
        "no decision failed, so nothing was compensated"
    );

    // What the ledgers hold now: only this test reserves on this stack, and nothing lapses
    // within the TTL. The gateway asks the ledgers at scrape time and keeps the answer for a few
    // seconds, so poll.
    let notional: Decimal = intents
        .iter()
        .filter_map(|i| i["reserved_notional"].as_str())
        .map(|r| r.parse::<Decimal>().expect("decimal"))
        .sum();
    let held = gateway_until("the exposure gauges show the reservations", |s| {
        s.get("torghut_exposure_reservations_active") == reserved
    })
    .await;
    let gauge = held.get("torghut_exposure_reserved_notional");
    assert!(
        (gauge - notional.to_f64().expect("f64")).abs() < 1e-6,
        "the ledgers hold {gauge}, the intents reserved {notional}"
    );
}

#[tokio::test]
async fn the_worker_answers_liveness_readiness_and_metrics_on_its_own_port() {
    let base = &stack().worker_metrics_url;
    let health = http()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("worker /healthz");
    assert_eq!(health.status(), 200);
    worker_ready().await;
    let ready: Value = http()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("worker /readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");
    // Every metric is described even before it has a sample.
    let text = http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("worker /metrics")
        .text()
        .await
        .expect("text");
    for name in [
        "torghut_worker_exposure_reservations_granted_total",
        "torghut_worker_exposure_reservations_released_total",
    ] {
        assert!(text.contains(&format!("# TYPE {name} counter")), "{text}");
    }
}
