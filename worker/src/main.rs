//! `torghut-worker`: polls the decision task queue and runs `decision-workflow` and its skills.
//!
//! Configuration is environment only (see docs/configuration.md); a bad value stops the worker
//! at start with the variable's name, rather than failing the first decision.

use anyhow::{Context, Result, bail};
use std::sync::Arc;
use temporalio_client::{Client, Connection};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use torghut_activities::DecisionSkills;
use torghut_activities::context::Providers;
use torghut_activities::faults::FaultPlan;
use torghut_activities::llm::{LlmEndpoint, Secret};
use torghut_activities::routing::ConfiguredHealth;
use torghut_connect::TemporalSettings;
use torghut_workflows::ledger::{DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS};
use torghut_workflows::routing::{AdapterHealth, AdapterPolicy};
use torghut_workflows::{
    DEFAULT_TASK_QUEUE, DecisionWorkflow, ExposureLedger, IntradayLoop, MarketContextWorkflow,
};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_bool(name: &str, default: bool) -> Result<bool> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => match v.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => bail!("{name}: expected true or false, got {other:?}"),
        },
    }
}

fn adapter_policy() -> Result<AdapterPolicy> {
    match env_or("TORGHUT_ADAPTER_POLICY", "lean_paper_only").as_str() {
        "alpaca_only" => Ok(AdapterPolicy::AlpacaOnly),
        "lean_paper_only" => Ok(AdapterPolicy::LeanPaperOnly),
        "lean_allowed" => Ok(AdapterPolicy::LeanAllowed),
        other => bail!(
            "TORGHUT_ADAPTER_POLICY: expected alpaca_only, lean_paper_only or lean_allowed, got {other:?}"
        ),
    }
}

/// The LLM endpoint for `llm_review` runs. The key comes from the environment or a file (a
/// mounted Secret), never from a config file or the command line, and is never logged.
fn llm_endpoint() -> Result<Option<Arc<LlmEndpoint>>> {
    let Some(base) = std::env::var("TORGHUT_LLM_BASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let base_url = url::Url::parse(&base).with_context(|| {
        format!(
            "TORGHUT_LLM_BASE_URL: expected a URL such as http://127.0.0.1:8000/v1, got {base:?}"
        )
    })?;
    let key = match (
        std::env::var("TORGHUT_LLM_API_KEY"),
        std::env::var("TORGHUT_LLM_API_KEY_FILE"),
    ) {
        (Ok(k), _) if !k.is_empty() => Some(k),
        (_, Ok(path)) if !path.is_empty() => Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("TORGHUT_LLM_API_KEY_FILE: cannot read {path}"))?
                .trim()
                .to_owned(),
        ),
        _ => None,
    };
    let model = std::env::var("TORGHUT_LLM_MODEL")
        .ok()
        .filter(|m| !m.is_empty());
    Ok(Some(Arc::new(LlmEndpoint::new(
        base_url,
        key.map(Secret::new),
        model,
        env_bool("TORGHUT_LLM_STREAM", false)?,
    ))))
}

fn reservation_ttl() -> Result<u32> {
    let raw = env_or(
        "TORGHUT_RESERVATION_TTL_SECONDS",
        &DEFAULT_TTL_SECONDS.to_string(),
    );
    let ttl: u32 = raw.parse().with_context(|| {
        format!("TORGHUT_RESERVATION_TTL_SECONDS: expected whole seconds, got {raw:?}")
    })?;
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        bail!("TORGHUT_RESERVATION_TTL_SECONDS: expected 1..={MAX_TTL_SECONDS}, got {ttl}");
    }
    Ok(ttl)
}

/// Injected faults for chaos tests; refusing to start on a malformed plan beats ignoring it.
fn faults() -> Result<FaultPlan> {
    let spec = env_or("TORGHUT_FAULTS", "");
    let plan = FaultPlan::parse(&spec).map_err(|e| anyhow::anyhow!("TORGHUT_FAULTS: {e}"))?;
    if !spec.is_empty() {
        tracing::warn!(%spec, "fault injection is ON: this worker misbehaves on purpose");
    }
    Ok(plan)
}

#[tokio::main]
async fn main() -> Result<()> {
    // Logs, and trace export when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed when dropped.
    let telemetry = torghut_telemetry::init("torghut-worker", "info,temporalio_sdk_core=warn")?;

    let temporal = TemporalSettings::from_env()?;
    let address = temporal.describe();
    let namespace = temporal.namespace.clone();
    let task_queue = env_or("TORGHUT_TASK_QUEUE", DEFAULT_TASK_QUEUE);

    let skills = DecisionSkills {
        // Every provider setting is checked here, so a bad one stops the worker at start
        // with the variable's name.
        providers: Arc::new(Providers::from_env()?),
        adapter_policy: adapter_policy()?,
        adapter_health: Arc::new(ConfiguredHealth(AdapterHealth {
            alpaca_healthy: env_bool("TORGHUT_ALPACA_HEALTHY", true)?,
            lean_healthy: env_bool("TORGHUT_LEAN_HEALTHY", true)?,
        })),
        llm: llm_endpoint()?,
        reservation_ttl_seconds: reservation_ttl()?,
        faults: faults()?,
    };
    let llm_configured = skills.llm.is_some();

    let runtime = Runtime::from_current_tokio(Default::default())?;
    let connection = Connection::connect(temporal.connection_options())
        .await
        .with_context(|| format!("connecting to Temporal at {address}"))?;
    let client = Client::new(
        connection,
        telemetry.temporal_client_options(namespace.clone()),
    )?;
    let options = WorkerOptions::new(task_queue.clone())
        .register_workflow::<DecisionWorkflow>()?
        .register_workflow::<ExposureLedger>()?
        .register_workflow::<MarketContextWorkflow>()?
        .register_workflow::<IntradayLoop>()?
        .register_activities(skills)
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;
    tracing::info!(%address, %namespace, %task_queue, llm_configured, "worker polling");
    // On SIGTERM/SIGINT stop polling and let in-flight activities finish; `run` returns when
    // they have (Kubernetes' grace period bounds how long that may take).
    let shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        torghut_connect::stop_signal().await;
        tracing::info!("shutting down: no new tasks, draining in-flight activities");
        shutdown();
    });
    worker.run().await?;
    tracing::info!("worker drained and stopped");
    Ok(())
}
