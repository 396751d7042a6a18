//! `decision-workflow`: one run per `request_id`.
//!
//! The workflow is orchestration only: it starts the skills, records every step in an
//! append-only event log, and hands the pure policy its inputs. The event log is the bridge to
//! the gateway: `sequence` is the offset into it, the `poll_events` Update long-polls it (the
//! "workflow streams" pattern), and the run's result is the whole log, so a finished run is served
//! from its result without a worker round trip.

use crate::activity_io::{
    ContextQuery, DecisionActivities, LlmReviewInput, ReleaseInput, RoutingCall, RoutingRequest,
    SizingCall, SizingRequest, SkillCall, StepFailure, TYPED_ACTIVITY_INPUTS, legacy,
};
use crate::activity_options::{StepBudget, step_failure};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use temporalio_common::ActivityDefinition;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, WaitConditionOptions, WorkflowCancellationToken, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};
use torghut_policy::analysis::{self, PolicyConfig};
use torghut_policy::quote::Quote;
use torghut_policy::skills::{self, missing_output};
use torghut_proto::event::Ending;
use torghut_proto::model::{self, ValidatedRequest};
use torghut_proto::trace::TraceParent;
use torghut_proto::v1::{
    Accepted, AnalysisComplete, ContextReady, DecisionError, DecisionEvent, DomainSummary, Final,
    Progress, SkillOutput, decision_event::Payload,
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
    /// Validated by whoever starts the run (the gateway, the intraday loop); it crosses Temporal
    /// in its wire form and is validated again as it decodes, so the workflow never holds an
    /// invalid request (see [`ValidatedRequest`]).
    pub request: ValidatedRequest,
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
        .unwrap_or_else(|| TraceParent::derived(&crate::ids::decision(&input.request.request_id)))
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
        let request = input.request.clone();
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
                // Per caller, not per run: the gateway sets it (`torghut_proto::event::for_caller`).
                idempotent: false,
            }),
        );
        let deadline = Duration::from_secs(u64::from(request.deadline_seconds));
        let account_id = request.account_id.clone();
        let steps = if request.is_llm_review() {
            run_llm_review(ctx.clone(), input).boxed_local()
        } else {
            run_steps(ctx.clone(), input).boxed_local()
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
        let label = Ending::of(&terminal)
            .as_ref()
            .map_or("error", Ending::label)
            .to_owned();
        ctx.upsert_search_attributes([search::DECISION_ACTION.value_set(label)]);
        emit(ctx, terminal);
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

/// The decision steps after `accepted`; returns the terminal payload.
async fn run_steps(ctx: WorkflowContext<DecisionWorkflow>, input: DecisionInput) -> Payload {
    let request = &input.request;
    let workflow_id = ctx.workflow_id().to_owned();
    // Runs started before typed inputs replay with the inputs they recorded (see
    // `activity_io::legacy`); the marker is written before the first activity is scheduled.
    let typed = ctx.patched(TYPED_ACTIVITY_INPUTS);
    let skill_call = if typed {
        SkillCall::Query(ContextQuery::for_decision(request, traceparent(&ctx)))
    } else {
        SkillCall::Recorded(Box::new(legacy::SkillInput::for_decision(
            request,
            &workflow_id,
            traceparent(&ctx),
        )))
    };
    let total = skills::CONTEXT_SKILLS.len() as u32;

    let (market, news, fundamentals, technicals) = futures::join!(
        run_skill(
            &ctx,
            DecisionActivities::market_context,
            &skill_call,
            request,
            total
        ),
        run_skill(
            &ctx,
            DecisionActivities::news_sentiment,
            &skill_call,
            request,
            total
        ),
        run_skill(
            &ctx,
            DecisionActivities::fundamentals,
            &skill_call,
            request,
            total
        ),
        run_skill(
            &ctx,
            DecisionActivities::technicals_regime,
            &skill_call,
            request,
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

    let quote = Quote::of_outputs(&outputs);
    ctx.state_mut(|s| s.reservation_attempted = true);
    let sizing_call = if typed {
        SizingCall::Request(SizingRequest::for_decision(
            request,
            &analysis,
            &quote,
            &workflow_id,
            traceparent(&ctx),
        ))
    } else {
        SizingCall::Recorded(Box::new(legacy::SizingInput::for_decision(
            request,
            &analysis,
            &quote,
            &workflow_id,
            traceparent(&ctx),
        )))
    };
    let sizing = match ctx
        .execute_activity(
            DecisionActivities::risk_exposure_sizing,
            sizing_call,
            StepBudget::STEP.options(skills::RISK_EXPOSURE_SIZING.to_owned()),
        )
        .await
    {
        Ok(s) => s,
        Err(e) => return step_failed(skills::RISK_EXPOSURE_SIZING, &e),
    };
    let routing_call = if typed {
        RoutingCall::Request(RoutingRequest::for_decision(
            request,
            &sizing,
            &quote,
            traceparent(&ctx),
        ))
    } else {
        RoutingCall::Recorded(Box::new(legacy::RoutingInput::for_decision(
            request,
            sizing.action,
            sizing.qty,
            &quote,
            traceparent(&ctx),
        )))
    };
    let routing = match ctx
        .execute_activity(
            DecisionActivities::execution_routing,
            routing_call,
            StepBudget::STEP.options(skills::EXECUTION_ROUTING.to_owned()),
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return step_failed(skills::EXECUTION_ROUTING, &e),
    };

    Payload::Final(Final {
        intent: Some(torghut_policy::intent::assemble(
            &workflow_id,
            request,
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
    let mut options = StepBudget::STEP.options(skills::RELEASE_EXPOSURE.to_owned());
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
    // Validation requires the block for an `llm_review` trigger; this is a reader's check only.
    let Some(llm_review) = input
        .request
        .llm_review
        .as_ref()
        .map(model::LlmReview::to_wire)
    else {
        return Payload::Error(DecisionError {
            code: "invalid_request".to_owned(),
            message: "llm_review block is missing".to_owned(),
            retryable: false,
        });
    };
    let policy = &input.llm;
    let options = StepBudget::llm(policy.timeout_seconds, policy.max_attempts).options(format!(
        "llm-review: {} messages",
        llm_review.messages.len()
    ));
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
            let code = match step_failure(&e) {
                StepFailure::Timeout => "timeout",
                StepFailure::NotConfigured => "not_configured",
                StepFailure::InvalidInput | StepFailure::FailedAfterRetries => "upstream_error",
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
    call: &SkillCall,
    request: &ValidatedRequest,
    total: u32,
) -> SkillOutput
where
    AD: ActivityDefinition<Input = SkillCall, Output = SkillOutput>,
{
    let name = activity.name().to_owned();
    let result = ctx
        .execute_activity(
            activity,
            call.clone(),
            StepBudget::SKILL.options(format!("{name}: gather context")),
        )
        .await;
    let (output, status) = match result {
        Ok(out) => (out, "completed"),
        Err(e) => (
            missing_output(
                &name,
                request.symbol.as_str(),
                &request
                    .trigger
                    .event_ts
                    .to_rfc3339_opts(SecondsFormat::Secs, true),
                step_failure(&e).as_str(),
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

/// The message of the innermost failure, which is the activity's own words.
fn failure_message(e: &ActivityExecutionError) -> String {
    e.reason().map_or_else(|| e.to_string(), |r| r.to_string())
}

fn step_failed(step: &str, e: &ActivityExecutionError) -> Payload {
    Payload::Error(DecisionError {
        code: if step_failure(e) == StepFailure::Timeout {
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
        let mut request: torghut_proto::v1::DecisionRequest = serde_json::from_str(include_str!(
            "../../proto/tests/fixtures/sample_request.json"
        ))
        .expect("fixture");
        request.request_id = request_id.to_owned();
        DecisionInput {
            request: model::validate(&request).expect("valid fixture"),
            policy: PolicyConfig::default(),
            llm: LlmCallPolicy::default(),
            traceparent: traceparent.map(str::to_owned),
        }
    }

    #[test]
    fn a_run_is_traced_under_its_starters_trace_else_one_derived_from_its_workflow_id() {
        const UPPER: &str = "8A1C2F5E-0D4B-4C1E-9F6A-2B3C4D5E6F70";
        const OTHER: &str = "8a1c2f5e-0d4b-4c1e-9f6a-2b3c4d5e6f71";
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(run_trace(&input(UPPER, Some(header))).to_string(), header);
        let derived = run_trace(&input(UPPER, None));
        assert_eq!(
            derived,
            TraceParent::derived("decision-8a1c2f5e-0d4b-4c1e-9f6a-2b3c4d5e6f70")
        );
        // The workflow id ignores case, so the trace does too: one run, one trace.
        assert_eq!(
            run_trace(&input(&UPPER.to_ascii_lowercase(), None)),
            derived
        );
        // A malformed header is not the caller's trace; the run still has one.
        assert_eq!(run_trace(&input(UPPER, Some("00-nonsense"))), derived);
        assert_ne!(run_trace(&input(OTHER, None)).trace_id, derived.trace_id);
    }

    #[test]
    fn an_input_recorded_before_tracing_reads_and_writes_as_before() {
        let old = serde_json::json!({"request": serde_json::from_str::<serde_json::Value>(
            include_str!("../../proto/tests/fixtures/sample_request.json")
        ).expect("fixture")});
        let parsed: DecisionInput = serde_json::from_value(old.clone()).expect("old input");
        assert_eq!(parsed.traceparent, None);
        let again = serde_json::to_value(&parsed).expect("json");
        assert!(again.get("traceparent").is_none(), "{again}");
    }
}
