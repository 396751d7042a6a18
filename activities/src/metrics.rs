//! The worker's Prometheus metrics: recorded here, by the activities (never by workflow code,
//! which must stay deterministic), and served by the worker binary at `/metrics`.
//!
//! One [`ActivityMetrics`] per worker, shared by every activity invocation. Labels come from
//! closed sets: the activities' own names and the outcome of an attempt.
//!
//! Exposure reservations are counted where the activities talk to the ledger: a grant when the
//! ledger created a reservation (not when a retry found it held), a release when the
//! compensation released a live one. Granted minus released is *not* the number held: a
//! decision that ends with an intent keeps its reservation until its TTL expires inside the
//! ledger workflow, which no activity sees. The ledger's `snapshot` query is the source for what
//! an account holds now.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::time::Duration;
use torghut_policy::ledger::{ReleaseResult, ReserveResult};
use torghut_policy::skills::{STATUS_MISSING, quality};
use torghut_proto::v1::SkillOutput;

/// Attempt latency buckets, seconds: file skills take milliseconds, HTTP providers up to their
/// timeouts (10 s by default), an LLM review up to a minute.
const LATENCY_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Freshness buckets, seconds: the targets are a minute (technicals, market context), five
/// minutes (news) and a day (fundamentals); beyond, how stale.
const FRESHNESS_BUCKETS: [f64; 12] = [
    1.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 14_400.0, 86_400.0, 259_200.0, 604_800.0,
];
const QUALITY_BUCKETS: [f64; 10] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
/// Budget-use buckets, a fraction: finer towards 1, where a grant starts to be cut short.
const BUDGET_USED_BUCKETS: [f64; 9] = [0.25, 0.5, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0];

/// Why the metrics could not be set up or rendered (a programming error: a name registered
/// twice or an invalid one).
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// How one activity attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A result (for a context skill: data, fresh or stale).
    Ok,
    /// A context skill answered that it has no data: an explicit `missing` domain.
    Missing,
    /// An error: retried by Temporal unless it is bad input.
    Failed,
}

impl AttemptOutcome {
    /// A context skill's outcome from its output's status.
    pub fn of_output(output: &SkillOutput) -> Self {
        if output.status == STATUS_MISSING {
            AttemptOutcome::Missing
        } else {
            AttemptOutcome::Ok
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Ok => "ok",
            AttemptOutcome::Missing => "missing",
            AttemptOutcome::Failed => "failed",
        }
    }
}

pub struct ActivityMetrics {
    registry: Registry,
    attempt_duration: HistogramVec,
    attempts: IntCounterVec,
    context_freshness: HistogramVec,
    context_quality: HistogramVec,
    reservations_granted: IntCounter,
    reservations_released: IntCounter,
    budget_used: Histogram,
}

fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> Result<M, MetricsError> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    label: &str,
) -> Result<HistogramVec, MetricsError> {
    register(
        registry,
        HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
            &[label],
        )?,
    )
}

