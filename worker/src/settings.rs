//! The worker's settings, read from the environment (where the config file's values have been
//! put) and validated at start with the variable's name, rather than failing the first decision.

use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::sync::Arc;
use torghut_activities::DecisionSkills;
use torghut_activities::context::Providers;
use torghut_activities::faults::FaultPlan;
use torghut_activities::llm::LlmEndpoint;
use torghut_activities::metrics::ActivityMetrics;
use torghut_activities::routing::ConfiguredHealth;
use torghut_activities::secret::Secret;
use torghut_connect::TemporalSettings;
use torghut_policy::ledger::{DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS};
use torghut_policy::routing::{AdapterHealth, AdapterPolicy};
use torghut_workflows::DEFAULT_TASK_QUEUE;

/// Everything the worker needs before it connects.
pub struct WorkerSettings {
    pub temporal: TemporalSettings,
    pub task_queue: String,
    pub skills: DecisionSkills,
    /// Where `/metrics` and the probes listen; `None` when switched off.
    pub metrics_listen: Option<SocketAddr>,
}

impl WorkerSettings {
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            temporal: TemporalSettings::from_env()?,
            task_queue: env_or("TORGHUT_TASK_QUEUE", DEFAULT_TASK_QUEUE),
            skills: DecisionSkills {
                // Every provider setting is checked here, so a bad one stops the worker at
                // start with the variable's name.
                providers: Arc::new(Providers::from_env()?),
                adapter_policy: adapter_policy()?,
                adapter_health: Arc::new(ConfiguredHealth(AdapterHealth {
                    alpaca_healthy: env_bool("TORGHUT_ALPACA_HEALTHY", true)?,
                    lean_healthy: env_bool("TORGHUT_LEAN_HEALTHY", true)?,
                })),
                llm: llm_endpoint()?,
                reservation_ttl_seconds: reservation_ttl()?,
                faults: faults()?,
                metrics: Arc::new(ActivityMetrics::new()?),
            },
            metrics_listen: crate::probes::listen_address()?,
        })
    }
}

/// An empty variable is unset, as for every other reader: that is how an operator switches off
/// a config file's value from the environment.
fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn env_bool(name: &str, default: bool) -> Result<bool> {
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => bail!("{name}: expected true or false, got {other:?}"),
        },
    }
}

/// Paper-safe: LEAN may be hinted for paper-mode requests only.
const DEFAULT_ADAPTER_POLICY: &str = "lean_paper_only";

fn adapter_policy() -> Result<AdapterPolicy> {
    match env_or("TORGHUT_ADAPTER_POLICY", DEFAULT_ADAPTER_POLICY).as_str() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use torghut_activities::providers::clickhouse;
    use torghut_config::keys::{DefaultValue, by_env};

    /// What docs/configuration.md and `--check-config` call the default is what the readers use
    /// (for the defaults that are constants; the gateway's test covers the rest of its own).
    #[test]
    fn defaults_are_the_key_tables() {
        for (var, ours) in [
            ("TORGHUT_TASK_QUEUE", DEFAULT_TASK_QUEUE.to_owned()),
            (
                "TORGHUT_RESERVATION_TTL_SECONDS",
                DEFAULT_TTL_SECONDS.to_string(),
            ),
            ("TORGHUT_ADAPTER_POLICY", DEFAULT_ADAPTER_POLICY.to_owned()),
            (
                "TORGHUT_CLICKHOUSE_DATABASE",
                clickhouse::DEFAULT_DATABASE.to_owned(),
            ),
            (
                "TORGHUT_CLICKHOUSE_USER",
                clickhouse::DEFAULT_USER.to_owned(),
            ),
            (
                "TORGHUT_CLICKHOUSE_WINDOW_SIZE",
                clickhouse::DEFAULT_WINDOW_SIZE.to_owned(),
            ),
            (
                "TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS",
                clickhouse::DEFAULT_TIMEOUT.as_secs().to_string(),
            ),
        ] {
            match by_env(var).map(|k| k.default) {
                Some(DefaultValue::Value(table)) => assert_eq!(table, ours, "{var}"),
                other => panic!("{var}: config/src/keys.rs has {other:?}"),
            }
        }
    }
}
