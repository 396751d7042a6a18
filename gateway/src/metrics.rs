//! The gateway's Prometheus metrics: the HTTP traffic it serves, the SSE streams it holds, the
//! runs it starts and watches, and what those runs decided.
//!
//! One registry per process, owned by [`crate::AppState`] and rendered by `GET /metrics`. Label
//! values come from closed sets (route templates, status classes, the intent's actions, veto
//! kinds) or are checked to look like a code, so no client input can grow the series count.
//! Decisions are counted by each run's watcher (see `hub.rs`), once per watcher and only for
//! terminal events it saw live; a run replayed from its result is not counted again. With
//! several gateways each counts the runs it watched: sum them only for runs no two gateways watch.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::DateTime;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use rust_decimal::prelude::ToPrimitive;
use std::sync::Arc;
use torghut_policy::analysis::VetoKind;
use torghut_proto::event::Ending;
use torghut_proto::v1::{DecisionEvent, decision_event::Payload};

/// End-to-end decision latency buckets, seconds: on local data a decision takes a fraction of a
/// second, with HTTP providers seconds; its deadline is 10..=900 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];

pub struct GatewayMetrics {
    registry: Registry,
    sse_streams_open: IntGauge,
    runs_watched: IntGauge,
    decision_starts: IntCounterVec,
    http_requests: IntCounterVec,
    decisions: IntCounterVec,
    decisions_vetoed: IntCounter,
    veto_reasons: IntCounterVec,
    decision_errors: IntCounterVec,
    decision_latency: HistogramVec,
    reservations_active: IntGauge,
    reserved_notional: Gauge,
    exposure_sample_failures: IntCounter,
}

/// How a start request ended in Temporal: it created the run, joined one with the same
/// `request_id` and body, or hit one with a different body (409).
#[derive(Debug, Clone, Copy)]
pub enum StartResult {
    Started,
    Joined,
    Conflict,
}

impl StartResult {
    fn as_str(self) -> &'static str {
        match self {
            StartResult::Started => "started",
            StartResult::Joined => "joined",
            StartResult::Conflict => "conflict",
        }
    }
}

fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> Result<M, prometheus::Error> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// A label value that came from a run (an error code, an action): kept when it looks like one,
/// `other` when not, so a misbehaving run cannot mint series.
fn code_label(raw: &str) -> &str {
    let looks_like_a_code = !raw.is_empty()
        && raw.len() <= 40
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if looks_like_a_code { raw } else { "other" }
}

