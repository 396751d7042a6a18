//! `risk-exposure-sizing`: the policy's bounded size for this request.
//!
//! The arithmetic is the pure [`torghut_policy::sizing`]; this module maps the request onto
//! it and holds the result in the account's exposure ledger: size as if unconstrained by other
//! decisions, reserve that notional, and if the ledger grants less (others hold the rest), size
//! again within the grant and hand back what whole shares did not use.

use crate::skill::SkillError;
use rust_decimal::Decimal;
use torghut_policy::ledger::{ReserveRequest, ReserveResult};
use torghut_policy::sizing;
use torghut_workflows::activity_io::{SizingOutcome, SizingRequest};

/// Sizing without the ledger: the account's own caps only.
pub fn size_request(
    input: &SizingRequest,
    remaining_budget: Option<Decimal>,
) -> (SizingOutcome, Decimal) {
    let sized = sizing::size_for_account(
        &input.account,
        &input.analysis,
        &input.quote,
        remaining_budget,
    );
    (
        SizingOutcome {
            action: sized.action,
            qty: sized.qty.normalize(),
            notional: sized.notional.normalize(),
            binding_cap: sized.binding_cap,
            risk_flags: sized.risk_flags,
            reserved_notional: Decimal::ZERO,
        },
        sized.notional,
    )
}

/// Sizes and reserves. `reserve` is the ledger call, a parameter so the logic is testable alone.
pub async fn risk_exposure_sizing<F, Fut>(
    input: &SizingRequest,
    ttl_seconds: u32,
    reserve: F,
) -> Result<SizingOutcome, SkillError>
where
    F: Fn(ReserveRequest) -> Fut,
    Fut: std::future::Future<Output = Result<ReserveResult, SkillError>>,
{
    let (first, notional) = size_request(input, None);
    if notional <= Decimal::ZERO {
        return Ok(first);
    }
    // The ledger's budget: the account's buying power as the request reports it.
    let budget = input.account.portfolio.buying_power.get();
    let ask = |requested: Decimal| ReserveRequest {
        reservation_id: input.reservation_id.clone(),
        requested,
        budget,
        ttl_seconds,
    };
    let grant = reserve(ask(notional)).await?;
    let (mut outcome, used) = if grant.granted >= notional {
        (first, notional)
    } else {
        let (mut resized, used) = size_request(input, Some(grant.granted));
        resized.risk_flags.push(format!(
            "risk-exposure-sizing:budget_shared:{}_reserved_by_other_decisions",
            grant.reserved_by_others.normalize()
        ));
        (resized, used)
    };
    let held = if used < grant.granted {
        reserve(ask(used)).await?.granted
    } else {
        grant.granted
    };
    outcome.reserved_notional = held.normalize();
    Ok(outcome)
}
