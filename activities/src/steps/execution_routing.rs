//! `execution-routing`: the adapter hint and order constraints, from the execution policy and
//! the adapters' health.

use torghut_policy::routing::{self, AdapterHealth, AdapterPolicy};
use torghut_policy::sizing::Action;
use torghut_workflows::activity_io::{RoutingOutcome, RoutingRequest};

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

/// The adapter hint and order constraints for `input`'s action on its quote.
pub fn execution_routing(
    input: &RoutingRequest,
    policy: AdapterPolicy,
    probe: &dyn AdapterHealthProbe,
) -> RoutingOutcome {
    let (action, quote, execution) = (input.action, &input.quote, &input.execution);
    let health = probe.probe();
    let hint = routing::choose_adapter(
        execution.primary_adapter,
        execution.lean_enabled,
        execution.mode,
        policy,
        health,
    );
    let slippage = routing::max_slippage_bps(quote.spread_bps, quote.realized_vol);
    let constraints =
        routing::order_constraints(action, quote.last_price, quote.bid, quote.ask, slippage);
    let mut flags = Vec::new();
    if !health.alpaca_healthy {
        flags.push("execution-routing:alpaca_unhealthy".to_owned());
    }
    if quote.spread_bps.is_none() && action != Action::Hold {
        flags.push("execution-routing:no_quote_default_slippage".to_owned());
    }
    RoutingOutcome {
        adapter_hint: hint,
        order_constraints: constraints,
        max_slippage_bps: slippage.normalize(),
        risk_flags: flags,
    }
}
