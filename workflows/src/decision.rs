//! `decision-workflow`: one run per `request_id`.
//!
//! The workflow is orchestration only: it starts the skills, records every step in an
//! append-only event log, and hands the pure policy its inputs. The event log is the bridge to
//! the gateway: `sequence` is the offset into it, the `poll_events` Update long-polls it (the
//! "workflow streams" pattern), and the run's result is the whole log, so a finished run is served
//! from its result without a worker round trip.

use crate::activity_io::{
    DecisionActivities, LlmReviewInput, ReleaseInput, RoutingInput, SizingInput, SkillInput,
};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use temporalio_common::ActivityDefinition;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, WaitConditionOptions, WorkflowCancellationToken,
    WorkflowContext, WorkflowContextView, WorkflowResult,
};
use temporalio_workflow::RetryPolicy;
use torghut_policy::analysis::{self, PolicyConfig};
use torghut_policy::skills::{self, missing_output};
use torghut_proto::model::{self, ValidatedRequest};
use torghut_proto::trace::TraceParent;
use torghut_proto::v1::{
    Accepted, AnalysisComplete, ContextReady, DecisionError, DecisionEvent, DecisionRequest,
    DomainSummary, Final, Progress, SkillOutput, decision_event::Payload,
};

/// Search attributes operators find runs by in the Temporal UI. Keywords only, and nothing that
/// reveals portfolio figures or accounts: the visibility store is not encrypted.
pub mod search {
    use temporalio_common::search_attributes::SearchAttributeKey;
    pub const SYMBOL: SearchAttributeKey<String> = SearchAttributeKey::keyword("Symbol");
    pub const STRATEGY_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("StrategyId");
    pub const DECISION_ACTION: SearchAttributeKey<String> =
        SearchAttributeKey::keyword("DecisionAction");
    pub const TRADING_MODE: SearchAttributeKey<String> = SearchAttributeKey::keyword("TradingMode");
    /// Names and types, for registering them on a server.
    pub const ALL: [(&str, &str); 4] = [
        ("Symbol", "Keyword"),
        ("StrategyId", "Keyword"),
        ("DecisionAction", "Keyword"),
        ("TradingMode", "Keyword"),
    ];
}

