//! The worker's settings, read from the environment (where the config file's values have been
//! put) through the key table's rows, and validated at start with the variable's name, rather
//! than failing the first decision.

use anyhow::Result;
use std::net::SocketAddr;
use std::sync::Arc;
use torghut_activities::DecisionSkills;
use torghut_activities::context::Providers;
use torghut_activities::faults::FaultPlan;
use torghut_activities::llm::LlmEndpoint;
use torghut_activities::metrics::ActivityMetrics;
use torghut_activities::secret::Secret;
use torghut_activities::steps::execution_routing::ConfiguredHealth;
use torghut_config::{SettingError, Settings, keys};
use torghut_connect::TemporalSettings;
use torghut_policy::ledger::MAX_TTL_SECONDS;
use torghut_policy::routing::{AdapterHealth, AdapterPolicy};

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
        Self::from_settings(&Settings::from_env())
    }

    /// Every setting through its row of the key table (`torghut_config::keys`): the defaults
    /// and the parsing are the table's, so docs/configuration.md and `--check-config` describe
    /// what this reads.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        Ok(Self {
            temporal: TemporalSettings::from_settings(settings)?,
            task_queue: settings.text(&keys::TORGHUT_TASK_QUEUE)?,
            skills: DecisionSkills {
                // Every provider setting is checked here, so a bad one stops the worker at
                // start with the variable's name.
                providers: Arc::new(Providers::from_settings(settings)?),
                adapter_policy: adapter_policy(settings)?,
                adapter_health: Arc::new(ConfiguredHealth(AdapterHealth {
                    alpaca_healthy: settings.flag(&keys::TORGHUT_ALPACA_HEALTHY)?,
                    lean_healthy: settings.flag(&keys::TORGHUT_LEAN_HEALTHY)?,
                })),
                llm: llm_endpoint(settings)?,
                reservation_ttl_seconds: settings
                    .seconds(&keys::TORGHUT_RESERVATION_TTL_SECONDS, 1..=MAX_TTL_SECONDS)?,
                faults: faults(settings)?,
                metrics: Arc::new(ActivityMetrics::new()?),
            },
            metrics_listen: crate::probes::listen_address(settings)?,
        })
    }
}

fn adapter_policy(settings: &Settings) -> Result<AdapterPolicy, SettingError> {
    settings.get(&keys::TORGHUT_ADAPTER_POLICY, |v| match v {
        "alpaca_only" => Ok(AdapterPolicy::AlpacaOnly),
        "lean_paper_only" => Ok(AdapterPolicy::LeanPaperOnly),
        "lean_allowed" => Ok(AdapterPolicy::LeanAllowed),
        other => Err(format!(
            "expected alpaca_only, lean_paper_only or lean_allowed, got {other:?}"
        )),
    })
}

/// The LLM endpoint for `llm_review` runs. The key comes from the environment or a file (a
/// mounted Secret), never from a config file or the command line, and is never logged.
fn llm_endpoint(settings: &Settings) -> Result<Option<Arc<LlmEndpoint>>, SettingError> {
    let Some(base_url) = settings.parse(&keys::TORGHUT_LLM_BASE_URL, |raw| {
        url::Url::parse(raw).map_err(|e| {
            format!("expected a URL such as http://127.0.0.1:8000/v1, got {raw:?}: {e}")
        })
    })?
    else {
        return Ok(None);
    };
    let key = settings.secret(&keys::TORGHUT_LLM_API_KEY, &keys::TORGHUT_LLM_API_KEY_FILE)?;
    Ok(Some(Arc::new(LlmEndpoint::new(
        base_url,
        key.map(Secret::new),
        settings.value(&keys::TORGHUT_LLM_MODEL),
        settings.flag(&keys::TORGHUT_LLM_STREAM)?,
    ))))
}

