//! `execution-routing`: the adapter hint and order constraints, from the execution policy and
//! the adapters' health.

use crate::skill::SkillError;
use rust_decimal::Decimal;
use std::str::FromStr;
use torghut_policy::routing::{self, AdapterHealth, AdapterPolicy};
use torghut_policy::sizing::Action;
use torghut_proto::model;
use torghut_workflows::activity_io::{RoutingInput, RoutingOutcome};

/// Tells whether each execution adapter can take orders now.
pub trait AdapterHealthProbe: Send + Sync {
    fn probe(&self) -> AdapterHealth;
}

/// Health as configured (e.g. `TORGHUT_LEAN_HEALTHY=false` during a LEAN outage): the embedded
/// default, and what operators use until an HTTP probe of the adapters is wired in.
pub struct ConfiguredHealth(pub AdapterHealth);

impl AdapterHealthProbe for ConfiguredHealth {
    fn probe(&self) -> AdapterHealth {
        self.0
    }
}

fn parse_opt(raw: Option<&str>) -> Option<Decimal> {
    raw.and_then(|r| Decimal::from_str(r).ok())
}

pub fn execution_routing(
    input: &RoutingInput,
    policy: AdapterPolicy,
    probe: &dyn AdapterHealthProbe,
) -> Result<RoutingOutcome, SkillError> {
    let req =
        model::validate(&input.request).map_err(|e| SkillError::InvalidInput(e.to_string()))?;
    let action = match input.action.as_str() {
        "buy" => Action::Buy,
        "sell" => Action::Sell,
        "hold" => Action::Hold,
        other => {
            return Err(SkillError::InvalidInput(format!(
                "action: unknown value {other:?}"
            )));
        }
    };
    let health = probe.probe();
    let hint = routing::choose_adapter(
        req.execution.primary_adapter,
        req.execution.lean_enabled,
        req.execution.mode,
        policy,
        health,
    );
    let slippage = routing::max_slippage_bps(
        parse_opt(input.spread_bps.as_deref()),
        parse_opt(input.realized_vol.as_deref()),
    );
    let constraints = routing::order_constraints(
        action,
        parse_opt(input.reference_price.as_deref()),
        parse_opt(input.bid.as_deref()),
        parse_opt(input.ask.as_deref()),
        slippage,
    );
    let mut flags = Vec::new();
    if !health.alpaca_healthy {
        flags.push("execution-routing:alpaca_unhealthy".to_owned());
    }
    if input.spread_bps.is_none() && action != Action::Hold {
        flags.push("execution-routing:no_quote_default_slippage".to_owned());
    }
    Ok(RoutingOutcome {
        adapter_hint: hint,
        order_constraints: constraints,
        max_slippage_bps: slippage.normalize().to_string(),
        risk_flags: flags,
    })
}
