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
    connections: ConnectionMetrics,
}

/// The connection bounds' gauges and refusals ([`crate::connections`]), cloned into the accept
/// loop: open connections against the cap show how close a gateway is to answering `503`.
#[derive(Clone)]
pub struct ConnectionMetrics {
    open: IntGauge,
    max: IntGauge,
    refused: IntCounterVec,
}

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    /// `TORGHUT_GATEWAY_MAX_CONNECTIONS`, over all clients.
    TotalCap,
    /// `TORGHUT_GATEWAY_MAX_CONNECTIONS_PER_PEER`, for one client address.
    PeerCap,
}

impl Refusal {
    const ALL: [Refusal; 2] = [Refusal::TotalCap, Refusal::PeerCap];

    fn as_str(self) -> &'static str {
        match self {
            Refusal::TotalCap => "total_cap",
            Refusal::PeerCap => "peer_cap",
        }
    }
}

impl ConnectionMetrics {
    /// The cap in force (set once, at start).
    pub fn set_max(&self, max_connections: usize) {
        self.max
            .set(i64::try_from(max_connections).unwrap_or(i64::MAX));
    }

    /// Counts one open connection until the returned guard is dropped.
    pub fn opened(&self) -> OpenConnection {
        self.open.inc();
        OpenConnection(self.open.clone())
    }

    pub fn refused(&self, why: Refusal) {
        self.refused.with_label_values(&[why.as_str()]).inc();
    }
}

/// One accepted connection; see [`ConnectionMetrics::opened`].
pub struct OpenConnection(IntGauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The error codes a decision is known to end with (`decision.error`'s `code`), present from the
/// start at 0 so an alert's `rate()` has a series before the first error.
const ERROR_CODES: [&str; 6] = [
    "timeout",
    "cancelled",
    "internal",
    "invalid_request",
    "not_configured",
    "upstream_error",
];
/// `(action, outcome)` of `torghut_gateway_decisions_total`, likewise present from the start.
const DECISION_KINDS: [(&str, &str); 5] = [
    ("buy", "final"),
    ("sell", "final"),
    ("hold", "final"),
    ("llm_review", "final"),
    ("none", "error"),
];

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
        let metrics = Self {
            connections: ConnectionMetrics {
                open: register(
                    &r,
                    IntGauge::new(
                        "torghut_gateway_connections_open",
                        "TCP connections the gateway holds now (requests, keep-alive and SSE streams)",
                    )?,
                )?,
                max: register(
                    &r,
                    IntGauge::new(
                        "torghut_gateway_connections_max",
                        "The cap on open connections (TORGHUT_GATEWAY_MAX_CONNECTIONS); one more is answered 503",
                    )?,
                )?,
                refused: register(
                    &r,
                    IntCounterVec::new(
                        Opts::new(
                            "torghut_gateway_connections_refused_total",
                            "Connections answered 503 and closed at accept, by the cap they hit: total_cap, peer_cap",
                        ),
                        &["reason"],
                    )?,
                )?,
            },
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
        };
        // Closed label sets start at 0: a series that appears only with its first increment
        // makes `rate()` and `increase()` miss that increment, and a dashboard show "no data".
        for result in [
            StartResult::Started,
            StartResult::Joined,
            StartResult::Conflict,
        ] {
            metrics
                .decision_starts
                .with_label_values(&[result.as_str()]);
        }
        for (action, outcome) in DECISION_KINDS {
            metrics.decisions.with_label_values(&[action, outcome]);
        }
        for kind in torghut_policy::analysis::VetoKind::ALL {
            metrics.veto_reasons.with_label_values(&[kind.as_str()]);
        }
        metrics.veto_reasons.with_label_values(&["other"]);
        for code in ERROR_CODES {
            metrics.decision_errors.with_label_values(&[code]);
        }
        for why in Refusal::ALL {
            metrics
                .connections
                .refused
                .with_label_values(&[why.as_str()]);
        }
        Ok(metrics)
    }

    /// The connection gauges and refusals, for the accept loop.
    pub fn connections(&self) -> ConnectionMetrics {
        self.connections.clone()
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
    fn connections_count_against_the_cap_and_closed_label_sets_start_at_zero() {
        let m = GatewayMetrics::new().expect("metrics");
        let c = m.connections();
        c.set_max(512);
        let a = c.opened();
        let b = c.opened();
        c.refused(Refusal::PeerCap);
        let text = m.render().expect("render");
        assert_eq!(sample(&text, "torghut_gateway_connections_max"), 512.0);
        assert_eq!(sample(&text, "torghut_gateway_connections_open"), 2.0);
        assert_eq!(
            sample(
                &text,
                r#"torghut_gateway_connections_refused_total{reason="peer_cap"}"#
            ),
            1.0
        );
        drop((a, b));
        assert_eq!(
            sample(&m.render().expect("r"), "torghut_gateway_connections_open"),
            0.0
        );
        // Present before anything happened, at 0, so rate() sees the first increment.
        for series in [
            r#"torghut_gateway_connections_refused_total{reason="total_cap"}"#,
            r#"torghut_gateway_decision_errors_total{code="timeout"}"#,
            r#"torghut_gateway_decision_veto_reasons_total{reason="kill_switch"}"#,
            r#"torghut_gateway_decision_veto_reasons_total{reason="other"}"#,
            r#"torghut_gateway_decisions_total{action="none",outcome="error"}"#,
            r#"torghut_gateway_decision_starts_total{result="conflict"}"#,
        ] {
            assert!(
                text.lines().any(|l| l == format!("{series} 0")),
                "{series}\n{text}"
            );
        }
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