/// Injected faults for chaos tests; refusing to start on a malformed plan beats ignoring it.
fn faults(settings: &Settings) -> Result<FaultPlan, SettingError> {
    let spec = settings.value(&keys::TORGHUT_FAULTS).unwrap_or_default();
    let plan = FaultPlan::parse(&spec).map_err(|e| SettingError::new(&keys::TORGHUT_FAULTS, e))?;
    if !spec.is_empty() {
        tracing::warn!(%spec, "fault injection is ON: this worker misbehaves on purpose");
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use torghut_config::keys::{Binary, DefaultValue, by_env, unchecked_defaults};
    use torghut_policy::ledger::DEFAULT_TTL_SECONDS;
    use torghut_workflows::DEFAULT_TASK_QUEUE;

    fn worker(vars: &[(&str, &str)]) -> Result<WorkerSettings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        WorkerSettings::from_settings(&Settings::from_lookup(move |name| map.get(name).cloned()))
    }

    /// What docs/configuration.md and `--check-config` call the default is what the worker
    /// runs with: every worker row with a default value, read back from the settings built from
    /// an empty environment.
    #[test]
    fn defaults_are_the_key_tables() {
        let w = worker(&[]).expect("defaults");
        let health = w.skills.adapter_health.probe();
        let ours = [
            ("TEMPORAL_ADDRESS", w.temporal.address.to_string()),
            ("TEMPORAL_NAMESPACE", w.temporal.namespace.clone()),
            ("TEMPORAL_TLS", w.temporal.tls.is_some().to_string()),
            ("TORGHUT_TASK_QUEUE", w.task_queue.clone()),
            (
                "TORGHUT_ADAPTER_POLICY",
                serde_json::to_value(w.skills.adapter_policy)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            ),
            ("TORGHUT_ALPACA_HEALTHY", health.alpaca_healthy.to_string()),
            ("TORGHUT_LEAN_HEALTHY", health.lean_healthy.to_string()),
            (
                "TORGHUT_RESERVATION_TTL_SECONDS",
                w.skills.reservation_ttl_seconds.to_string(),
            ),
            (
                "TORGHUT_WORKER_METRICS_LISTEN",
                w.metrics_listen.map(|a| a.to_string()).unwrap_or_default(),
            ),
            ("TORGHUT_LLM_STREAM", "false".to_owned()),
        ];
        assert!(w.skills.llm.is_none(), "no LLM without a base URL");
        // TORGHUT_NEWS_SCORER's default, `model`: a text the model knows is read by the model.
        let reading = w
            .skills
            .providers
            .scorer
            .read("Acme upgraded to buy from hold at a large broker");
        assert_eq!(
            by_env("TORGHUT_NEWS_SCORER").and_then(|k| k.default_value()),
            Some("model")
        );
        assert_eq!(reading.by, torghut_activities::sentiment::ReadBy::Model);
        let unchecked = unchecked_defaults(Binary::Worker, &ours).unwrap_or_else(|e| panic!("{e}"));
        for key in unchecked {
            // The providers' rows: the URLs' settings are in force only with the URL set, and
            // their own tests check them (activities' `providers::http` and ClickHouse tests).
            assert!(
                key.file.is_some_and(|f| f.starts_with("providers.")),
                "{}: a worker default this test does not check",
                key.env
            );
        }
    }

    /// Constants other crates use without reading the environment (decisionctl's flags, the
    /// evaluator's ledger) must agree with the table the worker reads.
    #[test]
    fn the_shared_constants_are_the_tables_defaults() {
        for (var, ours) in [
            ("TORGHUT_TASK_QUEUE", DEFAULT_TASK_QUEUE.to_owned()),
            (
                "TORGHUT_RESERVATION_TTL_SECONDS",
                DEFAULT_TTL_SECONDS.to_string(),
            ),
        ] {
            match by_env(var).map(|k| k.default) {
                Some(DefaultValue::Value(table)) => assert_eq!(table, ours, "{var}"),
                other => panic!("{var}: config/src/keys.rs has {other:?}"),
            }
        }
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (var, value) in [
            ("TORGHUT_ADAPTER_POLICY", "yolo"),
            ("TORGHUT_ALPACA_HEALTHY", "maybe"),
            ("TORGHUT_RESERVATION_TTL_SECONDS", "0"),
            ("TORGHUT_WORKER_METRICS_LISTEN", "9464"),
            ("TORGHUT_LLM_BASE_URL", "not a url"),
            ("TORGHUT_NEWS_SCORER", "vibes"),
            ("TORGHUT_EDGAR_URL", "ftp://sec"),
        ] {
            let e = worker(&[(var, value)]).err().map(|e| format!("{e:#}"));
            assert!(
                e.as_deref().is_some_and(|e| e.starts_with(var)),
                "{var}={value}: {e:?}"
            );
        }
    }
}