impl GatewayMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let r = Registry::new();
        Ok(Self {
            sse_streams_open: register(
                &r,
                IntGauge::new(
                    "torghut_gateway_sse_streams_open",
                    "SSE streams open now (decision streams and resumed event streams)",
                )?,
            )?,
            reservations_active: register(
                &r,
                IntGauge::new(
                    "torghut_exposure_reservations_active",
                    "Exposure reservations held now, over all accounts (from the ledgers at scrape time; the same on every gateway: take max, not sum)",
                )?,
            )?,
            reserved_notional: register(
                &r,
                Gauge::new(
                    "torghut_exposure_reserved_notional",
                    "Notional those reservations hold, in the accounts' currency",
                )?,
            )?,
            exposure_sample_failures: register(
                &r,
                IntCounter::new(
                    "torghut_exposure_sample_failures_total",
                    "Scrapes at which the ledgers could not be asked in time (the exposure gauges kept their previous values)",
                )?,
            )?,
            runs_watched: register(
                &r,
                IntGauge::new(
                    "torghut_gateway_runs_watched",
                    "Runs with a watcher polling their event log",
                )?,
            )?,
            decision_starts: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "torghut_gateway_decision_starts_total",
                        "Start requests by result: started a run, joined an existing one (duplicate request_id), or conflict (409)",
                    ),
                    &["result"],
                )?,
            )?,
            http_requests: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "torghut_gateway_http_requests_total",
                        "HTTP requests by route template and status class",
                    ),
                    &["route", "status_class"],
                )?,
            )?,
            decisions: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "torghut_gateway_decisions_total",
                        "Decisions whose terminal event a watcher saw live, by action (buy, sell, hold, llm_review; none for an error) and outcome (final, error)",
                    ),
                    &["action", "outcome"],
                )?,
            )?,
            decisions_vetoed: register(
                &r,
                IntCounter::new(
                    "torghut_gateway_decisions_vetoed_total",
                    "Decisions whose intent is a hold forced by a veto",
                )?,
            )?,
            veto_reasons: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "torghut_gateway_decision_veto_reasons_total",
                        "Veto reasons of vetoed decisions (one decision can have several)",
                    ),
                    &["reason"],
                )?,
            )?,
            decision_errors: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "torghut_gateway_decision_errors_total",
                        "Decisions that ended with decision.error, by its code",
                    ),
                    &["code"],
                )?,
            )?,
            decision_latency: register(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "torghut_gateway_decision_latency_seconds",
                        "From the run's decision.accepted to its terminal event, by the workflow's timestamps",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                    &["outcome"],
                )?,
            )?,
            registry: r,
        })
    }

    /// The exposition text of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut text = String::new();
        TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text)?;
        Ok(text)
    }

    /// The `Content-Type` of [`GatewayMetrics::render`]'s text.
    pub fn content_type() -> String {
        TextEncoder::new().format_type().to_owned()
    }

    pub fn set_runs_watched(&self, n: usize) {
        self.runs_watched.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The exposure the ledgers hold ([`crate::exposure`]); `None` when asking them failed.
    pub fn set_exposure(&self, held: Option<crate::exposure::Held>) {
        match held {
            Some(h) => {
                self.reservations_active
                    .set(i64::try_from(h.reservations).unwrap_or(i64::MAX));
                // Prometheus samples are floats; the ledger itself keeps the exact decimal.
                self.reserved_notional
                    .set(h.notional.to_f64().unwrap_or(f64::MAX));
            }
            None => self.exposure_sample_failures.inc(),
        }
    }

    pub fn start(&self, result: StartResult) {
        self.decision_starts
            .with_label_values(&[result.as_str()])
            .inc();
    }

    /// Counts one open SSE stream until the returned guard is dropped. Created inside the
    /// stream, the guard is dropped however the stream ends: its last event, shutdown, or the
    /// client going away (axum drops the body).
    pub fn stream_opened(&self) -> OpenStream {
        self.sse_streams_open.inc();
        OpenStream(self.sse_streams_open.clone())
    }

    /// Records a run's end. `events` is its log, ending with the terminal event; anything else
    /// is ignored.
    pub fn observe_terminal(&self, events: &[DecisionEvent]) {
        let Some(terminal) = events
            .last()
            .filter(|e| torghut_proto::event::is_terminal(e))
        else {
            return;
        };
        let Some(ending) = terminal.payload.as_ref().and_then(Ending::of) else {
            return;
        };
        let outcome = match &ending {
            Ending::Intent { action } => {
                self.decisions
                    .with_label_values(&[code_label(action), "final"])
                    .inc();
                "final"
            }
            Ending::Veto { reasons } => {
                // A veto is a hold the gates forced.
                self.decisions.with_label_values(&["hold", "final"]).inc();
                self.decisions_vetoed.inc();
                let kinds: Vec<VetoKind> =
                    reasons.iter().filter_map(|r| VetoKind::parse(r)).collect();
                if kinds.is_empty() {
                    self.veto_reasons.with_label_values(&["other"]).inc();
                }
                for kind in kinds {
                    self.veto_reasons.with_label_values(&[kind.as_str()]).inc();
                }
                "final"
            }
            Ending::LlmReview => {
                self.decisions
                    .with_label_values(&["llm_review", "final"])
                    .inc();
                "final"
            }
            Ending::Error { code } => {
                self.decisions.with_label_values(&["none", "error"]).inc();
                self.decision_errors
                    .with_label_values(&[code_label(code)])
                    .inc();
                "error"
            }
        };
        let accepted = events
            .iter()
            .find(|e| matches!(e.payload, Some(Payload::Accepted(_))));
        if let Some(seconds) = accepted.and_then(|a| seconds_between(&a.at, &terminal.at)) {
            self.decision_latency
                .with_label_values(&[outcome])
                .observe(seconds);
        }
    }
}