impl ActivityMetrics {
    pub fn new() -> Result<Self, MetricsError> {
        let r = Registry::new();
        Ok(Self {
            attempt_duration: histogram(
                &r,
                "torghut_worker_skill_duration_seconds",
                "Wall time of one activity attempt, by skill (activity name; a context-domain activity counts under its domain)",
                &LATENCY_BUCKETS,
                "skill",
            )?,
            attempts: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "torghut_worker_skill_outcomes_total",
                        "Activity attempts by skill and outcome: ok, missing (a context skill without data), failed (an error; Temporal may retry)",
                    ),
                    &["skill", "outcome"],
                )?,
            )?,
            context_freshness: histogram(
                &r,
                "torghut_worker_context_freshness_seconds",
                "Age of a context skill's newest data at the decision's as-of time, by domain (missing outputs excluded)",
                &FRESHNESS_BUCKETS,
                "domain",
            )?,
            context_quality: histogram(
                &r,
                "torghut_worker_context_quality",
                "Quality score (0..1) of a context skill's output, by domain (missing outputs excluded)",
                &QUALITY_BUCKETS,
                "domain",
            )?,
            reservations_granted: register(
                &r,
                IntCounter::new(
                    "torghut_worker_exposure_reservations_granted_total",
                    "Exposure reservations the ledger created for a decision's sizing step",
                )?,
            )?,
            reservations_released: register(
                &r,
                IntCounter::new(
                    "torghut_worker_exposure_reservations_released_total",
                    "Held exposure reservations released by a decision's compensation",
                )?,
            )?,
            budget_used: register(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "torghut_worker_exposure_budget_used_ratio",
                        "Share of the account's exposure budget held after a reserve (this decision's grant and the other active reservations), at each reserve the ledger answered",
                    )
                    .buckets(BUDGET_USED_BUCKETS.to_vec()),
                )?,
            )?,
            registry: r,
        })
    }

    /// The exposition text of every metric.
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut text = String::new();
        TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text)?;
        Ok(text)
    }

    /// The `Content-Type` of [`ActivityMetrics::render`]'s text.
    pub fn content_type() -> String {
        TextEncoder::new().format_type().to_owned()
    }

    pub fn observe_attempt(&self, skill: &str, elapsed: Duration, outcome: AttemptOutcome) {
        self.attempt_duration
            .with_label_values(&[skill])
            .observe(elapsed.as_secs_f64());
        self.attempts
            .with_label_values(&[skill, outcome.as_str()])
            .inc();
    }

    /// Freshness and quality of a context skill's output; a missing domain has neither.
    pub fn observe_context(&self, output: &SkillOutput) {
        if AttemptOutcome::of_output(output) == AttemptOutcome::Missing {
            return;
        }
        let domain = output.domain.as_str();
        self.context_freshness
            .with_label_values(&[domain])
            .observe(output.freshness_seconds as f64);
        self.context_quality
            .with_label_values(&[domain])
            .observe(quality(output).to_f64().unwrap_or(0.0));
    }

    /// A ledger's answer to a reserve: a grant when it created the reservation, not when a
    /// retried attempt (or the second, shrinking reserve of the same decision) found it held,
    /// nor when there was no room.
    ///
    /// Also how much of the account's budget is held once the ledger answered: what this
    /// decision holds and what the others do, over `budget`, the one the request brought (its
    /// buying power). A budget of zero has no share and is not observed.
    pub fn observe_reserve(&self, budget: Decimal, answer: &ReserveResult) {
        if !answer.already_held && answer.granted > Decimal::ZERO {
            self.reservations_granted.inc();
        }
        if budget > Decimal::ZERO {
            let held = answer.granted + answer.reserved_by_others;
            self.budget_used
                .observe((held / budget).to_f64().unwrap_or(1.0));
        }
    }

    /// A ledger's answer to a release: counted when a held reservation was released (a repeat
    /// finds a tombstone and releases nothing).
    pub fn observe_release(&self, answer: &ReleaseResult) {
        if answer.existed {
            self.reservations_released.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torghut_policy::skills::missing_output;

    /// The value of one sample line (`name{labels} value`); 0 when absent.
    fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| {
                l.rsplit_once(' ')
                    .filter(|(s, _)| *s == series)
                    .and_then(|(_, v)| v.parse().ok())
            })
            .unwrap_or(0.0)
    }

    fn output(domain: &str, freshness_seconds: u64, quality: &str) -> SkillOutput {
        SkillOutput {
            domain: domain.into(),
            freshness_seconds,
            quality_score: quality.into(),
            status: "ok".into(),
            ..Default::default()
        }
    }

    #[test]
    fn attempts_context_and_reservations_render_with_their_labels() {
        let m = ActivityMetrics::new().expect("metrics");
        let ms = Duration::from_millis;
        m.observe_attempt("technicals-regime", ms(20), AttemptOutcome::Ok);
        m.observe_attempt("technicals-regime", ms(40), AttemptOutcome::Ok);
        m.observe_attempt("news-sentiment", ms(3), AttemptOutcome::Missing);
        m.observe_attempt("risk-exposure-sizing", ms(2_000), AttemptOutcome::Failed);
        m.observe_context(&output("technicals-regime", 45, "0.9"));
        m.observe_context(&output("technicals-regime", 7_200, "0.35"));
        m.observe_context(&output("fundamentals", 0, "not a number"));
        m.observe_context(&missing_output("news-sentiment", "IBM", "t", "no_data"));
        let budget = |b: u32| Decimal::from(b);
        let reserve = |granted: u32, others: u32, already_held: bool| ReserveResult {
            granted: granted.into(),
            reserved_by_others: others.into(),
            already_held,
        };
        m.observe_reserve(budget(10_000), &reserve(500, 0, false)); // 5 % used
        // The same decision shrinking its grant: 92 % used.
        m.observe_reserve(budget(10_000), &reserve(300, 8_900, true));
        m.observe_reserve(budget(1_000), &reserve(700, 300, false)); // all of it
        m.observe_reserve(budget(1_000), &reserve(0, 1_000, false)); // no room: nothing reserved
        m.observe_reserve(budget(0), &reserve(0, 0, false)); // no budget: no share
        m.observe_release(&ReleaseResult {
            released: 500.into(),
            existed: true,
        });
        m.observe_release(&ReleaseResult {
            released: 0.into(),
            existed: false,
        });

        let text = m.render().expect("render");
        for (series, want) in [
            (
                r#"torghut_worker_skill_duration_seconds_count{skill="technicals-regime"}"#,
                2.0,
            ),
            (
                r#"torghut_worker_skill_duration_seconds_sum{skill="technicals-regime"}"#,
                0.06,
            ),
            (
                r#"torghut_worker_skill_duration_seconds_bucket{skill="technicals-regime",le="0.025"}"#,
                1.0,
            ),
            (
                r#"torghut_worker_skill_outcomes_total{outcome="ok",skill="technicals-regime"}"#,
                2.0,
            ),
            (
                r#"torghut_worker_skill_outcomes_total{outcome="missing",skill="news-sentiment"}"#,
                1.0,
            ),
            (
                r#"torghut_worker_skill_outcomes_total{outcome="failed",skill="risk-exposure-sizing"}"#,
                1.0,
            ),
            (
                r#"torghut_worker_context_freshness_seconds_bucket{domain="technicals-regime",le="60"}"#,
                1.0,
            ),
            (
                r#"torghut_worker_context_freshness_seconds_count{domain="technicals-regime"}"#,
                2.0,
            ),
            (
                r#"torghut_worker_context_quality_bucket{domain="technicals-regime",le="0.4"}"#,
                1.0,
            ),
            (
                r#"torghut_worker_context_quality_sum{domain="technicals-regime"}"#,
                1.25,
            ),
            (
                r#"torghut_worker_context_quality_sum{domain="fundamentals"}"#,
                0.0,
            ),
            (
                r#"torghut_worker_context_quality_count{domain="fundamentals"}"#,
                1.0,
            ),
            (
                r#"torghut_worker_context_quality_count{domain="news-sentiment"}"#,
                0.0,
            ),
            ("torghut_worker_exposure_reservations_granted_total", 2.0),
            ("torghut_worker_exposure_budget_used_ratio_count", 4.0),
            (
                r#"torghut_worker_exposure_budget_used_ratio_bucket{le="0.25"}"#,
                1.0,
            ),
            (
                r#"torghut_worker_exposure_budget_used_ratio_bucket{le="0.9"}"#,
                1.0,
            ),
            (
                r#"torghut_worker_exposure_budget_used_ratio_bucket{le="0.95"}"#,
                2.0,
            ),
            ("torghut_worker_exposure_budget_used_ratio_sum", 2.97),
            ("torghut_worker_exposure_reservations_released_total", 1.0),
        ] {
            let got = sample(&text, series);
            assert!(
                (got - want).abs() < 1e-9,
                "{series}: {got} != {want}\n{text}"
            );
        }
    }

    #[test]
    fn a_context_output_is_missing_only_by_its_status() {
        assert_eq!(
            AttemptOutcome::of_output(&missing_output("fundamentals", "IBM", "t", "x")),
            AttemptOutcome::Missing
        );
        let mut stale = output("news-sentiment", 9_000, "0.2");
        stale.status = "stale".into();
        assert_eq!(AttemptOutcome::of_output(&stale), AttemptOutcome::Ok);
    }
}
