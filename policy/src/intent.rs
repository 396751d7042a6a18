//! Intent assembly: the `DecisionIntent` from the analysis and the sizing and routing steps'
//! results. The one place an intent's fields are put together, so the workflow and the offline
//! evaluator (`decisionctl evaluate`) produce the same intent from the same inputs.

use crate::analysis::Analysis;
use crate::sizing::Action;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use torghut_proto::model::ValidatedRequest;
use torghut_proto::v1::{AdapterHint, ArtifactRef, DecisionIntent, OrderConstraints, SkillOutput};

/// Version of the decision policy, recorded in every intent.
pub const POLICY_VERSION: &str = "policy-2026.11.1";

/// What `risk-exposure-sizing` answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SizingOutcome {
    pub action: Action,
    /// Shares, non-negative (the action says which way). Decimals cross Temporal as strings, so
    /// this reads what runs recorded before it was typed.
    pub qty: Decimal,
    pub notional: Decimal,
    /// Which cap bound the size, for the rationale.
    pub binding_cap: String,
    pub risk_flags: Vec<String>,
    /// Notional held in the account's exposure ledger for this decision (0 for hold; absent in
    /// runs recorded before the ledger).
    #[serde(default)]
    pub reserved_notional: Decimal,
}

/// What `execution-routing` answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RoutingOutcome {
    pub adapter_hint: AdapterHint,
    pub order_constraints: OrderConstraints,
    pub max_slippage_bps: Decimal,
    pub risk_flags: Vec<String>,
}

/// The intent of a decision that got through sizing and routing.
pub fn assemble(
    workflow_id: &str,
    request: &ValidatedRequest,
    outputs: &[SkillOutput],
    analysis: &Analysis,
    sizing: SizingOutcome,
    routing: RoutingOutcome,
) -> DecisionIntent {
    let mut risk_flags = analysis.risk_flags.clone();
    risk_flags.extend(sizing.risk_flags.iter().cloned());
    risk_flags.extend(routing.risk_flags.iter().cloned());
    risk_flags.sort();
    risk_flags.dedup();
    let mut rationale = format!(
        "direction {} (score {}, confidence {}, context quality {})",
        analysis.direction.as_str(),
        analysis.score.normalize(),
        analysis.confidence.normalize(),
        analysis.overall_quality.normalize()
    );
    if analysis.vetoed {
        rationale.push_str(&format!("; vetoed: {}", analysis.veto_text()));
    }
    if let Some(edge) = analysis.edge.as_ref().filter(|_| analysis.no_edge()) {
        rationale.push_str(&format!(
            "; no edge: expected net {} bps over {} min (P(pays) {}, calibration {})",
            edge.expectancy_bps.normalize(),
            edge.horizon_minutes,
            edge.p_win.normalize(),
            edge.calibration_version
        ));
    }
    rationale.push_str(&format!(
        "; size {} {} bound by {}",
        sizing.action.as_str(),
        sizing.qty.normalize(),
        sizing.binding_cap
    ));
    DecisionIntent {
        request_id: request.request_id.clone(),
        symbol: request.symbol.to_string(),
        action: sizing.action.as_str().to_owned(),
        qty: sizing.qty.normalize().to_string(),
        vetoed: analysis.vetoed,
        veto_reasons: analysis
            .veto_kinds()
            .into_iter()
            .map(|k| k.as_str().to_owned())
            .collect(),
        order_constraints: Some(routing.order_constraints),
        max_slippage_bps: routing.max_slippage_bps.normalize().to_string(),
        adapter_hint: Some(routing.adapter_hint),
        confidence: analysis.confidence.normalize().to_string(),
        uncertainty_notes: analysis.uncertainty_notes.clone(),
        risk_flags,
        artifact_refs: outputs
            .iter()
            .map(|o| ArtifactRef {
                domain: o.domain.clone(),
                uri: format!(
                    "temporal://{workflow_id}/{}/{}",
                    o.domain, o.context_version
                ),
            })
            .collect(),
        rationale,
        policy_version: POLICY_VERSION.to_owned(),
        reserved_notional: sizing.reserved_notional.normalize().to_string(),
    }
}
