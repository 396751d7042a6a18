//! Inputs and outputs of the activities, and their declarations: every type that crosses
//! Temporal between the workflows and the activities.
//!
//! The activities are *declared* here (`#[activity_definitions]`) and implemented in the
//! `torghut-activities` crate against these declarations, so the workflow never depends on the
//! crate that does I/O; the compiler checks both sides use the same types.
//!
//! Each activity gets only what it reads, as typed values validated once (by the gateway, when
//! the request became a [`ValidatedRequest`]): a context skill a [`ContextQuery`], sizing the
//! analysis, the account's limits and the [`Quote`], routing the action, the quote and the
//! execution context. Runs started before this shape (patch [`TYPED_ACTIVITY_INPUTS`]) send the
//! [`legacy`] inputs, which each input enum still accepts as its `Recorded` variant.

pub mod legacy;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use temporalio_macros::activity_definitions;
use temporalio_sdk::activities::ActivityError;
use torghut_policy::analysis::Analysis;
use torghut_policy::quote::Quote;
use torghut_policy::sizing::{AccountLimits, Action};
use torghut_policy::triggers::TriggerSignal;
use torghut_proto::model::{ExecutionContext, FieldError, Symbol, ValidatedRequest};
use torghut_proto::v1::{LlmResponse, LlmReview, SkillOutput};

/// The sizing and routing steps' results are the policy's types: the intent is assembled from
/// them by `torghut_policy::intent::assemble`.
pub use torghut_policy::intent::{RoutingOutcome, SizingOutcome};

/// The patch that moved `decision-workflow` to typed activity inputs. A run whose history lacks
/// its marker started before it and keeps sending [`legacy`] inputs to the end.
pub const TYPED_ACTIVITY_INPUTS: &str = "typed-activity-inputs";

/// What a context skill reads: the symbol, the as-of instant of its data, and the trigger's
/// features (the trigger source's own measurements, e.g. the quoted spread).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextQuery {
    pub symbol: Symbol,
    /// The skill sees only data at or before it: the trigger's event time.
    pub as_of: DateTime<Utc>,
    #[serde(default)]
    pub features: BTreeMap<String, Decimal>,
    /// W3C `traceparent` of the run, so the activity's span joins the run's trace.
    #[serde(default)]
    pub traceparent: Option<String>,
}

impl ContextQuery {
    pub fn for_decision(request: &ValidatedRequest, traceparent: Option<String>) -> Self {
        Self {
            symbol: request.symbol.clone(),
            as_of: request.trigger.event_ts,
            features: request.trigger.features.clone(),
            traceparent,
        }
    }
}

/// A context skill's input: typed, or as a run started before the patch recorded it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum SkillCall {
    Query(ContextQuery),
    Recorded(Box<legacy::SkillInput>),
}

impl<'de> Deserialize<'de> for SkillCall {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match by_shape(d)? {
            Shape::Recorded(v) => SkillCall::Recorded(from_value(v)?),
            Shape::Typed(v) => SkillCall::Query(from_value(v)?),
        })
    }
}

impl SkillCall {
    /// The typed query; a recorded input's request is validated here, once.
    pub fn into_query(self) -> Result<ContextQuery, FieldError> {
        match self {
            SkillCall::Query(q) => Ok(q),
            SkillCall::Recorded(r) => (*r).into_query(),
        }
    }
}

/// Which shape an input has: a recorded (pre-patch) input carries the whole wire request under
/// `request`, a typed one never does. Chosen by that key, not by trying each shape in turn: the
/// wire request's lenient decimal readers need `serde_json`'s own deserializer, which an
/// untagged enum's buffering does not provide.
enum Shape {
    Recorded(serde_json::Value),
    Typed(serde_json::Value),
}

fn by_shape<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(if value.get("request").is_some() {
        Shape::Recorded(value)
    } else {
        Shape::Typed(value)
    })
}

fn from_value<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    value: serde_json::Value,
) -> Result<T, E> {
    serde_json::from_value(value).map_err(E::custom)
}

/// What `risk-exposure-sizing` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizingRequest {
    /// What is being sized (the fault plan of the chaos tests also scopes by it).
    pub symbol: Symbol,
    pub analysis: Analysis,
    pub account: AccountLimits,
    pub quote: Quote,
    /// The exposure ledger's reservation id: the decision's workflow id, so a retried attempt
    /// finds its own reservation.
    pub reservation_id: String,
    #[serde(default)]
    pub traceparent: Option<String>,
}

impl SizingRequest {
    /// The sizing step's input for a decision: what the workflow sends and what the offline
    /// evaluator sizes with.
    pub fn for_decision(
        request: &ValidatedRequest,
        analysis: &Analysis,
        quote: &Quote,
        workflow_id: &str,
        traceparent: Option<String>,
    ) -> Self {
        Self {
            symbol: request.symbol.clone(),
            analysis: analysis.clone(),
            account: AccountLimits::of(request),
            quote: *quote,
            reservation_id: workflow_id.to_owned(),
            traceparent,
        }
    }
}

// One value per decision, built and moved once: its size costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum SizingCall {
    Request(SizingRequest),
    Recorded(Box<legacy::SizingInput>),
}

impl<'de> Deserialize<'de> for SizingCall {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match by_shape(d)? {
            Shape::Recorded(v) => SizingCall::Recorded(from_value(v)?),
            Shape::Typed(v) => SizingCall::Request(from_value(v)?),
        })
    }
}

