//! `risk-exposure-sizing`: the policy's bounded size for this request.
//!
//! The arithmetic is the pure [`torghut_policy::sizing`]; this module maps the request onto
//! it and holds the result in the account's exposure ledger: size as if unconstrained by other
//! decisions, reserve that notional, and if the ledger grants less (others hold the rest), size
//! again within the grant and hand back what whole shares did not use.

use crate::skill::SkillError;
use rust_decimal::Decimal;
use std::str::FromStr;
use torghut_policy::ledger::{ReserveRequest, ReserveResult};
use torghut_policy::sizing;
use torghut_proto::model;
use torghut_workflows::activity_io::{SizingInput, SizingOutcome};

fn parse_opt(raw: Option<&str>) -> Option<Decimal> {
    raw.and_then(|r| Decimal::from_str(r).ok())
}

/// Sizing without the ledger: the request's own caps only.
pub fn size_request(
    input: &SizingInput,
    remaining_budget: Option<Decimal>,
) -> Result<(SizingOutcome, Decimal), SkillError> {
    let req =
        model::validate(&input.request).map_err(|e| SkillError::InvalidInput(e.to_string()))?;
    let sized = sizing::size_for_request(
        &req,
        &input.analysis,
        parse_opt(input.reference_price.as_deref()),
        parse_opt(input.realized_vol.as_deref()),
        remaining_budget,
    );
    Ok((
        SizingOutcome {
            action: sized.action,
            qty: sized.qty.normalize().to_string(),
            notional: sized.notional.normalize().to_string(),
            binding_cap: sized.binding_cap,
            risk_flags: sized.risk_flags,
            reserved_notional: "0".to_owned(),
        },
        sized.notional,
    ))
}

/// The account's budget for the ledger: its buying power as the request reports it.
pub fn account_budget(input: &SizingInput) -> Result<(String, Decimal), SkillError> {
    let req =
        model::validate(&input.request).map_err(|e| SkillError::InvalidInput(e.to_string()))?;
    Ok((req.account_id, req.portfolio.buying_power.get()))
}

/// Sizes and reserves. `reserve` is the ledger call, a parameter so the logic is testable alone.
pub async fn risk_exposure_sizing<F, Fut>(
    input: &SizingInput,
    ttl_seconds: u32,
    reserve: F,
) -> Result<SizingOutcome, SkillError>
where
    F: Fn(ReserveRequest) -> Fut,
    Fut: std::future::Future<Output = Result<ReserveResult, SkillError>>,
{
    let (first, notional) = size_request(input, None)?;
    if notional <= Decimal::ZERO {
        return Ok(first);
    }
    let (_, budget) = account_budget(input)?;
    let ask = |requested: Decimal| ReserveRequest {
        reservation_id: input.workflow_id.clone(),
        requested,
        budget,
        ttl_seconds,
    };
    let grant = reserve(ask(notional)).await?;
    let (mut outcome, used) = if grant.granted >= notional {
        (first, notional)
    } else {
        let (mut resized, used) = size_request(input, Some(grant.granted))?;
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
    outcome.reserved_notional = held.normalize().to_string();
    Ok(outcome)
}
