//! Starting and joining decision runs in Temporal.
//!
//! Idempotency is Temporal's: the workflow id derives from `request_id` only, the start uses
//! "use existing" on a running id and "reject duplicate" on a closed one, so a duplicate always
//! lands on the one run. What Temporal cannot tell is whether the duplicate is the *same*
//! request: the start memo carries the request fingerprint (compared on every join) and a
//! per-HTTP-request start token (so we know whether this call created the run).

use crate::error::ApiError;
use crate::metrics::{GatewayMetrics, StartResult};
use std::sync::Arc;
use std::time::Duration;
use temporalio_client::errors::WorkflowInteractionError;
use temporalio_client::{
    Client, WorkflowDescribeOptions, WorkflowExecutionDescription, WorkflowExecutionStatus,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
    errors::WorkflowStartError,
};
use temporalio_common::MemoValues;
use torghut_policy::analysis::PolicyConfig;
use torghut_proto::ValidatedRequest;
use torghut_proto::fingerprint::fingerprint;
use torghut_proto::trace::TraceParent;
use torghut_proto::v1::DecisionRequest;
use torghut_workflows::decision::{DecisionInput, LlmCallPolicy};
use torghut_workflows::{DecisionWorkflow, ids};

const MEMO_FINGERPRINT: &str = "request_fingerprint";
const MEMO_START_TOKEN: &str = "start_token";
/// Whose run it is, for token scopes: runs started before scopes lack it (account `default`).
const MEMO_ACCOUNT: &str = "account_id";
const MEMO_STRATEGY: &str = "strategy_id";
/// Longest a read waits for Temporal to describe a run before answering 503: reads never hang.
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// A workflow task scheduled this long ago and not picked up means no worker polls the queue.
const NO_WORKER_AFTER: Duration = Duration::from_secs(5);
/// Slack beyond the in-workflow deadline before Temporal's execution timeout, the backstop.
const EXECUTION_TIMEOUT_SLACK: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct RunRef {
    pub workflow_id: String,
    pub temporal_run_id: String,
    pub request_id: String,
    /// True when this call joined a run that already existed.
    pub idempotent: bool,
}

#[derive(Clone)]
pub struct Runs {
    client: Client,
    task_queue: String,
    policy: PolicyConfig,
    llm: LlmCallPolicy,
    metrics: Arc<GatewayMetrics>,
}

