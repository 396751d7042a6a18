//! The skill bundle as Temporal activities: each implements a declaration from
//! `torghut_workflows::activity_io`, maps [`SkillError`] onto retryable or non-retryable
//! failures, and runs blocking provider I/O off the async runtime. Each runs inside an
//! [`activity_span`] that continues its run's trace. Every attempt is timed and
//! counted in [`ActivityMetrics`] under the activity's name.

use crate::context::Providers;
use crate::llm::{LlmEndpoint, LlmError};
use crate::metrics::{ActivityMetrics, AttemptOutcome};
use crate::skill::SkillError;
use crate::steps::execution_routing::{self as routing, AdapterHealthProbe};
use crate::steps::{exposure_ledger as exposure, risk_exposure_sizing as risk};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use torghut_policy::ledger::ReleaseResult;
use torghut_policy::routing::AdapterPolicy;
use torghut_policy::skills as skills_names;
use torghut_policy::triggers::TriggerSignal;
use torghut_proto::model;
use torghut_proto::trace::TraceParent;
use torghut_proto::v1::LlmResponse;
use torghut_proto::v1::SkillOutput;
use torghut_workflows::activity_io::{ContextDomainInput, ReadTriggersInput, ReleaseInput};
use torghut_workflows::activity_io::{
    FailureKind, LlmReviewInput, RoutingCall, RoutingOutcome, SizingCall, SizingOutcome,
    SizingRequest, SkillCall, markers,
};
use tracing::Instrument;

/// Everything the skills read from; one per worker, shared by all activity invocations.
pub struct DecisionSkills {
    pub providers: Arc<Providers>,
    pub adapter_policy: AdapterPolicy,
    pub adapter_health: Arc<dyn AdapterHealthProbe>,
    /// The OpenAI-compatible endpoint for `llm_review` runs; `None` when not configured.
    pub llm: Option<Arc<LlmEndpoint>>,
    /// How long an exposure reservation lives unless released.
    pub reservation_ttl_seconds: u32,
    /// Injected failures for chaos tests; empty in production.
    pub faults: crate::faults::FaultPlan,
    /// Where attempts, context quality and reservations are counted; the worker serves it.
    pub metrics: Arc<ActivityMetrics>,
}

/// Activity names without a constant in `torghut_policy::skills` (they are not skills of a
/// decision's context or sizing), as metric labels.
const LLM_REVIEW: &str = "llm-review";
const READ_TRIGGERS: &str = "read-triggers";

fn ok<T>(_: &T) -> AttemptOutcome {
    AttemptOutcome::Ok
}

/// A failure of `kind`, which is what crosses Temporal (as the failure's type name).
fn failure(kind: FailureKind, message: String, retryable: bool) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message)
            .type_name(kind.type_name().to_owned())
            .non_retryable(!retryable)
            .build(),
    )
}

/// Bad input never gets better, so it is not retried; provider trouble is.
fn activity_error(e: SkillError) -> ActivityError {
    match e {
        SkillError::InvalidInput(_) => failure(FailureKind::InvalidInput, e.to_string(), false),
        SkillError::Unavailable(_) => {
            failure(FailureKind::ProviderUnavailable, e.to_string(), true)
        }
    }
}

/// An input the request in it made invalid: only a run recorded before typed inputs can send
/// one (its request is validated here, the one time for that run).
fn invalid(e: model::FieldError) -> ActivityError {
    activity_error(SkillError::InvalidInput(e.to_string()))
}

/// The span an activity runs in: which activity (`skill`), for which run, in which trace, at
/// which attempt. It continues the run's trace from `traceparent` (see
/// `torghut_telemetry::context::join_run`): log lines inside it carry the trace id and, with
/// export on, it is exported as a child of the SDK's span for this activity attempt.
fn activity_span(ctx: &ActivityContext, skill: &str, traceparent: Option<&str>) -> tracing::Span {
    let info = ctx.info();
    let span = tracing::info_span!(
        "skill",
        skill,
        workflow_id = info.workflow_id.as_deref().unwrap_or_default(),
        trace_id = tracing::field::Empty,
        attempt = info.attempt,
    );
    let run = traceparent.and_then(|t| TraceParent::parse(t).ok());
    torghut_telemetry::context::join_run(&span, run);
    span
}

/// Runs blocking provider work on the blocking pool, inside the caller's span (so its log lines
/// keep the trace id); a panic there is a retryable failure.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SkillError> + Send + 'static,
) -> Result<T, ActivityError> {
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(f)).await {
        Ok(result) => result.map_err(activity_error),
        Err(join) => Err(activity_error(SkillError::Unavailable(format!(
            "skill task failed: {join}"
        )))),
    }
}

