//! `intraday-loop`: reads new trigger signals for a watchlist and starts one decision per
//! signal, started each session by a Temporal Schedule (see `decisionctl loop schedule`).
//!
//! Each tick reads the signals after the watermark up to the as-of clock (the workflow's clock,
//! or in a replay a simulated clock that advances by the cadence without waiting), and starts a
//! `decision-workflow` child per signal with the request id derived from its dedupe key, at most
//! `max_concurrent` at a time. Children are abandoned on close, so a decision in flight always
//! finishes; the kill switch (an Update) stops new decisions and lets in-flight ones finish. The
//! history stays bounded by continuing as new every [`TICKS_PER_RUN`] ticks, carrying the
//! watermark and the running summary.

use crate::activity_io::{DecisionActivities, ReadTriggersInput};
use crate::activity_options::StepBudget;
use crate::decision::{DecisionInput, DecisionWorkflow, LlmCallPolicy};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ChildWorkflowOptions, ContinueAsNewOptions, ParentClosePolicy, SyncWorkflowContext,
    WorkflowContext, WorkflowContextView, WorkflowResult,
};
use torghut_policy::analysis::PolicyConfig;
use torghut_policy::triggers::{SessionWindow, TriggerSignal, build_request, is_trading_day};
use torghut_proto::event::Ending;
use torghut_proto::model;
use torghut_proto::v1::DecisionRequest;

pub const WORKFLOW_TYPE: &str = "intraday-loop";
/// Ticks per run before continuing as new; a tick is a handful of events plus its decisions.
pub const TICKS_PER_RUN: u32 = 60;

fn default_cadence() -> u32 {
    60
}
fn default_true() -> bool {
    true
}
fn default_max_concurrent() -> u32 {
    4
}

/// Replays a past session: the as-of clock starts at `start` and advances by the cadence per
/// tick, without waiting, until it passes `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayClock {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoopConfig {
    pub strategy_id: String,
    pub watchlist: Vec<String>,
    /// Portfolio, risk policy, execution context and account of every decision; request id,
    /// symbol and trigger are filled in per signal.
    pub template: DecisionRequest,
    #[serde(default = "default_cadence")]
    pub cadence_seconds: u32,
    #[serde(default)]
    pub window: SessionWindow,
    /// Skip weekends and NYSE holidays.
    #[serde(default = "default_true")]
    pub trading_days_only: bool,
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
    #[serde(default)]
    pub kill_switch: bool,
    #[serde(default)]
    pub replay: Option<ReplayClock>,
    #[serde(default)]
    pub policy: PolicyConfig,
}

impl LoopConfig {
    /// Every problem, named by its field, before anything starts.
    pub fn validate(&self) -> Result<(), String> {
        if self.strategy_id.trim().is_empty() {
            return Err("strategy_id: must not be empty".into());
        }
        if self.watchlist.is_empty() {
            return Err("watchlist: must name at least one symbol".into());
        }
        if let Some(bad) = self
            .watchlist
            .iter()
            .find(|s| torghut_proto::model::Symbol::parse(s).is_none())
        {
            return Err(format!("watchlist: {bad:?} is not an upper-case ticker"));
        }
        if !(1..=3600).contains(&self.cadence_seconds) {
            return Err(format!(
                "cadence_seconds: expected 1..=3600, got {}",
                self.cadence_seconds
            ));
        }
        if !(1..=64).contains(&self.max_concurrent) {
            return Err(format!(
                "max_concurrent: expected 1..=64, got {}",
                self.max_concurrent
            ));
        }
        self.window.validate()?;
        if let Some(r) = &self.replay {
            let (s, e) = (parse_ts(&r.start), parse_ts(&r.end));
            match (s, e) {
                (Some(s), Some(e)) if s <= e => {}
                _ => return Err(format!("replay: expected RFC 3339 start <= end, got {r:?}")),
            }
        }
        Ok(())
    }
}

