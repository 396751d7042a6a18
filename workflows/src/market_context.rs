//! `market-context-workflow`: the four context domains of a symbol at as-of, outside a decision,
//! for the gateway's market-context API.
//!
//! It runs the same skills with the same timeouts and retries as a decision, and merges them with
//! the decision policy's own quality weighting, so the API and a decision agree on what "good
//! context" is. Running it on the worker keeps every data provider and its credentials there: the
//! gateway stays a thin, secret-free bridge.

use crate::activity_io::{ContextDomainInput, DecisionActivities};
use crate::activity_options::{StepBudget, step_failure};
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};
use torghut_policy::analysis::{self, PolicyConfig};
use torghut_policy::skills::{
    self, BUNDLE_VERSION, CONTEXT_SKILLS, STATUS_MISSING, STATUS_OK, missing_output,
};
use torghut_proto::v1::{DomainHealth, MarketContextBundle, MarketContextHealth, SkillOutput};

pub const WORKFLOW_TYPE: &str = "market-context-workflow";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarketContextInput {
    pub symbol: String,
    /// RFC 3339; no data after it is read.
    pub as_of_utc: String,
    #[serde(default)]
    pub policy: PolicyConfig,
}

#[workflow]
pub struct MarketContextWorkflow {
    input: MarketContextInput,
}

#[workflow_methods]
impl MarketContextWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: MarketContextInput) -> Self {
        Self { input }
    }

    #[run(name = "market-context-workflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<MarketContextBundle> {
        let input = ctx.state(|s| s.input.clone());
        let ctx = ctx.clone();
        let domains = futures::future::join_all(CONTEXT_SKILLS.iter().map(|domain| {
            let (ctx, input) = (ctx.clone(), input.clone());
            async move {
                let args = ContextDomainInput {
                    domain: (*domain).to_owned(),
                    symbol: input.symbol.clone(),
                    as_of_utc: input.as_of_utc.clone(),
                };
                match ctx
                    .execute_activity(
                        DecisionActivities::context_domain,
                        args,
                        StepBudget::SKILL.options(format!("{domain}: gather context")),
                    )
                    .await
                {
                    Ok(out) => out,
                    Err(e) => missing_output(
                        domain,
                        &input.symbol,
                        &input.as_of_utc,
                        step_failure(&e).as_str(),
                    ),
                }
            }
        }))
        .await;
        Ok(merge(&input, domains))
    }
}

/// The bundle: the domains, the policy's overall quality, and every flag once.
pub fn merge(input: &MarketContextInput, domains: Vec<SkillOutput>) -> MarketContextBundle {
    let analysis = analysis::analyse(&domains, false, &input.policy);
    let mut risk_flags: Vec<String> = Vec::new();
    for flag in domains
        .iter()
        .flat_map(|d| d.risk_flags.iter())
        .chain(analysis.risk_flags.iter())
    {
        if !risk_flags.contains(flag) {
            risk_flags.push(flag.clone());
        }
    }
    MarketContextBundle {
        symbol: input.symbol.clone(),
        as_of_utc: input.as_of_utc.clone(),
        context_version: BUNDLE_VERSION.to_owned(),
        quality_score: analysis.overall_quality.normalize().to_string(),
        min_quality_score: input.policy.min_context_quality.normalize().to_string(),
        usable: analysis.overall_quality >= input.policy.min_context_quality,
        risk_flags,
        domains,
    }
}

/// Freshness and availability by domain: "ok" when every domain is ok, "unavailable" when none
/// has data, else "degraded".
pub fn health(bundle: &MarketContextBundle) -> MarketContextHealth {
    let domains: Vec<DomainHealth> = bundle
        .domains
        .iter()
        .map(|d| DomainHealth {
            domain: d.domain.clone(),
            available: d.status != STATUS_MISSING,
            status: d.status.clone(),
            freshness_seconds: d.freshness_seconds,
            freshness_target_seconds: skills::freshness_target_seconds(&d.domain),
            quality_score: d.quality_score.clone(),
            risk_flags: d.risk_flags.clone(),
        })
        .collect();
    let status = if domains.iter().all(|d| d.status == STATUS_OK) {
        "ok"
    } else if domains.iter().any(|d| d.available) {
        "degraded"
    } else {
        "unavailable"
    };
    MarketContextHealth {
        status: status.to_owned(),
        probe_symbol: bundle.symbol.clone(),
        as_of_utc: bundle.as_of_utc.clone(),
        context_version: bundle.context_version.clone(),
        quality_score: bundle.quality_score.clone(),
        domains,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torghut_policy::skills::{FUNDAMENTALS, MARKET_CONTEXT, NEWS_SENTIMENT, TECHNICALS_REGIME};

    fn ok(domain: &str, quality: &str) -> SkillOutput {
        let mut o = missing_output(domain, "IBM", "2013-10-08T14:30:00Z", "x");
        o.status = STATUS_OK.to_owned();
        o.quality_score = quality.to_owned();
        o.risk_flags.clear();
        o.payload.insert("signal".into(), "0.1".into());
        o
    }

    fn input() -> MarketContextInput {
        MarketContextInput {
            symbol: "IBM".into(),
            as_of_utc: "2013-10-08T14:30:00Z".into(),
            policy: PolicyConfig::default(),
        }
    }

    #[test]
    fn a_missing_domain_lowers_quality_and_is_flagged_in_bundle_and_health() {
        let full = merge(
            &input(),
            vec![
                ok(MARKET_CONTEXT, "1"),
                ok(NEWS_SENTIMENT, "1"),
                ok(FUNDAMENTALS, "1"),
                ok(TECHNICALS_REGIME, "1"),
            ],
        );
        assert_eq!(full.quality_score, "1");
        assert!(full.usable && full.risk_flags.is_empty());
        assert_eq!(health(&full).status, "ok");

        let gap = merge(
            &input(),
            vec![
                ok(MARKET_CONTEXT, "1"),
                missing_output(
                    NEWS_SENTIMENT,
                    "IBM",
                    "2013-10-08T14:30:00Z",
                    "failed_after_retries",
                ),
                ok(FUNDAMENTALS, "1"),
                ok(TECHNICALS_REGIME, "1"),
            ],
        );
        assert_eq!(gap.quality_score, "0.8", "news weighs 0.2");
        assert!(
            gap.risk_flags
                .contains(&"news-sentiment:missing:failed_after_retries".to_owned())
        );
        let h = health(&gap);
        assert_eq!(h.status, "degraded");
        let news = h
            .domains
            .iter()
            .find(|d| d.domain == NEWS_SENTIMENT)
            .expect("news");
        assert!(!news.available);
        assert_eq!(news.freshness_target_seconds, 300);
    }

    #[test]
    fn nothing_available_is_unavailable_and_unusable() {
        let none = merge(
            &input(),
            CONTEXT_SKILLS
                .iter()
                .map(|d| missing_output(d, "IBM", "2013-10-08T14:30:00Z", "no_data"))
                .collect(),
        );
        assert!(!none.usable);
        assert_eq!(health(&none).status, "unavailable");
    }
}
