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
use temporalio_client::{
    Client, WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowIdConflictPolicy,
    WorkflowIdReusePolicy, WorkflowStartOptions, errors::WorkflowStartError,
};
use temporalio_common::MemoValues;
use torghut_policy::analysis::PolicyConfig;
use torghut_proto::ValidatedRequest;
use torghut_proto::fingerprint::fingerprint;
use torghut_proto::trace::TraceParent;
use torghut_proto::v1::DecisionRequest;
use torghut_workflows::decision::{DecisionInput, LlmCallPolicy};
use torghut_workflows::{DecisionWorkflow, workflow_id};

const MEMO_FINGERPRINT: &str = "request_fingerprint";
const MEMO_START_TOKEN: &str = "start_token";
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
        let workflow_id = workflow_id(&request.request_id);
        let fp = fingerprint(&wire);
        let token = uuid::Uuid::new_v4().to_string();
        let mut memo = MemoValues::new();
        memo.insert(MEMO_FINGERPRINT, fp.clone());
        memo.insert(MEMO_START_TOKEN, token.clone());
        memo.insert("request_id", request.request_id.clone());
        memo.insert("trigger_type", request.trigger.kind.clone());
        memo.insert("symbol", request.symbol.to_string());
        memo.insert("strategy_id", request.strategy_id.clone());
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
            request: wire,
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