/// What the loop did, carried across continue-as-new and returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopSummary {
    pub ticks: u32,
    pub triggers: u32,
    pub decisions_started: u32,
    /// Signals whose decision already existed (started by the triggers endpoint or a retry).
    pub joined_existing: u32,
    /// Signals not started because the kill switch was on.
    pub skipped_kill_switch: u32,
    /// `buy` / `sell` / `hold` / `veto` / `error` -> count.
    pub by_outcome: BTreeMap<String, u32>,
    /// Veto kind (`kill_switch`, `low_context_quality`, `critical_domain_missing`) or
    /// `error: <code>` -> count.
    pub veto_reasons: BTreeMap<String, u32>,
    pub read_failures: u32,
    pub watermark: Option<String>,
    /// Why the loop ended: `session_closed`, `replay_complete`, `kill_switch`,
    /// `not_a_trading_day`, `invalid_config: ...`.
    pub stopped: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoopCarry {
    pub summary: LoopSummary,
    /// The replay clock's position.
    pub cursor: Option<String>,
    pub kill_switch: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoopInput {
    pub config: LoopConfig,
    #[serde(default)]
    pub carry: LoopCarry,
}

#[workflow]
pub struct IntradayLoop {
    input: LoopInput,
    kill_switch: bool,
    summary: LoopSummary,
}

fn parse_ts(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[workflow_methods]
impl IntradayLoop {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: LoopInput) -> Self {
        let kill_switch = input.config.kill_switch || input.carry.kill_switch;
        let summary = input.carry.summary.clone();
        Self {
            input,
            kill_switch,
            summary,
        }
    }

    /// Operators flip the kill switch on a running loop; it holds across continue-as-new.
    #[update]
    pub fn set_kill_switch(&mut self, _ctx: &mut SyncWorkflowContext<Self>, on: bool) -> bool {
        self.kill_switch = on;
        on
    }

    #[query]
    pub fn summary(&self, _ctx: &WorkflowContextView) -> LoopSummary {
        self.summary.clone()
    }

    #[run(name = "intraday-loop")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<LoopSummary> {
        let input = ctx.state(|s| s.input.clone());
        let config = input.config.clone();
        if let Err(e) = config.validate() {
            return Ok(stop(ctx, &format!("invalid_config: {e}")));
        }
        let cadence = chrono::Duration::seconds(i64::from(config.cadence_seconds));
        let mut cursor = input
            .carry
            .cursor
            .as_deref()
            .and_then(parse_ts)
            .or_else(|| config.replay.as_ref().and_then(|r| parse_ts(&r.start)));
        let replay_end = config.replay.as_ref().and_then(|r| parse_ts(&r.end));
        let mut ticks_this_run = 0u32;
        loop {
            let now = match cursor {
                Some(c) => c,
                None => ctx
                    .workflow_time()
                    .map(DateTime::<Utc>::from)
                    .unwrap_or_default(),
            };
            if replay_end.is_some_and(|end| now > end) {
                return Ok(stop(ctx, "replay_complete"));
            }
            if ctx.state(|s| s.kill_switch) {
                return Ok(stop(ctx, "kill_switch"));
            }
            let day = SessionWindow::local_date(now);
            if config.trading_days_only && !is_trading_day(day) {
                return Ok(stop(ctx, "not_a_trading_day"));
            }
            if config.window.contains(now) {
                tick(ctx, &config, now).await;
            } else if cursor.is_none() && !before_window(&config.window, now) {
                return Ok(stop(ctx, "session_closed"));
            }
            ticks_this_run += 1;
            match cursor.as_mut() {
                Some(c) => *c += cadence,
                None => {
                    ctx.timer(Duration::from_secs(u64::from(config.cadence_seconds)))
                        .await;
                }
            }
            if ticks_this_run >= TICKS_PER_RUN || ctx.continue_as_new_suggested() {
                let carry = LoopCarry {
                    summary: ctx.state(|s| s.summary.clone()),
                    cursor: cursor.map(ts),
                    kill_switch: ctx.state(|s| s.kill_switch),
                };
                let handlers = ctx.clone();
                ctx.wait_condition(move |_| handlers.all_handlers_finished())
                    .await?;
                ctx.continue_as_new(
                    LoopInput {
                        config: config.clone(),
                        carry,
                    },
                    ContinueAsNewOptions::default(),
                )?;
            }
        }
    }
}

fn before_window(window: &SessionWindow, now: DateTime<Utc>) -> bool {
    let local = now.with_timezone(&chrono_tz::America::New_York).time();
    chrono::NaiveTime::parse_from_str(&window.start, "%H:%M").is_ok_and(|s| local < s)
}