impl Runs {
    pub fn new(
        client: Client,
        task_queue: String,
        policy: PolicyConfig,
        llm: LlmCallPolicy,
        metrics: Arc<GatewayMetrics>,
    ) -> Self {
        Self {
            client,
            task_queue,
            policy,
            llm,
            metrics,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `trace` is the starting request's trace: a run it creates is traced under it (events
    /// carry its trace id); a run it joins keeps the trace of the request that created it.
    pub async fn start_or_join(
        &self,
        wire: DecisionRequest,
        request: &ValidatedRequest,
        trace: TraceParent,
    ) -> Result<RunRef, ApiError> {
        let workflow_id = ids::decision(&request.request_id);
        let fp = fingerprint(&wire);
        let token = uuid::Uuid::new_v4().to_string();
        let mut memo = MemoValues::new();
        memo.insert(MEMO_FINGERPRINT, fp.clone());
        memo.insert(MEMO_START_TOKEN, token.clone());
        memo.insert("request_id", request.request_id.clone());
        memo.insert("trigger_type", request.trigger.kind.clone());
        memo.insert("symbol", request.symbol.to_string());
        memo.insert(MEMO_STRATEGY, request.strategy_id.clone());
        memo.insert(MEMO_ACCOUNT, request.account_id.clone());
        memo.insert("deadline_seconds", request.deadline_seconds);
        let options = WorkflowStartOptions::new(self.task_queue.clone(), workflow_id.clone())
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .execution_timeout(
                Duration::from_secs(u64::from(request.deadline_seconds)) + EXECUTION_TIMEOUT_SLACK,
            )
            .memo(memo)
            .static_summary(format!(
                "{} {} ({})",
                request.symbol, request.strategy_id, request.trigger.kind
            ))
            .build();
        let input = DecisionInput {
            request: request.clone(),
            policy: self.policy.clone(),
            llm: self.llm.clone(),
            traceparent: Some(trace.to_string()),
        };
        match self
            .client
            .start_workflow(DecisionWorkflow::run, input, options)
            .await
        {
            Ok(_) | Err(WorkflowStartError::AlreadyStarted { .. }) => {}
            Err(e) => return Err(ApiError::Unavailable(e.to_string())),
        }

        let handle = self
            .client
            .get_workflow_handle::<DecisionWorkflow>(workflow_id.clone());
        let description = handle
            .describe(WorkflowDescribeOptions::default())
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let memo = description.memo();
        let existing: Option<String> = memo.get(MEMO_FINGERPRINT).ok().flatten();
        if existing.as_deref() != Some(fp.as_str()) {
            self.metrics.start(StartResult::Conflict);
            return Err(ApiError::Conflict {
                request_id: request.request_id.clone(),
                run_id: workflow_id,
            });
        }
        let starter: Option<String> = memo.get(MEMO_START_TOKEN).ok().flatten();
        let idempotent = starter.as_deref() != Some(token.as_str());
        self.metrics.start(if idempotent {
            StartResult::Joined
        } else {
            StartResult::Started
        });
        Ok(RunRef {
            temporal_run_id: description.run_id().to_owned(),
            workflow_id,
            request_id: request.request_id.clone(),
            idempotent,
        })
    }

    /// Describes a run, waiting at most [`DESCRIBE_TIMEOUT`]: 404 when it does not exist,
    /// 503 when Temporal does not answer. Served by the Temporal server alone, so it answers
    /// whether or not a worker is up.
    pub async fn describe(
        &self,
        workflow_id: &str,
    ) -> Result<WorkflowExecutionDescription, ApiError> {
        let handle = self
            .client
            .get_workflow_handle::<DecisionWorkflow>(workflow_id.to_owned());
        match tokio::time::timeout(
            DESCRIBE_TIMEOUT,
            handle.describe(WorkflowDescribeOptions::default()),
        )
        .await
        {
            Ok(Ok(d)) => Ok(d),
            Ok(Err(WorkflowInteractionError::NotFound(_))) => {
                Err(ApiError::NotFound(workflow_id.to_owned()))
            }
            Ok(Err(e)) => Err(ApiError::Unavailable(e.to_string())),
            Err(_) => Err(ApiError::Unavailable(format!(
                "no answer to a describe of {workflow_id} within {} s",
                DESCRIBE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Whether Temporal answers at all: a describe of an id that never exists must come back
    /// as "not found" from the server.
    pub async fn ping(&self) -> Result<(), ApiError> {
        let handle = self
            .client
            .get_workflow_handle::<DecisionWorkflow>("torghut-readiness-probe");
        match handle.describe(WorkflowDescribeOptions::default()).await {
            Ok(_) | Err(temporalio_client::errors::WorkflowInteractionError::NotFound(_)) => Ok(()),
            Err(e) => Err(ApiError::Unavailable(e.to_string())),
        }
    }
}

/// The account and strategy a run belongs to, from its start memo.
pub fn scope_of(description: &WorkflowExecutionDescription) -> (String, String) {
    let memo = description.memo();
    let get = |key: &str| memo.get::<String>(key).ok().flatten();
    (
        get(MEMO_ACCOUNT).unwrap_or_else(|| "default".to_owned()),
        get(MEMO_STRATEGY).unwrap_or_default(),
    )
}

/// A running run whose workflow task has waited [`NO_WORKER_AFTER`] without a worker taking
/// it: no worker polls the task queue, and the run makes no progress until one does.
pub fn waiting_for_worker(description: &WorkflowExecutionDescription) -> bool {
    if description.status() != WorkflowExecutionStatus::Running {
        return false;
    }
    let Some(task) = description.raw_description.pending_workflow_task.as_ref() else {
        return false;
    };
    let scheduled_not_started = task.state
        == temporalio_common::protos::temporal::api::enums::v1::PendingWorkflowTaskState::Scheduled
            as i32;
    let since = task
        .original_scheduled_time
        .as_ref()
        .or(task.scheduled_time.as_ref())
        .map(|t| t.seconds);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    scheduled_not_started
        && since.is_some_and(|s| now.saturating_sub(s) >= NO_WORKER_AFTER.as_secs() as i64)
}

/// Temporal's status as the API names it.
pub fn status_name(status: WorkflowExecutionStatus) -> &'static str {
    match status {
        WorkflowExecutionStatus::Running => "running",
        WorkflowExecutionStatus::Completed => "completed",
        WorkflowExecutionStatus::Failed => "failed",
        WorkflowExecutionStatus::Canceled => "cancelled",
        WorkflowExecutionStatus::Terminated => "terminated",
        WorkflowExecutionStatus::TimedOut => "timed_out",
        _ => "unknown",
    }
}