fn llm_error(e: LlmError) -> ActivityError {
    let (kind, retryable) = match &e {
        LlmError::NotConfigured(_) => (FailureKind::LlmNotConfigured, false),
        LlmError::Timeout(_) => (FailureKind::LlmTimeout, true),
        LlmError::Upstream { retryable, .. } => (FailureKind::LlmUpstream, *retryable),
        LlmError::Transport(_) | LlmError::Malformed(_) => (FailureKind::LlmUpstream, true),
    };
    tracing::warn!(error = %e, "llm-review attempt failed");
    failure(kind, e.to_string(), retryable)
}

impl DecisionSkills {
    /// Runs one attempt of activity `skill` inside its `span`, timing it and counting how it
    /// ended.
    async fn observed<T>(
        &self,
        skill: &'static str,
        span: tracing::Span,
        outcome_of: impl FnOnce(&T) -> AttemptOutcome,
        attempt: impl Future<Output = Result<T, ActivityError>>,
    ) -> Result<T, ActivityError> {
        let started = Instant::now();
        let result = attempt.instrument(span).await;
        let outcome = result.as_ref().map_or(AttemptOutcome::Failed, outcome_of);
        self.metrics
            .observe_attempt(skill, started.elapsed(), outcome);
        result
    }

    /// One context skill of a decision: [`Self::run_domain`] on the query.
    async fn run_skill(
        self: Arc<Self>,
        ctx: &ActivityContext,
        name: &'static str,
        call: SkillCall,
    ) -> Result<SkillOutput, ActivityError> {
        let this = self.clone();
        let query = call.into_query().map_err(invalid)?;
        let span = activity_span(ctx, name, query.traceparent.as_deref());
        self.observed(name, span, AttemptOutcome::of_output, async move {
            this.run_domain(
                ctx,
                name,
                query.symbol.to_string(),
                query.as_of,
                query.features,
            )
            .await
        })
        .await
    }

    /// Injected faults first (tests only), the provider work on the blocking pool, and a
    /// possible injected hang after it.
    async fn run_domain(
        self: Arc<Self>,
        ctx: &ActivityContext,
        name: &'static str,
        symbol: String,
        as_of: DateTime<Utc>,
        features: BTreeMap<String, Decimal>,
    ) -> Result<SkillOutput, ActivityError> {
        let attempt = ctx.info().attempt;
        self.faults
            .before(name, &symbol, attempt)
            .await
            .map_err(activity_error)?;
        let providers = self.providers.clone();
        let sym = symbol.clone();
        let out = blocking(move || providers.run_skill(name, &sym, as_of, &features)).await?;
        self.metrics.observe_context(&out);
        self.faults.after(name, &symbol, attempt).await;
        tracing::debug!(status = %out.status, quality = %out.quality_score, "skill finished");
        Ok(out)
    }

