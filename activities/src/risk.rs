//! `risk-exposure-sizing`: the policy's bounded size for this request.
//!
//! The arithmetic is the pure [`torghut_workflows::sizing`]; this module maps the request onto
//! it and holds the result in the account's exposure ledger: size as if unconstrained by other
//! decisions, reserve that notional, and if the ledger grants less (others hold the rest), size
//! again within the grant and hand back what whole shares did not use.

use crate::skill::SkillError;
use rust_decimal::Decimal;
use std::str::FromStr;
use torghut_proto::model;
use torghut_workflows::activity_io::{SizingInput, SizingOutcome};
use torghut_workflows::analysis::Direction;
use torghut_workflows::ledger::{ReserveRequest, ReserveResult};
use torghut_workflows::sizing::{self, SizingLimits, SizingSignal};

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
    let position_qty = req
        .portfolio
        .position
        .as_ref()
        .map(|p| p.qty)
        .unwrap_or_default();
    // Prefer the last trade; fall back to the position's own mark when bars are missing.
    let price = parse_opt(input.reference_price.as_deref()).or_else(|| {
        req.portfolio
            .position
            .as_ref()
            .filter(|p| !p.qty.is_zero())
            .map(|p| (p.market_value / p.qty).abs())
    });
    let mut flags = Vec::new();
    if input.reference_price.is_none() && price.is_some() {
        flags.push("sizing:price_from_position_mark".to_owned());
    }
    let analysis = &input.analysis;
    let signal = SizingSignal {
        direction: if analysis.vetoed {
            Direction::Flat
        } else {
            analysis.direction
        },
        strength: analysis.score.abs(),
        confidence: analysis.confidence,
        realized_vol: parse_opt(input.realized_vol.as_deref()),
        price: price.unwrap_or_default(),
    };
    let limits = SizingLimits {
        equity: req.portfolio.equity.get(),
        buying_power: req.portfolio.buying_power.get(),
        max_notional_per_trade: req.risk_policy.max_notional_per_trade.map(|m| m.get()),
        max_position_pct_equity: req.risk_policy.max_position_pct_equity.map(|f| f.get()),
        position_qty,
        remaining_budget,
        kill_switch: req.risk_policy.kill_switch_enabled,
        allow_fractional: req.execution.allow_fractional,
        allow_short: req.risk_policy.allow_short,
    };
    let sized = sizing::size(&signal, &limits);
    flags.extend(sized.risk_flags);
    Ok((
        SizingOutcome {
            action: sized.action.as_str().to_owned(),
            qty: sized.qty.normalize().to_string(),
            notional: sized.notional.normalize().to_string(),
            binding_cap: sized.binding_cap,
            risk_flags: flags,
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
