//! `risk-exposure-sizing`: the policy's bounded size for this request.
//!
//! The arithmetic is the pure [`torghut_workflows::sizing`]; this module maps the request onto
//! it. Reservation against a durable per-account exposure ledger is not built yet (see
//! docs/decisions.md); until then `remaining_budget` is `None` and the intent reports
//! `reserved_notional: "0"`.

use crate::skill::SkillError;
use rust_decimal::Decimal;
use std::str::FromStr;
use torghut_proto::model;
use torghut_workflows::activity_io::{SizingInput, SizingOutcome};
use torghut_workflows::analysis::Direction;
use torghut_workflows::sizing::{self, SizingLimits, SizingSignal};

fn parse_opt(raw: Option<&str>) -> Option<Decimal> {
    raw.and_then(|r| Decimal::from_str(r).ok())
}

pub fn risk_exposure_sizing(input: &SizingInput) -> Result<SizingOutcome, SkillError> {
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
        remaining_budget: None,
        kill_switch: req.risk_policy.kill_switch_enabled,
        allow_fractional: false,
        allow_short: false,
    };
    let sized = sizing::size(&signal, &limits);
    flags.extend(sized.risk_flags);
    Ok(SizingOutcome {
        action: sized.action.as_str().to_owned(),
        qty: sized.qty.normalize().to_string(),
        notional: sized.notional.normalize().to_string(),
        binding_cap: sized.binding_cap,
        risk_flags: flags,
    })
}
