//! The Temporal floor: what the same orchestration costs when every step does nothing.
//!
//! `floor-workflow` repeats `decision-workflow`'s Temporal work command for command, with no-op
//! activities: search attributes upserted at start, a deadline timer raced against the steps,
//! four parallel activities, then a sizing activity that reserves in the real `exposure-ledger`
//! through the same update-with-start (`torghut_activities::steps::exposure_ledger::reserve`), then a routing
//! activity, the final search attribute, and an event log long-polled by an Update exactly as the
//! gateway's hub polls `poll_events`. The client does what the gateway does: start with a memo
//! and the same id policies, describe, then long-poll. What it leaves out is everything that is
//! ours: HTTP and SSE, request validation, the skills' work over the bars, the policy, and the
//! size of our payloads. So the engine's latency over this one is the cost of our code.
//!
//! It runs on its own task queue, polled by an SDK worker inside the benchmark process with the
//! same (default) worker options as `torghut-worker`.

use anyhow::{Context, Result};
use futures::FutureExt;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant, SystemTime};
use temporalio_client::{
    Client, WorkflowDescribeOptions, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
};
use temporalio_common::MemoValues;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, Runtime, WaitConditionOptions, Worker, WorkerOptions,
    WorkflowCancellationToken, WorkflowContext, WorkflowContextView, WorkflowResult,
};
use torghut_policy::ledger::ReserveRequest;
use torghut_workflows::ExposureLedger;
use torghut_workflows::decision::{MAX_POLL_WAIT, PollRequest, search};

use crate::measure::{Marks, Sample};

/// The floor's own task queue, so the engine's worker never sees its tasks.
pub const TASK_QUEUE: &str = "bench-floor";
/// What the gateway's hub asks `poll_events` to wait.
const POLL_WAIT_MS: u64 = 20_000;
/// The engine's default deadline, raced against the steps as `decision-workflow` does.
const DEADLINE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FloorInput {
    pub symbol: String,
    pub strategy_id: String,
    pub account_id: String,
    /// Whether sizing reserves in the ledger, as the engine's does for a buy or a sell.
    pub reserve: bool,
}