/// The workflow type name in Temporal.
pub const WORKFLOW_TYPE: &str = "decision-workflow";
/// Longest a `poll_events` Update waits for a new event before answering empty.
pub const MAX_POLL_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionInput {
    pub request: DecisionRequest,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub llm: LlmCallPolicy,
    /// W3C `traceparent` of the HTTP request that started the run (see [`run_trace`]). Not part
    /// of the request, so it never changes the request's fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// The trace a run belongs to: the starter's `traceparent` when it passed a valid one, else one
/// derived from the workflow id. Derived rather than random, because the same run must be traced
/// under the same id on every replay and workflow code draws no random numbers: the intraday
/// loop's runs, and any started without a `traceparent`, still have a stable trace id.
pub fn run_trace(input: &DecisionInput) -> TraceParent {
    input
        .traceparent
        .as_deref()
        .and_then(|t| TraceParent::parse(t).ok())
        .unwrap_or_else(|| TraceParent::derived(&crate::workflow_id(&input.request.request_id)))
}

/// Timeout and retries of the `llm-review` activity; from the gateway's configuration, recorded
/// in the input so a replay uses what the run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCallPolicy {
    /// Start-to-close timeout of one call.
    pub timeout_seconds: u32,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Default for LlmCallPolicy {
    fn default() -> Self {
        Self {
            timeout_seconds: 60,
            max_attempts: 3,
        }
    }
}

/// The run's result: its complete event log, ending in `decision.final` or `decision.error`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DecisionOutcome {
    pub events: Vec<DecisionEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PollRequest {
    /// Return events with `sequence >= from`.
    pub from: u64,
    /// How long to wait for one, in milliseconds (capped at [`MAX_POLL_WAIT`]).
    pub wait_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PollResponse {
    pub events: Vec<DecisionEvent>,
    /// True once the log holds its terminal event.
    pub finished: bool,
}

/// What the `current_state` query answers: enough to poll cheaply without reading events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    pub next_sequence: u64,
    pub finished: bool,
    pub last_event_type: String,
}

#[workflow]
pub struct DecisionWorkflow {
    input: DecisionInput,
    /// From [`run_trace`]; stamped on every event and handed to every activity.
    trace: TraceParent,
    events: Vec<DecisionEvent>,
    finished: bool,
    /// Set before `risk-exposure-sizing` starts: from then on an error must release.
    reservation_attempted: bool,
}

#[workflow_methods]
impl DecisionWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: DecisionInput) -> Self {
        Self {
            trace: run_trace(&input),
            input,
            events: Vec::new(),
            finished: false,
            reservation_attempted: false,
        }
    }

    #[run(name = "decision-workflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<DecisionOutcome> {
        let input = ctx.state(|s| s.input.clone());
        match model::validate(&input.request) {
            Err(e) => emit(
                ctx,
                Payload::Error(DecisionError {
                    code: "invalid_request".to_owned(),
                    message: e.to_string(),
                    retryable: false,
                }),
            ),
            Ok(request) => {
                let mode = match request.execution.mode {
                    model::Mode::Paper => "paper",
                    model::Mode::Live => "live",
                };
                ctx.upsert_search_attributes([
                    search::SYMBOL.value_set(request.symbol.to_string()),
                    search::STRATEGY_ID.value_set(request.strategy_id.clone()),
                    search::TRADING_MODE.value_set(mode.to_owned()),
                ]);
                emit(
                    ctx,
                    Payload::Accepted(Accepted {
                        workflow_id: ctx.workflow_id().to_owned(),
                        symbol: request.symbol.to_string(),
                        strategy_id: request.strategy_id.clone(),
                        deadline_seconds: request.deadline_seconds,
                        idempotent: false,
                    }),
                );
                let deadline = Duration::from_secs(u64::from(request.deadline_seconds));
                let account_id = request.account_id.clone();
                let steps = if request.is_llm_review() {
                    run_llm_review(ctx.clone(), input).boxed_local()
                } else {
                    run_steps(ctx.clone(), input, request).boxed_local()
                }
                .fuse();
                let timer = ctx.timer(deadline).fuse();
                let cancelled = ctx.cancelled().fuse();
                futures::pin_mut!(steps, timer, cancelled);
                let terminal = futures::select_biased! {
                    reason = cancelled => Payload::Error(DecisionError {
                        code: "cancelled".to_owned(),
                        message: format!("decision cancelled: {}", reason.unwrap_or_else(|| "cancel requested".to_owned())),
                        retryable: false,
                    }),
                    t = steps => t,
                    _ = timer => Payload::Error(DecisionError {
                        code: "timeout".to_owned(),
                        message: format!("decision exceeded its deadline of {} s", deadline.as_secs()),
                        retryable: true,
                    }),
                };
                if matches!(terminal, Payload::Error(_)) && ctx.state(|s| s.reservation_attempted) {
                    compensate(ctx, &account_id).await;
                }
                ctx.upsert_search_attributes([
                    search::DECISION_ACTION.value_set(outcome_label(&terminal))
                ]);
                emit(ctx, terminal);
            }
        }
        ctx.state_mut(|s| s.finished = true);
        // Let any `poll_events` waiting on the log deliver the terminal event before we close.
        // A fresh token: after a cancel request the default one is already cancelled.
        let handlers = ctx.clone();
        let mut wait = WaitConditionOptions::default();
        wait.cancellation_token = Some(WorkflowCancellationToken::new());
        ctx.wait_condition_with_options(move |_| handlers.all_handlers_finished(), wait)
            .await?;
        Ok(ctx.state(|s| DecisionOutcome {
            events: s.events.clone(),
        }))
    }

    #[query]
    pub fn current_state(&self, _ctx: &WorkflowContextView) -> RunState {
        RunState {
            next_sequence: self.events.len() as u64,
            finished: self.finished,
            last_event_type: self
                .events
                .last()
                .map(|e| torghut_proto::event::event_type(e).to_owned())
                .unwrap_or_default(),
        }
    }

    /// Long-poll of the event log: answers as soon as an event at or past `from` exists, the log
    /// finishes, or the wait runs out (then with no events).
    #[update]
    pub async fn poll_events(ctx: &mut WorkflowContext<Self>, req: PollRequest) -> PollResponse {
        let from = req.from;
        let wait = Duration::from_millis(req.wait_ms).min(MAX_POLL_WAIT);
        let ready = ctx.wait_condition(move |s: &Self| s.events.len() as u64 > from || s.finished);
        let timer = ctx.timer(wait);
        futures::pin_mut!(ready, timer);
        futures::future::select(ready, timer).await;
        ctx.state(|s| PollResponse {
            events: s
                .events
                .iter()
                .filter(|e| e.sequence >= from)
                .cloned()
                .collect(),
            finished: s.finished,
        })
    }
}

