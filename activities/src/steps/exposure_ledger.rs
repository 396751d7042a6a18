//! Talking to the exposure ledger (`torghut_workflows::ledger`, over `torghut_policy::ledger`'s state) from activities.
//!
//! Reservations use update-with-start, so the first decision of an account creates its ledger
//! and every later one joins it; the update id derives from the reservation id, so an activity
//! retried after a worker crash is deduplicated by Temporal as well as by the ledger.

use crate::skill::SkillError;
use temporalio_client::errors::WorkflowUpdateError;
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy, WorkflowUpdateWithStartOptions,
};
use torghut_policy::ledger::{
    LedgerState, ReleaseRequest, ReleaseResult, ReserveRequest, ReserveResult,
};
use torghut_workflows::ExposureLedger;
use torghut_workflows::ids;

pub async fn reserve(
    client: &Client,
    task_queue: &str,
    account_id: &str,
    req: ReserveRequest,
) -> Result<ReserveResult, SkillError> {
    let update_id = format!(
        "reserve-{}-{}",
        req.reservation_id,
        req.requested.normalize()
    );
    let options = WorkflowUpdateWithStartOptions::new(
        task_queue.to_owned(),
        ids::ledger(account_id),
        WorkflowIdConflictPolicy::UseExisting,
    )
    .update_id(update_id)
    .static_summary(format!("exposure ledger of account {account_id}"))
    .build();
    client
        .execute_update_with_start_workflow(
            ExposureLedger::run,
            LedgerState {
                account_id: account_id.to_owned(),
                ..LedgerState::default()
            },
            ExposureLedger::reserve,
            req,
            options,
        )
        .await
        .map_err(|e| SkillError::Unavailable(format!("exposure ledger of {account_id}: {e}")))
}

/// Releases a reservation; a ledger that does not exist holds nothing, which is success.
pub async fn release(
    client: &Client,
    account_id: &str,
    reservation_id: &str,
) -> Result<ReleaseResult, SkillError> {
    let handle = client.get_workflow_handle::<ExposureLedger>(ids::ledger(account_id));
    let result = handle
        .execute_update(
            ExposureLedger::release,
            ReleaseRequest {
                reservation_id: reservation_id.to_owned(),
            },
            WorkflowExecuteUpdateOptions::builder()
                .update_id(format!("release-{reservation_id}"))
                .build(),
        )
        .await;
    match result {
        Ok(r) => Ok(r),
        Err(WorkflowUpdateError::NotFound(_)) => Ok(ReleaseResult {
            released: rust_decimal::Decimal::ZERO,
            existed: false,
        }),
        Err(e) => Err(SkillError::Unavailable(format!(
            "exposure ledger of {account_id}: {e}"
        ))),
    }
}
