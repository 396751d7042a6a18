//! The exposure ledger: one entity workflow per account, changed only through Updates.
//!
//! Why a Temporal entity workflow rather than a database: Updates to one workflow are applied one
//! at a time, in order, and durably, which is exactly the serialisation concurrent reservations
//! need, with no extra store to run, back up or fail over; its state is readable by query and in
//! the Temporal UI. The cost is history growth, bounded by continue-as-new.
//!
//! The state and its rules are pure and live in [`torghut_policy::ledger`]; this is the shell.

use rust_decimal::Decimal;
use std::time::UNIX_EPOCH;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};
use torghut_policy::ledger::{
    LedgerState, ReleaseRequest, ReleaseResult, ReserveRequest, ReserveResult,
};

pub const LEDGER_WORKFLOW_TYPE: &str = "exposure-ledger";
/// Updates applied before the ledger continues as new, to keep its history bounded.
pub const UPDATES_PER_RUN: u32 = 500;

fn now_ms<W>(ctx: &SyncWorkflowContext<W>) -> i64 {
    ctx.workflow_time()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[workflow]
pub struct ExposureLedger {
    state: LedgerState,
    updates: u32,
}

#[workflow_methods]
impl ExposureLedger {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, state: LedgerState) -> Self {
        Self { state, updates: 0 }
    }

    #[run(name = "exposure-ledger")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let suggested = ctx.clone();
        ctx.wait_condition(move |s: &Self| {
            s.updates >= UPDATES_PER_RUN || suggested.continue_as_new_suggested()
        })
        .await?;
        let handlers = ctx.clone();
        ctx.wait_condition(move |_| handlers.all_handlers_finished())
            .await?;
        let state = ctx.state(|s| s.state.clone());
        ctx.continue_as_new(state, ContinueAsNewOptions::default())?;
        Ok(())
    }

    #[update_validator(reserve)]
    fn validate_reserve(
        &self,
        _ctx: &WorkflowContextView,
        req: &ReserveRequest,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if req.reservation_id.is_empty() {
            return Err("reservation_id: must not be empty".into());
        }
        if req.requested < Decimal::ZERO || req.budget < Decimal::ZERO {
            return Err("requested and budget: must be non-negative".into());
        }
        Ok(())
    }

    #[update]
    pub fn reserve(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        req: ReserveRequest,
    ) -> ReserveResult {
        self.updates += 1;
        self.state.reserve(&req, now_ms(ctx))
    }

    #[update]
    pub fn release(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        req: ReleaseRequest,
    ) -> ReleaseResult {
        self.updates += 1;
        self.state.release(&req, now_ms(ctx))
    }

    #[query]
    pub fn snapshot(&self, _ctx: &WorkflowContextView) -> LedgerState {
        self.state.clone()
    }
}