/// What `DecisionAction` says of a run: the action, `veto` for a forced hold, `llm_review`, or
/// `error`.
fn outcome_label(terminal: &Payload) -> String {
    match terminal {
        Payload::Final(Final {
            intent: Some(i), ..
        }) if i.vetoed => "veto".to_owned(),
        Payload::Final(Final {
            intent: Some(i), ..
        }) => i.action.clone(),
        Payload::Final(_) => "llm_review".to_owned(),
        _ => "error".to_owned(),
    }
}

fn now(ctx: &WorkflowContext<DecisionWorkflow>) -> String {
    ctx.workflow_time()
        .map(DateTime::<Utc>::from)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn emit(ctx: &WorkflowContext<DecisionWorkflow>, payload: Payload) {
    let at = now(ctx);
    ctx.state_mut(|s| {
        let sequence = s.events.len() as u64;
        s.events.push(DecisionEvent {
            sequence,
            at,
            trace_id: s.trace.trace_id_hex(),
            payload: Some(payload),
        });
    });
}

/// The run's `traceparent`, for an activity's input.
fn traceparent(ctx: &WorkflowContext<DecisionWorkflow>) -> Option<String> {
    Some(ctx.state(|s| s.trace.to_string()))
}

/// Timeouts and retries of an activity step: short attempts with backoff inside a bounded total;
/// bad input is never retried.
pub(crate) fn activity_options(
    summary: String,
    start_to_close_secs: u64,
    max_attempts: u32,
) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(
        temporalio_sdk::ActivityCloseTimeouts::ScheduleAndStartToClose {
            schedule_to_close: Duration::from_secs(60),
            start_to_close: Duration::from_secs(start_to_close_secs),
        },
    )
    .retry_policy(
        RetryPolicy::builder()
            .initial_interval(Duration::from_millis(500))
            .backoff_coefficient(2.0)
            .maximum_interval(Duration::from_secs(5))
            .maximum_attempts(max_attempts)
            .non_retryable_error_types(["InvalidInput"])
            .build(),
    )
    .summary(summary)
    .build()
}

/// Context skills: a few quick attempts; after them the domain is recorded as missing.
pub(crate) fn skill_options(name: &str) -> ActivityOptions {
    activity_options(format!("{name}: gather context"), 15, 4)
}

/// Sizing, routing and the compensation: the decision cannot finish without them.
fn step_options(name: &str) -> ActivityOptions {
    activity_options(name.to_owned(), 10, 5)
}

/// The decision steps after `accepted`; returns the terminal payload.
async fn run_steps(
    ctx: WorkflowContext<DecisionWorkflow>,
    input: DecisionInput,
    request: ValidatedRequest,
) -> Payload {
    let workflow_id = ctx.workflow_id().to_owned();
    let as_of = request
        .trigger
        .event_ts
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let skill_input = SkillInput {
        request: input.request.clone(),
        as_of_utc: as_of.clone(),
        workflow_id: workflow_id.clone(),
        traceparent: traceparent(&ctx),
    };
    let total = skills::CONTEXT_SKILLS.len() as u32;

    let (market, news, fundamentals, technicals) = futures::join!(
        run_skill(
            &ctx,
            DecisionActivities::market_context,
            &skill_input,
            &request,
            total
        ),
        run_skill(
            &ctx,
            DecisionActivities::news_sentiment,
            &skill_input,
            &request,
            total
        ),
        run_skill(
            &ctx,
            DecisionActivities::fundamentals,
            &skill_input,
            &request,
            total
        ),
        run_skill(
            &ctx,
            DecisionActivities::technicals_regime,
            &skill_input,
            &request,
            total
        ),
    );
    let outputs = vec![market, news, fundamentals, technicals];
    let domains: Vec<DomainSummary> = outputs
        .iter()
        .map(|o| DomainSummary {
            domain: o.domain.clone(),
            status: o.status.clone(),
            quality_score: o.quality_score.clone(),
            freshness_seconds: o.freshness_seconds,
            risk_flags: o.risk_flags.clone(),
        })
        .collect();

    let analysis = analysis::analyse(
        &outputs,
        request.risk_policy.kill_switch_enabled,
        &input.policy,
    );
    emit(
        &ctx,
        Payload::ContextReady(ContextReady {
            domains,
            overall_quality: analysis.overall_quality.normalize().to_string(),
            risk_flags: analysis.risk_flags.clone(),
        }),
    );
    emit(
        &ctx,
        Payload::AnalysisComplete(AnalysisComplete {
            direction: analysis.direction.as_str().to_owned(),
            score: analysis.score.normalize().to_string(),
            confidence: analysis.confidence.normalize().to_string(),
            uncertainty_notes: analysis.uncertainty_notes.clone(),
            risk_flags: analysis.risk_flags.clone(),
            vetoed: analysis.vetoed,
        }),
    );

    let technicals = outputs
        .iter()
        .find(|o| o.domain == skills::TECHNICALS_REGIME);
    ctx.state_mut(|s| s.reservation_attempted = true);
    let sizing = match ctx
        .execute_activity(
            DecisionActivities::risk_exposure_sizing,
            SizingInput::for_decision(
                &input.request,
                &analysis,
                technicals,
                &workflow_id,
                traceparent(&ctx),
            ),
            step_options(skills::RISK_EXPOSURE_SIZING),
        )
        .await
    {
        Ok(s) => s,
        Err(e) => return step_failed(skills::RISK_EXPOSURE_SIZING, &e),
    };
    let routing = match ctx
        .execute_activity(
            DecisionActivities::execution_routing,
            RoutingInput::for_decision(&input.request, &sizing, technicals, traceparent(&ctx)),
            step_options(skills::EXECUTION_ROUTING),
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return step_failed(skills::EXECUTION_ROUTING, &e),
    };

    Payload::Final(Final {
        intent: Some(torghut_policy::intent::assemble(
            &workflow_id,
            &request,
            &outputs,
            &analysis,
            sizing,
            routing,
        )),
        llm_response: None,
    })
}

