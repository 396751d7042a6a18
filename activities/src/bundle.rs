//! The skill bundle as Temporal activities: each implements a declaration from
//! `torghut_workflows::activity_io`, maps [`SkillError`] onto retryable or non-retryable
//! failures, and runs blocking provider I/O off the async runtime.

use crate::bars::BarProvider;
use crate::llm::{LlmEndpoint, LlmError};
use crate::routing::AdapterHealthProbe;
use crate::skill::SkillError;
use crate::skills::fundamentals::FundamentalsProvider;
use crate::skills::news::{NewsProvider, SentimentScorer};
use crate::{exposure, risk, routing, skills};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use torghut_proto::model::{self, ValidatedRequest};
use torghut_proto::v1::LlmResponse;
use torghut_proto::v1::SkillOutput;
use torghut_workflows::activity_io::ReleaseInput;
use torghut_workflows::activity_io::{
    LLM_NOT_CONFIGURED, LLM_TIMEOUT, LLM_UPSTREAM, LlmReviewInput,
};
use torghut_workflows::activity_io::{
    RoutingInput, RoutingOutcome, SizingInput, SizingOutcome, SkillInput, markers,
};
use torghut_workflows::ledger::ReleaseResult;
use torghut_workflows::routing::AdapterPolicy;
use torghut_workflows::skills as skills_names;

/// Everything the skills read from; one per worker, shared by all activity invocations.
pub struct DecisionSkills {
    pub bars: Arc<dyn BarProvider>,
    pub news: Arc<dyn NewsProvider>,
    pub scorer: Arc<SentimentScorer>,
    pub fundamentals: Arc<dyn FundamentalsProvider>,
    pub adapter_policy: AdapterPolicy,
    pub adapter_health: Arc<dyn AdapterHealthProbe>,
    /// The OpenAI-compatible endpoint for `llm_review` runs; `None` when not configured.
    pub llm: Option<Arc<LlmEndpoint>>,
    /// How long an exposure reservation lives unless released.
    pub reservation_ttl_seconds: u32,
    /// Injected failures for chaos tests; empty in production.
    pub faults: crate::faults::FaultPlan,
}

/// Bad input never gets better, so it is not retried; provider trouble is.
fn activity_error(e: SkillError) -> ActivityError {
    {
        match e {
            SkillError::InvalidInput(_) => ActivityError::application(
                ApplicationFailure::builder(e.to_string())
                    .type_name("InvalidInput".to_owned())
                    .non_retryable(true)
                    .build(),
            ),
            SkillError::Unavailable(_) => ActivityError::application(
                ApplicationFailure::builder(e.to_string())
                    .type_name("ProviderUnavailable".to_owned())
                    .build(),
            ),
        }
    }
}

fn validated(input: &SkillInput) -> Result<ValidatedRequest, SkillError> {
    model::validate(&input.request).map_err(|e| SkillError::InvalidInput(e.to_string()))
}

/// Runs blocking provider work on the blocking pool; a panic there is a retryable failure.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SkillError> + Send + 'static,
) -> Result<T, ActivityError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(activity_error),
        Err(join) => Err(activity_error(SkillError::Unavailable(format!(
            "skill task failed: {join}"
        )))),
    }
}

fn llm_error(e: LlmError) -> ActivityError {
    let (type_name, retryable) = match &e {
        LlmError::NotConfigured(_) => (LLM_NOT_CONFIGURED, false),
        LlmError::Timeout(_) => (LLM_TIMEOUT, true),
        LlmError::Upstream { retryable, .. } => (LLM_UPSTREAM, *retryable),
        LlmError::Transport(_) | LlmError::Malformed(_) => (LLM_UPSTREAM, true),
    };
    tracing::warn!(error = %e, "llm-review attempt failed");
    ActivityError::application(
        ApplicationFailure::builder(e.to_string())
            .type_name(type_name.to_owned())
            .non_retryable(!retryable)
            .build(),
    )
}

impl DecisionSkills {
    /// One context skill: injected faults first (tests only), the provider work on the blocking
    /// pool, and a possible injected hang after it.
    async fn run_skill(
        self: Arc<Self>,
        ctx: &ActivityContext,
        name: &'static str,
        input: SkillInput,
        skill: impl FnOnce(&Self, &ValidatedRequest) -> Result<SkillOutput, SkillError> + Send + 'static,
    ) -> Result<SkillOutput, ActivityError> {
        let req = validated(&input).map_err(activity_error)?;
        let attempt = ctx.info().attempt;
        self.faults
            .before(name, req.symbol.as_str(), attempt)
            .await
            .map_err(activity_error)?;
        let symbol = req.symbol.to_string();
        let this = self.clone();
        let out = blocking(move || skill(&this, &req)).await?;
        self.faults.after(name, &symbol, attempt).await;
        Ok(out)
    }
}

