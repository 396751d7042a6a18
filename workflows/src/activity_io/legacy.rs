//! The activity inputs of runs started before typed activity inputs (patch
//! [`TYPED_ACTIVITY_INPUTS`](super::TYPED_ACTIVITY_INPUTS)): each carried the whole wire request,
//! and prices as strings.
//!
//! Kept for two readers only, until every run started before the patch has closed (then this
//! module, the unpatched branch of `decision-workflow` and the `Recorded` variants go, and the
//! patch is deprecated): the workflow, which sends these when it replays such a run, so its
//! commands match its history; and the activities, which may still find such an input queued
//! across a deploy and convert it here to the typed one, validating the request once.

use super::{ContextQuery, RoutingRequest, SizingRequest};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use torghut_policy::analysis::Analysis;
use torghut_policy::quote::Quote;
use torghut_policy::sizing::{AccountLimits, Action};
use torghut_proto::model::{self, FieldError, ValidatedRequest};
use torghut_proto::v1::DecisionRequest;

/// What every context skill got: the request and the as-of instant of its data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkillInput {
    pub request: DecisionRequest,
    /// RFC 3339; the skill sees only data at or before it.
    pub as_of_utc: String,
    pub workflow_id: String,
    #[serde(default)]
    pub traceparent: Option<String>,
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
    #[serde(default)]
    pub traceparent: Option<String>,
}

fn text(d: Option<rust_decimal::Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

fn decimal(raw: Option<&str>) -> Option<rust_decimal::Decimal> {
    raw.and_then(|r| rust_decimal::Decimal::from_str(r).ok())
}

impl SkillInput {
    /// What the workflow sent, for a run replayed on its pre-patch branch.
    pub fn for_decision(
        request: &ValidatedRequest,
        workflow_id: &str,
        traceparent: Option<String>,
    ) -> Self {
        Self {
            request: request.to_wire(),
            as_of_utc: request
                .trigger
                .event_ts
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            workflow_id: workflow_id.to_owned(),
            traceparent,
        }
    }

    pub fn into_query(self) -> Result<ContextQuery, FieldError> {
        let request = model::validate(&self.request)?;
        Ok(ContextQuery::for_decision(&request, self.traceparent))
    }
}

impl SizingInput {
    pub fn for_decision(
        request: &ValidatedRequest,
        analysis: &Analysis,
        quote: &Quote,
        workflow_id: &str,
        traceparent: Option<String>,
    ) -> Self {
        Self {
            request: request.to_wire(),
            analysis: analysis.clone(),
            reference_price: text(quote.last_price),
            realized_vol: text(quote.realized_vol),
            workflow_id: workflow_id.to_owned(),
            traceparent,
        }
    }

    pub fn into_request(self) -> Result<SizingRequest, FieldError> {
        let request = model::validate(&self.request)?;
        Ok(SizingRequest {
            symbol: request.symbol.clone(),
            analysis: self.analysis,
            account: AccountLimits::of(&request),
            quote: Quote {
                last_price: decimal(self.reference_price.as_deref()),
                realized_vol: decimal(self.realized_vol.as_deref()),
                ..Quote::default()
            },
            reservation_id: self.workflow_id,
            traceparent: self.traceparent,
        })
    }
}

impl RoutingInput {
    pub fn for_decision(
        request: &ValidatedRequest,
        action: Action,
        qty: rust_decimal::Decimal,
        quote: &Quote,
        traceparent: Option<String>,
    ) -> Self {
        Self {
            request: request.to_wire(),
            action: action.as_str().to_owned(),
            qty: qty.normalize().to_string(),
            reference_price: text(quote.last_price),
            bid: text(quote.bid),
            ask: text(quote.ask),
            spread_bps: text(quote.spread_bps),
            realized_vol: text(quote.realized_vol),
            traceparent,
        }
    }

    pub fn into_request(self) -> Result<RoutingRequest, FieldError> {
        let request = model::validate(&self.request)?;
        let action = Action::parse(&self.action)
            .ok_or_else(|| FieldError::new("action", format!("unknown value {:?}", self.action)))?;
        Ok(RoutingRequest {
            action,
            quote: Quote {
                last_price: decimal(self.reference_price.as_deref()),
                bid: decimal(self.bid.as_deref()),
                ask: decimal(self.ask.as_deref()),
                spread_bps: decimal(self.spread_bps.as_deref()),
                realized_vol: decimal(self.realized_vol.as_deref()),
            },
            execution: request.execution,
            traceparent: self.traceparent,
        })
    }
}
