//! Inputs and outputs of the activities, and their declarations.
//!
//! The activities are *declared* here (`#[activity_definitions]`) and implemented in the
//! `torghut-activities` crate against these declarations, so the workflow never depends on the
//! crate that does I/O; the compiler checks both sides use the same types.

use serde::{Deserialize, Serialize};
use temporalio_macros::activity_definitions;
use temporalio_sdk::activities::ActivityError;
use torghut_policy::analysis::Analysis;
use torghut_policy::triggers::TriggerSignal;
use torghut_proto::v1::{DecisionRequest, LlmResponse, LlmReview, SkillOutput};

/// The sizing and routing steps' results are the policy's types: the intent is assembled from
/// them by `torghut_policy::intent::assemble`.
pub use torghut_policy::intent::{RoutingOutcome, SizingOutcome};

/// What every context skill gets: the request and the as-of instant of its data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkillInput {
    pub request: DecisionRequest,
    /// RFC 3339; the skill sees only data at or before it.
    pub as_of_utc: String,
    pub workflow_id: String,
    /// W3C `traceparent` of the run, so the activity's span joins the run's trace (absent in
    /// inputs recorded before runs were traced).
    #[serde(default)]
    pub traceparent: Option<String>,
}

/// The signals the intraday loop has not seen yet: after its watermark, up to its as-of clock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadTriggersInput {
    pub watchlist: Vec<String>,
    /// RFC 3339, exclusive; `None` on the first tick of a session.
    pub since: Option<String>,
    /// RFC 3339, inclusive: the loop's as-of clock.
    pub until: String,
}

/// One context domain at as-of, without a decision request: what the market-context API reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContextDomainInput {
    /// One of [`torghut_policy::skills::CONTEXT_SKILLS`].
    pub domain: String,
    pub symbol: String,
    /// RFC 3339; the skill sees only data at or before it.
    pub as_of_utc: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SizingInput {
    pub request: DecisionRequest,
    pub analysis: Analysis,
    /// Last trade price from technicals, decimal string.
    pub reference_price: Option<String>,
    /// Annualised realised volatility from technicals, decimal string.
    pub realized_vol: Option<String>,
    pub workflow_id: String,
    /// As [`SkillInput::traceparent`].
    #[serde(default)]
    pub traceparent: Option<String>,
}

impl SizingInput {
    /// The sizing step's input for a decision over `technicals` (the `technicals-regime` output,
    /// if any): what the workflow sends and what the offline evaluator sizes with.
    pub fn for_decision(
        request: &DecisionRequest,
        analysis: &Analysis,
        technicals: Option<&SkillOutput>,
        workflow_id: &str,
        traceparent: Option<String>,
    ) -> Self {
        let payload = |key: &str| technicals.and_then(|t| t.payload.get(key).cloned());
        Self {
            request: request.clone(),
            analysis: analysis.clone(),
            reference_price: payload("last_price"),
            realized_vol: payload("realized_vol_annual"),
            workflow_id: workflow_id.to_owned(),
            traceparent,
        }
    }
}

/// Input of the `release-exposure` compensation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseInput {
    pub account_id: String,
    pub reservation_id: String,
    /// As [`SkillInput::traceparent`].
    #[serde(default)]
    pub traceparent: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoutingInput {
    pub request: DecisionRequest,
    pub action: String,
    pub qty: String,
    pub reference_price: Option<String>,
    pub bid: Option<String>,
    pub ask: Option<String>,
    pub spread_bps: Option<String>,
    pub realized_vol: Option<String>,
    /// As [`SkillInput::traceparent`].
    #[serde(default)]
    pub traceparent: Option<String>,
}

impl RoutingInput {
    /// The routing step's input for `sizing`'s answer, quoted from `technicals`: what the
    /// workflow sends and what the offline evaluator routes with.
    pub fn for_decision(
        request: &DecisionRequest,
        sizing: &SizingOutcome,
        technicals: Option<&SkillOutput>,
        traceparent: Option<String>,
    ) -> Self {
        let payload = |key: &str| technicals.and_then(|t| t.payload.get(key).cloned());
        Self {
            request: request.clone(),
            action: sizing.action.as_str().to_owned(),
            qty: sizing.qty.clone(),
            reference_price: payload("last_price"),
            bid: payload("bid"),
            ask: payload("ask"),
            spread_bps: payload("spread_bps"),
            realized_vol: payload("realized_vol_annual"),
            traceparent,
        }
    }
}

/// Input of the `llm-review` activity: the caller's chat request, nothing else (the endpoint, key
/// and model override are the worker's configuration and never enter the history).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LlmReviewInput {
    pub llm_review: LlmReview,
    pub workflow_id: String,
    /// As [`SkillInput::traceparent`].
    #[serde(default)]
    pub traceparent: Option<String>,
}

/// Error type names the `llm-review` activity fails with; the workflow maps them to error codes.
pub const LLM_TIMEOUT: &str = "LlmTimeout";
pub const LLM_UPSTREAM: &str = "LlmUpstreamError";
pub const LLM_NOT_CONFIGURED: &str = "LlmNotConfigured";

/// The skill bundle as the workflow sees it. Names are the activity types in Temporal.
pub struct DecisionActivities;

#[activity_definitions]
impl DecisionActivities {
    #[activity(name = "market-context")]
    pub fn market_context(input: SkillInput) -> Result<SkillOutput, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "news-sentiment")]
    pub fn news_sentiment(input: SkillInput) -> Result<SkillOutput, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "fundamentals")]
    pub fn fundamentals(input: SkillInput) -> Result<SkillOutput, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "technicals-regime")]
    pub fn technicals_regime(input: SkillInput) -> Result<SkillOutput, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "risk-exposure-sizing")]
    pub fn risk_exposure_sizing(input: SizingInput) -> Result<SizingOutcome, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "release-exposure")]
    pub fn release_exposure(
        input: ReleaseInput,
    ) -> Result<torghut_policy::ledger::ReleaseResult, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "llm-review")]
    pub fn llm_review(input: LlmReviewInput) -> Result<LlmResponse, ActivityError> {
        unimplemented!()
    }

    /// New trigger signals of a watchlist in `(since, until]`, for the intraday loop.
    #[activity(name = "read-triggers")]
    pub fn read_triggers(input: ReadTriggersInput) -> Result<Vec<TriggerSignal>, ActivityError> {
        unimplemented!()
    }

    /// One context domain outside a decision, for `market-context-workflow`.
    #[activity(name = "context-domain")]
    pub fn context_domain(input: ContextDomainInput) -> Result<SkillOutput, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "execution-routing")]
    pub fn execution_routing(input: RoutingInput) -> Result<RoutingOutcome, ActivityError> {
        unimplemented!()
    }
}

/// The activity marker types, for `#[activity(definition = ...)]` in the implementing crate.
pub mod markers {
    pub use super::decision_activities::{
        ContextDomain, ExecutionRouting, Fundamentals, LlmReview, MarketContext, NewsSentiment,
        ReadTriggers, ReleaseExposure, RiskExposureSizing, TechnicalsRegime,
    };
}