#[activities]
impl DecisionSkills {
    #[activity(definition = markers::LlmReview)]
    pub async fn llm_review(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: LlmReviewInput,
    ) -> Result<LlmResponse, ActivityError> {
        let Some(endpoint) = self.llm.clone() else {
            return Err(llm_error(LlmError::NotConfigured(
                "set TORGHUT_LLM_BASE_URL on the worker".into(),
            )));
        };
        // Stop just before the attempt's start-to-close deadline, so our own timeout (a clear
        // LlmTimeout) wins over Temporal's.
        let timeout = ctx
            .info()
            .deadline
            .and_then(|d| d.duration_since(SystemTime::now()).ok())
            .map_or(Duration::from_secs(60), |left| {
                left.saturating_sub(Duration::from_millis(250))
            });
        endpoint
            .complete(&input.llm_review, timeout)
            .await
            .map_err(llm_error)
    }

    #[activity(definition = markers::MarketContext)]
    pub async fn market_context(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SkillInput,
    ) -> Result<SkillOutput, ActivityError> {
        self.run_skill(&ctx, skills_names::MARKET_CONTEXT, input, |this, req| {
            skills::market_context::market_context(
                &*this.bars,
                req.symbol.as_str(),
                req.trigger.event_ts,
            )
        })
        .await
    }

    #[activity(definition = markers::TechnicalsRegime)]
    pub async fn technicals_regime(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SkillInput,
    ) -> Result<SkillOutput, ActivityError> {
        self.run_skill(&ctx, skills_names::TECHNICALS_REGIME, input, |this, req| {
            skills::technicals::technicals_regime(
                &*this.bars,
                req.symbol.as_str(),
                req.trigger.event_ts,
                &req.trigger.features,
            )
        })
        .await
    }

    #[activity(definition = markers::NewsSentiment)]
    pub async fn news_sentiment(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SkillInput,
    ) -> Result<SkillOutput, ActivityError> {
        self.run_skill(&ctx, skills_names::NEWS_SENTIMENT, input, |this, req| {
            skills::news::news_sentiment(
                &*this.news,
                &this.scorer,
                req.symbol.as_str(),
                req.trigger.event_ts,
            )
        })
        .await
    }

    #[activity(definition = markers::Fundamentals)]
    pub async fn fundamentals(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SkillInput,
    ) -> Result<SkillOutput, ActivityError> {
        self.run_skill(&ctx, skills_names::FUNDAMENTALS, input, |this, req| {
            let price = this
                .bars
                .minute_bars(req.symbol.as_str(), req.trigger.event_ts, 1)
                .ok()
                .and_then(|b| b.last().map(|b| b.close));
            skills::fundamentals::fundamentals(
                &*this.fundamentals,
                req.symbol.as_str(),
                req.trigger.event_ts,
                price,
            )
        })
        .await
    }

    #[activity(definition = markers::RiskExposureSizing)]
    pub async fn risk_exposure_sizing(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SizingInput,
    ) -> Result<SizingOutcome, ActivityError> {
        let symbol = input.request.symbol.clone();
        self.faults
            .before(
                skills_names::RISK_EXPOSURE_SIZING,
                &symbol,
                ctx.info().attempt,
            )
            .await
            .map_err(activity_error)?;
        let client = ctx.client();
        let task_queue = ctx.info().task_queue.clone();
        let (account, _) = risk::account_budget(&input).map_err(activity_error)?;
        let outcome = risk::risk_exposure_sizing(&input, self.reservation_ttl_seconds, |req| {
            let (client, task_queue, account) =
                (client.clone(), task_queue.clone(), account.clone());
            async move { exposure::reserve(&client, &task_queue, &account, req).await }
        })
        .await
        .map_err(activity_error)?;
        self.faults
            .after(
                skills_names::RISK_EXPOSURE_SIZING,
                &symbol,
                ctx.info().attempt,
            )
            .await;
        Ok(outcome)
    }

    #[activity(definition = markers::ReleaseExposure)]
    pub async fn release_exposure(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ReleaseInput,
    ) -> Result<ReleaseResult, ActivityError> {
        exposure::release(&ctx.client(), &input.account_id, &input.reservation_id)
            .await
            .map_err(activity_error)
    }

    #[activity(definition = markers::ExecutionRouting)]
    pub async fn execution_routing(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: RoutingInput,
    ) -> Result<RoutingOutcome, ActivityError> {
        routing::execution_routing(&input, self.adapter_policy, &*self.adapter_health)
            .map_err(activity_error)
    }
}
