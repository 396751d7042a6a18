//! Deciding a trigger offline, with the code the engine runs.
//!
//! The decision workflow runs four context skills (activities), the policy's analysis (in the
//! workflow), `risk-exposure-sizing` and `execution-routing` (activities), and assembles the
//! intent. Offline, the same functions run in the same order, minus Temporal: the skills through
//! [`Providers::run_skill`], sizing through [`risk::size_request`] (without the exposure ledger:
//! every evaluated decision is its own account), routing through
//! [`routing::execution_routing`], the intent through [`intent::assemble`]. A skill that fails
//! becomes the same explicit `missing` domain the workflow records.
//! `decisionctl evaluate --through-engine` checks the claim on the real stack.

use crate::EvalError;
use chrono::{DateTime, SecondsFormat, Utc};
use torghut_activities::context::Providers;
use torghut_activities::skill::SkillError;
use torghut_activities::steps::execution_routing::{ConfiguredHealth, execution_routing};
use torghut_activities::steps::risk_exposure_sizing::size_request;
use torghut_policy::analysis::{self, Analysis, PolicyConfig};
use torghut_policy::intent;
use torghut_policy::quote::Quote;
use torghut_policy::routing::{AdapterHealth, AdapterPolicy};
use torghut_policy::skills::{Domain, missing_output};
use torghut_proto::model::{self, ValidatedRequest};
use torghut_proto::v1::{DecisionIntent, DecisionRequest, SkillOutput};
use torghut_workflows::activity_io::{RoutingRequest, SizingRequest};

/// The worker's routing configuration, as the evaluated engine would run with it.
#[derive(Debug, Clone, Copy)]
pub struct RoutingSetup {
    pub policy: AdapterPolicy,
    pub health: AdapterHealth,
}

impl Default for RoutingSetup {
    /// The worker's defaults: LEAN for paper only, both adapters healthy.
    fn default() -> Self {
        Self {
            policy: AdapterPolicy::LeanPaperOnly,
            health: AdapterHealth {
                alpaca_healthy: true,
                lean_healthy: true,
            },
        }
    }
}

/// The four context domains of a request as of its trigger, in the workflow's order.
pub fn gather(providers: &Providers, req: &ValidatedRequest) -> Vec<SkillOutput> {
    let as_of = req.trigger.event_ts;
    Domain::ALL
        .into_iter()
        .map(|domain| {
            providers
                .run_skill(
                    domain.as_str(),
                    req.symbol.as_str(),
                    as_of,
                    &req.trigger.features,
                )
                .unwrap_or_else(|e| {
                    // The workflow's reasons: bad input is not retried, anything else is retried
                    // and then recorded as failed after its retries.
                    let reason = match e {
                        SkillError::InvalidInput(_) => "invalid_input",
                        SkillError::Unavailable(_) => "failed_after_retries",
                    };
                    missing_output(
                        domain.as_str(),
                        req.symbol.as_str(),
                        &rfc3339(as_of),
                        reason,
                    )
                })
        })
        .collect()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The context with one domain taken away, as if its skill had failed: for the ablation runs.
pub fn without(outputs: &[SkillOutput], domain: Domain) -> Vec<SkillOutput> {
    outputs
        .iter()
        .map(|o| {
            if o.domain == domain.as_str() {
                missing_output(&o.domain, &o.symbol, &o.as_of_utc, "ablated")
            } else {
                o.clone()
            }
        })
        .collect()
}

/// The analysis and the intent the engine would produce for `request` over `outputs`.
pub fn decide(
    request: &DecisionRequest,
    outputs: &[SkillOutput],
    policy: &PolicyConfig,
    routing: RoutingSetup,
) -> Result<(Analysis, DecisionIntent), EvalError> {
    let req = model::validate(request).map_err(|e| EvalError::Request(e.to_string()))?;
    let analysis = analysis::analyse(outputs, req.risk_policy.kill_switch_enabled, policy);
    let quote = Quote::of_outputs(outputs);
    let workflow_id = torghut_workflows::ids::decision(&req.request_id);
    let (sizing, _) = size_request(
        &SizingRequest::for_decision(&req, &analysis, &quote, &workflow_id, None),
        None,
    );
    let routed = execution_routing(
        &RoutingRequest::for_decision(&req, &sizing, &quote, None),
        routing.policy,
        &ConfiguredHealth(routing.health),
    );
    let intent = intent::assemble(&workflow_id, &req, outputs, &analysis, sizing, routed);
    Ok((analysis, intent))
}