    /// An `llm_review` run's call of the configured endpoint.
    async fn review(
        &self,
        ctx: &ActivityContext,
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

    /// Sizes and reserves, counting the ledger's answers.
    async fn size(
        &self,
        ctx: &ActivityContext,
        input: SizingRequest,
    ) -> Result<SizingOutcome, ActivityError> {
        let symbol = input.symbol.to_string();
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
        let account = input.account.account_id.clone();
        let outcome = risk::risk_exposure_sizing(&input, self.reservation_ttl_seconds, |req| {
            let (client, task_queue, account, metrics) = (
                client.clone(),
                task_queue.clone(),
                account.clone(),
                self.metrics.clone(),
            );
            async move {
                let budget = req.budget;
                let grant = exposure::reserve(&client, &task_queue, &account, req).await?;
                metrics.observe_reserve(budget, &grant);
                Ok(grant)
            }
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

    /// Releases a decision's reservation, counting the ledger's answer.
    async fn release(
        &self,
        ctx: &ActivityContext,
        input: ReleaseInput,
    ) -> Result<ReleaseResult, ActivityError> {
        let released = exposure::release(&ctx.client(), &input.account_id, &input.reservation_id)
            .await
            .map_err(activity_error)?;
        self.metrics.observe_release(&released);
        Ok(released)
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
        let span = activity_span(&ctx, LLM_REVIEW, input.traceparent.as_deref());
        self.observed(LLM_REVIEW, span, ok, self.review(&ctx, input))
            .await
    }

    #[activity(definition = markers::MarketContext)]
    pub async fn market_context(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SkillCall,
    ) -> Result<SkillOutput, ActivityError> {
        self.run_skill(&ctx, skills_names::MARKET_CONTEXT, input)
            .await
    }

    #[activity(definition = markers::TechnicalsRegime)]
    pub async fn technicals_regime(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SkillCall,
    ) -> Result<SkillOutput, ActivityError> {
        self.run_skill(&ctx, skills_names::TECHNICALS_REGIME, input)
            .await
    }

    #[activity(definition = markers::NewsSentiment)]
    pub async fn news_sentiment(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SkillCall,
    ) -> Result<SkillOutput, ActivityError> {
        self.run_skill(&ctx, skills_names::NEWS_SENTIMENT, input)
            .await
    }

    #[activity(definition = markers::Fundamentals)]
    pub async fn fundamentals(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SkillCall,
    ) -> Result<SkillOutput, ActivityError> {
        self.run_skill(&ctx, skills_names::FUNDAMENTALS, input)
            .await
    }

    #[activity(definition = markers::ReadTriggers)]
    pub async fn read_triggers(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ReadTriggersInput,
    ) -> Result<Vec<TriggerSignal>, ActivityError> {
        let parse = |raw: &str, field: &str| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| activity_error(SkillError::InvalidInput(format!("{field}: {e}"))))
        };
        let providers = self.providers.clone();
        let span = activity_span(&ctx, READ_TRIGGERS, None);
        self.observed(READ_TRIGGERS, span, ok, async move {
            let until = parse(&input.until, "until")?;
            let since = input
                .since
                .as_deref()
                .map(|s| parse(s, "since"))
                .transpose()?;
            blocking(move || providers.triggers.signals(&input.watchlist, since, until)).await
        })
        .await
    }

    /// The market-context workflow's per-domain skill run; counted under the domain's name, like
    /// a decision's. Bad input (an unknown domain, which only a bug in our own workflow sends)
    /// fails before there is a name to count it under.
    #[activity(definition = markers::ContextDomain)]
    pub async fn context_domain(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ContextDomainInput,
    ) -> Result<SkillOutput, ActivityError> {
        let invalid = |m: String| activity_error(SkillError::InvalidInput(m));
        let name = skills_names::CONTEXT_SKILLS
            .into_iter()
            .find(|d| *d == input.domain)
            .ok_or_else(|| invalid(format!("unknown context domain {:?}", input.domain)))?;
        let this = self.clone();
        let span = activity_span(&ctx, name, None);
        self.observed(name, span, AttemptOutcome::of_output, async move {
            let symbol = model::Symbol::parse(&input.symbol)
                .ok_or_else(|| invalid(format!("symbol: not a ticker: {:?}", input.symbol)))?;
            let as_of = DateTime::parse_from_rfc3339(&input.as_of_utc)
                .map_err(|e| invalid(format!("as_of_utc: {e}")))?
                .with_timezone(&Utc);
            this.run_domain(&ctx, name, symbol.to_string(), as_of, BTreeMap::new())
                .await
        })
        .await
    }

    #[activity(definition = markers::RiskExposureSizing)]
    pub async fn risk_exposure_sizing(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SizingCall,
    ) -> Result<SizingOutcome, ActivityError> {
        let input = input.into_request().map_err(invalid)?;
        let span = activity_span(
            &ctx,
            skills_names::RISK_EXPOSURE_SIZING,
            input.traceparent.as_deref(),
        );
        self.observed(
            skills_names::RISK_EXPOSURE_SIZING,
            span,
            ok,
            self.size(&ctx, input),
        )
        .await
    }

    #[activity(definition = markers::ReleaseExposure)]
    pub async fn release_exposure(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ReleaseInput,
    ) -> Result<ReleaseResult, ActivityError> {
        let span = activity_span(
            &ctx,
            skills_names::RELEASE_EXPOSURE,
            input.traceparent.as_deref(),
        );
        self.observed(
            skills_names::RELEASE_EXPOSURE,
            span,
            ok,
            self.release(&ctx, input),
        )
        .await
    }

    #[activity(definition = markers::ExecutionRouting)]
    pub async fn execution_routing(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: RoutingCall,
    ) -> Result<RoutingOutcome, ActivityError> {
        let input = input.into_request().map_err(invalid)?;
        let span = activity_span(
            &ctx,
            skills_names::EXECUTION_ROUTING,
            input.traceparent.as_deref(),
        );
        self.observed(skills_names::EXECUTION_ROUTING, span, ok, async {
            Ok(routing::execution_routing(
                &input,
                self.adapter_policy,
                &*self.adapter_health,
            ))
        })
        .await
    }
}