/// The compensation: release whatever the decision reserved. Idempotent, and run with a token
/// of its own so that it still runs after a cancel request.
async fn compensate(ctx: &WorkflowContext<DecisionWorkflow>, account_id: &str) {
    let mut options = step_options(skills::RELEASE_EXPOSURE);
    options.cancellation_token = Some(WorkflowCancellationToken::new());
    let result = ctx
        .execute_activity(
            DecisionActivities::release_exposure,
            ReleaseInput {
                account_id: account_id.to_owned(),
                reservation_id: ctx.workflow_id().to_owned(),
                traceparent: traceparent(ctx),
            },
            options,
        )
        .await;
    let (status, quality) = match &result {
        Ok(r) => ("completed", r.released.normalize().to_string()),
        Err(_) => ("failed", String::new()),
    };
    emit(
        ctx,
        Payload::Progress(Progress {
            step: skills::RELEASE_EXPOSURE.to_owned(),
            status: status.to_owned(),
            domain_status: String::new(),
            // For the release step this carries the notional released.
            quality_score: quality,
            completed: 1,
            total: 1,
        }),
    );
}

/// Torghut's LLM review: one retryable call of an OpenAI-compatible endpoint, answered in
/// `decision.final.llm_response`.
async fn run_llm_review(ctx: WorkflowContext<DecisionWorkflow>, input: DecisionInput) -> Payload {
    let Some(llm_review) = input.request.llm_review.clone() else {
        return Payload::Error(DecisionError {
            code: "invalid_request".to_owned(),
            message: "llm_review block is missing".to_owned(),
            retryable: false,
        });
    };
    let policy = &input.llm;
    let options =
        ActivityOptions::with_close_timeouts(temporalio_sdk::ActivityCloseTimeouts::StartToClose(
            Duration::from_secs(u64::from(policy.timeout_seconds.max(1))),
        ))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(10))
                .maximum_attempts(policy.max_attempts.max(1))
                .non_retryable_error_types([crate::activity_io::LLM_NOT_CONFIGURED, "InvalidInput"])
                .build(),
        )
        .summary(format!(
            "llm-review: {} messages",
            llm_review.messages.len()
        ))
        .build();
    let result = ctx
        .execute_activity(
            DecisionActivities::llm_review,
            LlmReviewInput {
                llm_review,
                workflow_id: ctx.workflow_id().to_owned(),
                traceparent: traceparent(&ctx),
            },
            options,
        )
        .await;
    let (status, terminal) = match result {
        Ok(response) => (
            "completed",
            Payload::Final(Final {
                intent: None,
                llm_response: Some(response),
            }),
        ),
        Err(e) => {
            let code = match failure_reason(&e) {
                "timeout" => "timeout",
                "not_configured" => "not_configured",
                _ => "upstream_error",
            };
            (
                "failed",
                Payload::Error(DecisionError {
                    code: code.to_owned(),
                    message: format!("llm-review failed: {}", failure_message(&e)),
                    retryable: code != "not_configured",
                }),
            )
        }
    };
    emit(
        &ctx,
        Payload::Progress(Progress {
            step: "llm-review".to_owned(),
            status: status.to_owned(),
            domain_status: String::new(),
            quality_score: String::new(),
            completed: 1,
            total: 1,
        }),
    );
    terminal
}