/// Seconds from `from` to `to`, both RFC 3339; `None` if either does not parse or time ran
/// backwards (a log written by something other than the workflow).
fn seconds_between(from: &str, to: &str) -> Option<f64> {
    let from = DateTime::parse_from_rfc3339(from).ok()?;
    let to = DateTime::parse_from_rfc3339(to).ok()?;
    let ms = (to - from).num_milliseconds();
    (ms >= 0).then(|| ms as f64 / 1000.0)
}

/// One open SSE stream; see [`GatewayMetrics::stream_opened`].
pub struct OpenStream(IntGauge);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Middleware: counts every response by route template (`unmatched` for paths no route
/// matches, so scanners cannot mint series) and status class. An SSE response counts when its
/// headers go out, not when the stream ends.
pub async fn count_requests(
    State(metrics): State<Arc<GatewayMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics
        .http_requests
        .with_label_values(&[route.as_str(), status_class(response.status().as_u16())])
        .inc();
    response
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use torghut_proto::v1::{Accepted, DecisionError, DecisionIntent, Final, LlmResponse};

    /// The value of one sample line (`name{labels} value`) in exposition text; 0 when absent.
    pub fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| {
                l.rsplit_once(' ')
                    .filter(|(s, _)| *s == series)
                    .and_then(|(_, v)| v.parse().ok())
            })
            .unwrap_or(0.0)
    }

    fn at(sequence: u64, at: &str, payload: Payload) -> DecisionEvent {
        DecisionEvent {
            sequence,
            at: at.into(),
            payload: Some(payload),
            trace_id: String::new(),
        }
    }

    fn run(terminal: Payload, ended_at: &str) -> Vec<DecisionEvent> {
        vec![
            at(
                0,
                "2026-01-05T14:30:00.000Z",
                Payload::Accepted(Accepted::default()),
            ),
            at(1, ended_at, terminal),
        ]
    }

    fn intent(action: &str, vetoed: bool, reasons: &[&str]) -> Payload {
        Payload::Final(Final {
            intent: Some(DecisionIntent {
                action: action.into(),
                vetoed,
                veto_reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
                ..Default::default()
            }),
            llm_response: None,
        })
    }

    fn error(code: &str) -> Payload {
        Payload::Error(DecisionError {
            code: code.into(),
            message: "m".into(),
            retryable: true,
        })
    }

    #[test]
    fn terminal_events_count_by_action_outcome_veto_and_error_code() {
        let m = GatewayMetrics::new().expect("metrics");
        let end = "2026-01-05T14:30:01.500Z";
        m.observe_terminal(&run(intent("buy", false, &[]), end));
        m.observe_terminal(&run(intent("buy", false, &[]), end));
        m.observe_terminal(&run(
            intent("hold", true, &["kill_switch", "low_context_quality"]),
            "2026-01-05T14:30:03Z",
        ));
        // A kind outside the closed set (a newer worker's) is counted as `other`.
        m.observe_terminal(&run(intent("hold", true, &["who_knows"]), end));
        m.observe_terminal(&run(error("timeout"), "2026-01-05T14:35:00.000Z"));
        m.observe_terminal(&run(error("Not A Code!"), end));
        m.observe_terminal(&run(
            Payload::Final(Final {
                intent: None,
                llm_response: Some(LlmResponse::default()),
            }),
            end,
        ));
        // Not terminal: ignored.
        m.observe_terminal(&run(Payload::Accepted(Accepted::default()), end));
        m.observe_terminal(&[]);

        let text = m.render().expect("render");
        for (series, want) in [
            (
                r#"torghut_gateway_decisions_total{action="buy",outcome="final"}"#,
                2.0,
            ),
            (
                r#"torghut_gateway_decisions_total{action="hold",outcome="final"}"#,
                2.0,
            ),
            (
                r#"torghut_gateway_decisions_total{action="none",outcome="error"}"#,
                2.0,
            ),
            (
                r#"torghut_gateway_decisions_total{action="llm_review",outcome="final"}"#,
                1.0,
            ),
            ("torghut_gateway_decisions_vetoed_total", 2.0),
            (
                r#"torghut_gateway_decision_veto_reasons_total{reason="kill_switch"}"#,
                1.0,
            ),
            (
                r#"torghut_gateway_decision_veto_reasons_total{reason="low_context_quality"}"#,
                1.0,
            ),
            (
                r#"torghut_gateway_decision_veto_reasons_total{reason="other"}"#,
                1.0,
            ),
            (
                r#"torghut_gateway_decision_errors_total{code="timeout"}"#,
                1.0,
            ),
            (
                r#"torghut_gateway_decision_errors_total{code="other"}"#,
                1.0,
            ),
            (
                r#"torghut_gateway_decision_latency_seconds_count{outcome="final"}"#,
                5.0,
            ),
            (
                r#"torghut_gateway_decision_latency_seconds_count{outcome="error"}"#,
                2.0,
            ),
            // 4 × 1.5 s and one 3 s final; 300 s and 1.5 s errors.
            (
                r#"torghut_gateway_decision_latency_seconds_sum{outcome="final"}"#,
                9.0,
            ),
            (
                r#"torghut_gateway_decision_latency_seconds_sum{outcome="error"}"#,
                301.5,
            ),
            (
                r#"torghut_gateway_decision_latency_seconds_bucket{outcome="final",le="2"}"#,
                4.0,
            ),
        ] {
            assert_eq!(sample(&text, series), want, "{series}\n{text}");
        }
    }

    #[test]
    fn latency_needs_both_timestamps_in_order() {
        assert_eq!(
            seconds_between("2026-01-05T14:30:00Z", "2026-01-05T14:30:02.250Z"),
            Some(2.25)
        );
        assert_eq!(
            seconds_between("2026-01-05T14:30:02Z", "2026-01-05T14:30:00Z"),
            None
        );
        assert_eq!(seconds_between("", "2026-01-05T14:30:00Z"), None);
        let m = GatewayMetrics::new().expect("metrics");
        m.observe_terminal(&[at(0, "", intent("buy", false, &[]))]);
        let text = m.render().expect("render");
        assert_eq!(
            sample(
                &text,
                r#"torghut_gateway_decisions_total{action="buy",outcome="final"}"#
            ),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                r#"torghut_gateway_decision_latency_seconds_count{outcome="final"}"#
            ),
            0.0,
            "no accepted event, no latency"
        );
    }

    #[tokio::test]
    async fn requests_count_by_route_template_and_status_class() {
        use axum::Router;
        use axum::body::Body;
        use axum::http::StatusCode;
        use axum::routing::get;
        use tower::ServiceExt;

        let m = Arc::new(GatewayMetrics::new().expect("metrics"));
        let app = Router::new()
            .route("/runs/{id}", get(|| async { StatusCode::NOT_FOUND }))
            .route("/healthz", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                m.clone(),
                count_requests,
            ));
        for path in ["/runs/a", "/runs/b", "/healthz", "/no/such/route"] {
            let request = Request::builder()
                .uri(path)
                .body(Body::empty())
                .expect("request");
            app.clone().oneshot(request).await.expect("response");
        }
        let text = m.render().expect("render");
        for (series, want) in [
            (
                r#"torghut_gateway_http_requests_total{route="/runs/{id}",status_class="4xx"}"#,
                2.0,
            ),
            (
                r#"torghut_gateway_http_requests_total{route="/healthz",status_class="2xx"}"#,
                1.0,
            ),
            (
                r#"torghut_gateway_http_requests_total{route="unmatched",status_class="4xx"}"#,
                1.0,
            ),
        ] {
            assert_eq!(sample(&text, series), want, "{series}\n{text}");
        }
        assert!(!text.contains("/runs/a"), "{text}");
    }

    #[test]
    fn an_open_stream_counts_until_its_guard_drops() {
        let m = GatewayMetrics::new().expect("metrics");
        let a = m.stream_opened();
        let b = m.stream_opened();
        assert_eq!(
            sample(&m.render().expect("r"), "torghut_gateway_sse_streams_open"),
            2.0
        );
        drop(a);
        drop(b);
        assert_eq!(
            sample(&m.render().expect("r"), "torghut_gateway_sse_streams_open"),
            0.0
        );
    }
}