fn stop(ctx: &WorkflowContext<IntradayLoop>, why: &str) -> LoopSummary {
    ctx.state_mut(|s| {
        s.summary.stopped = why.to_owned();
        s.summary.clone()
    })
}

/// One tick: read the new signals, then start their decisions in batches of `max_concurrent`,
/// waiting for each batch, so no more than that many of this loop's decisions run at once.
async fn tick(ctx: &WorkflowContext<IntradayLoop>, config: &LoopConfig, now: DateTime<Utc>) {
    // A loop's first tick looks back one cadence, not to the open: a loop (re)started mid-session
    // must not act on signals that are already stale.
    let since = ctx.state(|s| s.summary.watermark.clone()).or_else(|| {
        Some(ts(now
            - chrono::Duration::seconds(i64::from(
                config.cadence_seconds,
            ))))
    });
    let read = ctx
        .execute_activity(
            DecisionActivities::read_triggers,
            ReadTriggersInput {
                watchlist: config.watchlist.clone(),
                since,
                until: ts(now),
            },
            StepBudget::READ_TRIGGERS.options("read-triggers".to_owned()),
        )
        .await;
    let signals = match read {
        Ok(s) => s,
        Err(_) => {
            // The watermark stays, so the next tick reads these signals again.
            ctx.state_mut(|s| {
                s.summary.ticks += 1;
                s.summary.read_failures += 1;
            });
            return;
        }
    };
    ctx.state_mut(|s| {
        s.summary.ticks += 1;
        s.summary.triggers += signals.len() as u32;
    });
    for batch in signals.chunks(config.max_concurrent as usize) {
        if ctx.state(|s| s.kill_switch) {
            ctx.state_mut(|s| s.summary.skipped_kill_switch += batch.len() as u32);
            continue;
        }
        let results =
            futures::future::join_all(batch.iter().map(|signal| run_decision(ctx, config, signal)))
                .await;
        ctx.state_mut(|s| {
            for r in results {
                match r {
                    Started::Joined => s.summary.joined_existing += 1,
                    Started::Finished { outcome, veto } => {
                        s.summary.decisions_started += 1;
                        *s.summary.by_outcome.entry(outcome).or_default() += 1;
                        for reason in veto {
                            *s.summary.veto_reasons.entry(reason).or_default() += 1;
                        }
                    }
                }
            }
        });
    }
    ctx.state_mut(|s| s.summary.watermark = Some(ts(now)));
}

enum Started {
    Joined,
    Finished { outcome: String, veto: Vec<String> },
}

async fn run_decision(
    ctx: &WorkflowContext<IntradayLoop>,
    config: &LoopConfig,
    signal: &TriggerSignal,
) -> Started {
    // Validated here, once: the decision's input carries the typed request. A template that
    // makes an invalid request is a configuration error, counted like any failed decision.
    let request = match model::validate(&build_request(
        &config.template,
        &config.strategy_id,
        signal,
    )) {
        Ok(r) => r,
        Err(_) => {
            return Started::Finished {
                outcome: "error".into(),
                veto: vec!["error: invalid_request".into()],
            };
        }
    };
    let options = ChildWorkflowOptions::builder()
        .workflow_id(crate::ids::decision(&request.request_id))
        .parent_close_policy(ParentClosePolicy::Abandon)
        .build();
    let input = DecisionInput {
        request,
        policy: config.policy.clone(),
        llm: LlmCallPolicy::default(),
        // The loop has no caller's trace to pass on: the run derives its own (`run_trace`).
        traceparent: None,
    };
    let Ok(started) = ctx
        .start_child_workflow(DecisionWorkflow::run, input, options)
        .await
    else {
        // The only start failure for a fixed id is "already started": the same signal's
        // decision exists, from the triggers endpoint or an earlier tick.
        return Started::Joined;
    };
    let ending = match started.result().await {
        Ok(outcome) => Ending::of_log(&outcome.events),
        Err(_) => {
            return Started::Finished {
                outcome: "error".into(),
                veto: vec!["error: decision workflow failed".into()],
            };
        }
    };
    let veto = match &ending {
        Some(Ending::Veto { reasons }) => reasons.clone(),
        Some(Ending::Error { code }) => vec![format!("error: {code}")],
        _ => Vec::new(),
    };
    Started::Finished {
        outcome: ending.as_ref().map_or("error", Ending::label).to_owned(),
        veto,
    }
}