/// Runs one context skill; a skill that exhausts its retries becomes an explicit `missing` domain.
async fn run_skill<AD>(
    ctx: &WorkflowContext<DecisionWorkflow>,
    activity: AD,
    input: &SkillInput,
    request: &ValidatedRequest,
    total: u32,
) -> SkillOutput
where
    AD: ActivityDefinition<Input = SkillInput, Output = SkillOutput>,
{
    let name = activity.name().to_owned();
    let result = ctx
        .execute_activity(activity, input.clone(), skill_options(&name))
        .await;
    let (output, status) = match result {
        Ok(out) => (out, "completed"),
        Err(e) => (
            missing_output(
                &name,
                request.symbol.as_str(),
                &input.as_of_utc,
                failure_reason(&e),
            ),
            "failed",
        ),
    };
    let completed = ctx.state(|s| {
        s.events
            .iter()
            .filter(|e| matches!(e.payload, Some(Payload::Progress(_))))
            .count() as u32
    }) + 1;
    emit(
        ctx,
        Payload::Progress(Progress {
            step: name,
            status: status.to_owned(),
            domain_status: output.status.clone(),
            quality_score: output.quality_score.clone(),
            completed,
            total,
        }),
    );
    output
}

/// The application failure type the activity reported, if it reported one.
fn failure_type(e: &ActivityExecutionError) -> Option<&str> {
    match e.reason()? {
        temporalio_common::error::IncomingError::Application(app) => app.type_name(),
        _ => None,
    }
}

/// The message of the innermost failure, which is the activity's own words.
fn failure_message(e: &ActivityExecutionError) -> String {
    e.reason().map_or_else(|| e.to_string(), |r| r.to_string())
}

pub(crate) fn failure_reason(e: &ActivityExecutionError) -> &'static str {
    if e.as_timeout().is_some() {
        return "timeout";
    }
    match failure_type(e) {
        Some(crate::activity_io::LLM_TIMEOUT) => "timeout",
        Some(crate::activity_io::LLM_NOT_CONFIGURED) => "not_configured",
        Some("InvalidInput") => "invalid_input",
        _ => "failed_after_retries",
    }
}

fn step_failed(step: &str, e: &ActivityExecutionError) -> Payload {
    Payload::Error(DecisionError {
        code: if failure_reason(e) == "timeout" {
            "timeout"
        } else {
            "internal"
        }
        .to_owned(),
        message: format!("step {step} failed after its retries: {e}"),
        retryable: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(request_id: &str, traceparent: Option<&str>) -> DecisionInput {
        DecisionInput {
            request: DecisionRequest {
                request_id: request_id.to_owned(),
                ..Default::default()
            },
            policy: PolicyConfig::default(),
            llm: LlmCallPolicy::default(),
            traceparent: traceparent.map(str::to_owned),
        }
    }

    #[test]
    fn a_run_is_traced_under_its_starters_trace_else_one_derived_from_its_workflow_id() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(run_trace(&input("R-1", Some(header))).to_string(), header);
        let derived = run_trace(&input("R-1", None));
        assert_eq!(derived, TraceParent::derived("decision-r-1"));
        // The workflow id ignores case, so the trace does too: one run, one trace.
        assert_eq!(run_trace(&input("r-1", None)), derived);
        // A malformed header is not the caller's trace; the run still has one.
        assert_eq!(run_trace(&input("R-1", Some("00-nonsense"))), derived);
        assert_ne!(run_trace(&input("R-2", None)).trace_id, derived.trace_id);
    }

    #[test]
    fn an_input_recorded_before_tracing_reads_and_writes_as_before() {
        let old = serde_json::json!({"request": DecisionRequest::default()});
        let parsed: DecisionInput = serde_json::from_value(old.clone()).expect("old input");
        assert_eq!(parsed.traceparent, None);
        let again = serde_json::to_value(&parsed).expect("json");
        assert!(again.get("traceparent").is_none(), "{again}");
    }
}