impl SizingCall {
    pub fn into_request(self) -> Result<SizingRequest, FieldError> {
        match self {
            SizingCall::Request(r) => Ok(r),
            SizingCall::Recorded(r) => (*r).into_request(),
        }
    }
}

/// What `execution-routing` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingRequest {
    pub action: Action,
    pub quote: Quote,
    pub execution: ExecutionContext,
    #[serde(default)]
    pub traceparent: Option<String>,
}

impl RoutingRequest {
    /// The routing step's input for `sizing`'s answer: what the workflow sends and what the
    /// offline evaluator routes with.
    pub fn for_decision(
        request: &ValidatedRequest,
        sizing: &SizingOutcome,
        quote: &Quote,
        traceparent: Option<String>,
    ) -> Self {
        Self {
            action: sizing.action,
            quote: *quote,
            execution: request.execution.clone(),
            traceparent,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RoutingCall {
    Request(RoutingRequest),
    Recorded(Box<legacy::RoutingInput>),
}

impl<'de> Deserialize<'de> for RoutingCall {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match by_shape(d)? {
            Shape::Recorded(v) => RoutingCall::Recorded(from_value(v)?),
            Shape::Typed(v) => RoutingCall::Request(from_value(v)?),
        })
    }
}

impl RoutingCall {
    pub fn into_request(self) -> Result<RoutingRequest, FieldError> {
        match self {
            RoutingCall::Request(r) => Ok(r),
            RoutingCall::Recorded(r) => (*r).into_request(),
        }
    }
}

/// Why an activity attempt failed, as the activities report it. It crosses Temporal as the
/// application failure's type name (the only place the failure carries a kind), so both sides
/// read and write it through this enum and no name is spelled twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The input can never succeed; not retried.
    InvalidInput,
    /// A data provider failed; retried.
    ProviderUnavailable,
    LlmTimeout,
    LlmUpstream,
    /// No LLM endpoint on the worker; not retried.
    LlmNotConfigured,
}

impl FailureKind {
    pub const ALL: [FailureKind; 5] = [
        FailureKind::InvalidInput,
        FailureKind::ProviderUnavailable,
        FailureKind::LlmTimeout,
        FailureKind::LlmUpstream,
        FailureKind::LlmNotConfigured,
    ];

    /// The application failure type name.
    pub const fn type_name(self) -> &'static str {
        match self {
            FailureKind::InvalidInput => "InvalidInput",
            FailureKind::ProviderUnavailable => "ProviderUnavailable",
            FailureKind::LlmTimeout => "LlmTimeout",
            FailureKind::LlmUpstream => "LlmUpstreamError",
            FailureKind::LlmNotConfigured => "LlmNotConfigured",
        }
    }

    pub fn from_type_name(name: &str) -> Option<FailureKind> {
        Self::ALL.into_iter().find(|k| k.type_name() == name)
    }
}

/// How a step ended without a result, as the workflow records it (a missing domain's reason, an
/// error event's code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepFailure {
    /// An attempt or the whole step ran out of time.
    Timeout,
    NotConfigured,
    InvalidInput,
    /// Anything else, once the retry policy gave up.
    FailedAfterRetries,
}

impl StepFailure {
    pub const fn as_str(self) -> &'static str {
        match self {
            StepFailure::Timeout => "timeout",
            StepFailure::NotConfigured => "not_configured",
            StepFailure::InvalidInput => "invalid_input",
            StepFailure::FailedAfterRetries => "failed_after_retries",
        }
    }

    /// What a step's last failure means: a timeout of Temporal's or of the activity's own, or
    /// the kind the activity reported.
    pub fn of(timed_out: bool, kind: Option<FailureKind>) -> StepFailure {
        match (timed_out, kind) {
            (true, _) | (_, Some(FailureKind::LlmTimeout)) => StepFailure::Timeout,
            (_, Some(FailureKind::LlmNotConfigured)) => StepFailure::NotConfigured,
            (_, Some(FailureKind::InvalidInput)) => StepFailure::InvalidInput,
            _ => StepFailure::FailedAfterRetries,
        }
    }
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

/// Input of the `release-exposure` compensation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseInput {
    pub account_id: String,
    pub reservation_id: String,
    /// As [`ContextQuery::traceparent`].
    #[serde(default)]
    pub traceparent: Option<String>,
}

/// Input of the `llm-review` activity: the caller's chat request, nothing else (the endpoint, key
/// and model override are the worker's configuration and never enter the history).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LlmReviewInput {
    pub llm_review: LlmReview,
    pub workflow_id: String,
    /// As [`ContextQuery::traceparent`].
    #[serde(default)]
    pub traceparent: Option<String>,
}

/// The skill bundle as the workflow sees it. Names are the activity types in Temporal.
pub struct DecisionActivities;

#[activity_definitions]
impl DecisionActivities {
    #[activity(name = "market-context")]
    pub fn market_context(input: SkillCall) -> Result<SkillOutput, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "news-sentiment")]
    pub fn news_sentiment(input: SkillCall) -> Result<SkillOutput, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "fundamentals")]
    pub fn fundamentals(input: SkillCall) -> Result<SkillOutput, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "technicals-regime")]
    pub fn technicals_regime(input: SkillCall) -> Result<SkillOutput, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "risk-exposure-sizing")]
    pub fn risk_exposure_sizing(input: SizingCall) -> Result<SizingOutcome, ActivityError> {
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
    pub fn execution_routing(input: RoutingCall) -> Result<RoutingOutcome, ActivityError> {
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