/// One entry of the floor's event log: the kind and the workflow time it was appended at, the
/// same two facts the benchmark reads from a decision's events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FloorEvent {
    pub sequence: u64,
    pub kind: String,
    /// Milliseconds since the Unix epoch, workflow time.
    pub at_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FloorPoll {
    pub events: Vec<FloorEvent>,
    pub finished: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FloorOutcome {
    pub events: Vec<FloorEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SizingInput {
    pub account_id: String,
    pub reservation_id: String,
    pub reserve: bool,
}

#[workflow]
pub struct FloorWorkflow {
    input: FloorInput,
    events: Vec<FloorEvent>,
    finished: bool,
}

#[workflow_methods]
impl FloorWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: FloorInput) -> Self {
        Self {
            input,
            events: Vec::new(),
            finished: false,
        }
    }

    #[run(name = "bench-floor-workflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<FloorOutcome> {
        let input = ctx.state(|s| s.input.clone());
        ctx.upsert_search_attributes([
            search::SYMBOL.value_set(input.symbol.clone()),
            search::STRATEGY_ID.value_set(input.strategy_id.clone()),
            search::TRADING_MODE.value_set("paper".to_owned()),
        ]);
        emit(ctx, "decision.accepted");
        let steps = steps(ctx.clone(), input).boxed_local().fuse();
        let timer = ctx.timer(DEADLINE).fuse();
        let cancelled = ctx.cancelled().fuse();
        futures::pin_mut!(steps, timer, cancelled);
        let terminal = futures::select_biased! {
            _ = cancelled => "decision.error",
            t = steps => t,
            _ = timer => "decision.error",
        };
        ctx.upsert_search_attributes([search::DECISION_ACTION.value_set("hold".to_owned())]);
        emit(ctx, terminal);
        ctx.state_mut(|s| s.finished = true);
        let handlers = ctx.clone();
        let mut wait = WaitConditionOptions::default();
        wait.cancellation_token = Some(WorkflowCancellationToken::new());
        ctx.wait_condition_with_options(move |_| handlers.all_handlers_finished(), wait)
            .await?;
        Ok(ctx.state(|s| FloorOutcome {
            events: s.events.clone(),
        }))
    }

    /// `poll_events`, event for event.
    #[update]
    pub async fn poll(ctx: &mut WorkflowContext<Self>, req: PollRequest) -> FloorPoll {
        let from = req.from;
        let wait = Duration::from_millis(req.wait_ms).min(MAX_POLL_WAIT);
        let ready = ctx.wait_condition(move |s: &Self| s.events.len() as u64 > from || s.finished);
        let timer = ctx.timer(wait);
        futures::pin_mut!(ready, timer);
        futures::future::select(ready, timer).await;
        ctx.state(|s| FloorPoll {
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

fn emit(ctx: &WorkflowContext<FloorWorkflow>, kind: &str) {
    let at_ms = ctx
        .workflow_time()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    ctx.state_mut(|s| {
        let sequence = s.events.len() as u64;
        s.events.push(FloorEvent {
            sequence,
            kind: kind.to_owned(),
            at_ms,
        });
    });
}

fn options(summary: &str) -> ActivityOptions {
    let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(15));
    options.summary = Some(summary.to_owned());
    options
}

async fn skill(ctx: &WorkflowContext<FloorWorkflow>, name: &str) {
    // A failed no-op is still a round trip; the log records it like any other.
    let _ = ctx
        .execute_activity(FloorActivities::skill, name.to_owned(), options(name))
        .await;
    emit(ctx, "decision.progress");
}

async fn steps(ctx: WorkflowContext<FloorWorkflow>, input: FloorInput) -> &'static str {
    futures::join!(
        skill(&ctx, "market-context"),
        skill(&ctx, "news-sentiment"),
        skill(&ctx, "fundamentals"),
        skill(&ctx, "technicals-regime"),
    );
    emit(&ctx, "decision.context_ready");
    emit(&ctx, "decision.analysis_complete");
    let sizing = ctx
        .execute_activity(
            FloorActivities::sizing,
            SizingInput {
                account_id: input.account_id,
                reservation_id: ctx.workflow_id().to_owned(),
                reserve: input.reserve,
            },
            options("risk-exposure-sizing"),
        )
        .await;
    if sizing.is_err() {
        return "decision.error";
    }
    match ctx
        .execute_activity(
            FloorActivities::routing,
            "execution-routing".to_owned(),
            options("execution-routing"),
        )
        .await
    {
        Ok(_) => "decision.final",
        Err(_) => "decision.error",
    }
}

pub struct FloorActivities;

#[activities]
impl FloorActivities {
    #[activity(name = "bench-floor-skill")]
    pub async fn skill(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(name)
    }

    /// The one step with Temporal work of its own: the ledger reservation, as the engine's
    /// `risk-exposure-sizing` makes it for a buy or a sell (a hold reserves nothing).
    #[activity(name = "bench-floor-sizing")]
    pub async fn sizing(ctx: ActivityContext, input: SizingInput) -> Result<(), ActivityError> {
        if !input.reserve {
            return Ok(());
        }
        let client = ctx.client();
        let task_queue = ctx.info().task_queue.clone();
        torghut_activities::steps::exposure_ledger::reserve(
            &client,
            &task_queue,
            &input.account_id,
            ReserveRequest {
                reservation_id: input.reservation_id,
                requested: Decimal::new(7000, 0),
                budget: Decimal::new(10_000_000, 0),
                ttl_seconds: 900,
            },
        )
        .await?;
        Ok(())
    }

    #[activity(name = "bench-floor-routing")]
    pub async fn routing(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(name)
    }
}

/// Runs the floor's worker on a thread of its own until the process exits. The SDK runs
/// workflows on a `LocalSet`, so the worker's future is not `Send` and cannot be spawned on the
/// benchmark's runtime; two runtime threads, like `torghut-worker`'s `#[tokio::main]` on this
/// machine's cores.
pub fn start_worker(client: Client) -> Result<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
    std::thread::Builder::new()
        .name("floor-worker".to_owned())
        .spawn(move || {
            let built = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("floor worker runtime");
            let tokio_rt = match built {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            tokio_rt.block_on(async move {
                let worker = (|| -> Result<Worker> {
                    let runtime = Runtime::from_current_tokio(Default::default())?;
                    let options = WorkerOptions::new(TASK_QUEUE)
                        .register_workflow::<FloorWorkflow>()?
                        .register_workflow::<ExposureLedger>()?
                        .register_activities(FloorActivities)
                        .build();
                    Ok(Worker::new(&runtime, client, options)?)
                })();
                match worker {
                    Ok(mut worker) => {
                        let _ = ready_tx.send(Ok(()));
                        if let Err(e) = worker.run().await {
                            eprintln!("floor worker stopped: {e}");
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })
        .context("spawning the floor worker thread")?;
    ready_rx
        .recv()
        .context("the floor worker thread ended before it started")?
}

/// One floor run, timed like a decision: from the start request to the poll answer that holds
/// the terminal event. `reserve`: whether its sizing step reserves in the ledger.
pub async fn run_once(
    client: &Client,
    symbol: &str,
    account_id: &str,
    reserve: bool,
) -> Result<Sample> {
    let workflow_id = format!("bench-floor-{}", uuid::Uuid::new_v4());
    let mut memo = MemoValues::new();
    memo.insert("request_fingerprint", "0".repeat(64));
    memo.insert("start_token", uuid::Uuid::new_v4().to_string());
    memo.insert("symbol", symbol.to_owned());
    let options = WorkflowStartOptions::new(TASK_QUEUE, workflow_id.clone())
        .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .execution_timeout(DEADLINE + Duration::from_secs(120))
        .memo(memo)
        .static_summary(format!("{symbol} bench-floor (signal_cross)"))
        .build();
    let input = FloorInput {
        symbol: symbol.to_owned(),
        strategy_id: "bench-floor".to_owned(),
        account_id: account_id.to_owned(),
        reserve,
    };
    let started = SystemTime::now();
    let t0 = Instant::now();
    client
        .start_workflow(FloorWorkflow::run, input, options)
        .await
        .context("starting a floor run")?;
    let handle = client.get_workflow_handle::<FloorWorkflow>(workflow_id);
    handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .context("describing a floor run")?;
    let mut events: Vec<FloorEvent> = Vec::new();
    let mut first_event = None;
    loop {
        let polled = handle
            .execute_update(
                FloorWorkflow::poll,
                PollRequest {
                    from: events.len() as u64,
                    wait_ms: POLL_WAIT_MS,
                },
                WorkflowExecuteUpdateOptions::default(),
            )
            .await
            .context("polling a floor run")?;
        if first_event.is_none() && !polled.events.is_empty() {
            first_event = Some(t0.elapsed());
        }
        for e in polled.events {
            if e.sequence == events.len() as u64 {
                events.push(e);
            }
        }
        if polled.finished {
            break;
        }
    }
    let latency = t0.elapsed();
    handle
        .get_result(WorkflowGetResultOptions::default())
        .await
        .context("reading a floor run's result")?;
    let at = |kind: &str| {
        events
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| SystemTime::UNIX_EPOCH + Duration::from_millis(e.at_ms))
    };
    let terminal = events.last().map(|e| e.kind.clone()).unwrap_or_default();
    Ok(Sample {
        index: 0,
        reserved: reserve,
        started,
        latency,
        first_event: first_event.unwrap_or(latency),
        result: Some(t0.elapsed()),
        marks: Marks {
            accepted: at("decision.accepted"),
            context_ready: at("decision.context_ready"),
            terminal: at(&terminal),
        },
        outcome: if terminal == "decision.final" {
            "no-op".to_owned()
        } else {
            "error".to_owned()
        },
    })
}
