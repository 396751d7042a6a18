//! Gateway configuration from the environment (where the config file's values have been put),
//! validated at start with the variable's name.

use anyhow::{Context, Result, bail};
use rust_decimal::Decimal;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;
use torghut_policy::analysis::PolicyConfig;
use torghut_workflows::DEFAULT_TASK_QUEUE;
use torghut_workflows::decision::LlmCallPolicy;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    /// Address, namespace, TLS and API key (the `TEMPORAL_*` variables; `torghut-connect`).
    pub temporal: torghut_connect::TemporalSettings,
    pub task_queue: String,
    /// Interval of SSE heartbeat comments, within 5..=15 s.
    pub heartbeat: Duration,
    /// The `retry:` hint sent to SSE clients.
    pub sse_retry: Duration,
    pub policy: PolicyConfig,
    pub llm: LlmCallPolicy,
    /// The symbol `GET /api/torghut/market-context/health` builds the context of.
    pub market_context_probe_symbol: String,
    /// How long a merged market context is reused for the same symbol and as-of.
    pub market_context_cache: Duration,
    /// Header-read and idle timeouts and the connection caps (`connections.rs`).
    pub connections: crate::connections::Limits,
    /// Bearer tokens and their rate limit; `None`: authentication off.
    pub auth: Option<std::sync::Arc<crate::auth::Auth>>,
    /// The market-context routes answer without a token (`open_reads`); off by default.
    pub market_context_public: bool,
    /// After the stop signal: how long `/readyz` fails while requests are still served, so a
    /// probing load balancer takes the gateway out before it stops accepting.
    pub shutdown_delay: Duration,
}

/// Where settings are read from: the process environment, or a map in tests.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A [`Lookup`] as `torghut-connect` reads it (which also takes blank values as unset).
struct ConnectSource<'a>(Lookup<'a>);

impl torghut_connect::Source for ConnectSource<'_> {
    fn get(&self, var: &str) -> Option<String> {
        (self.0)(var).filter(|v| !v.trim().is_empty())
    }
}

fn bounded(var: Lookup, name: &str, default: u32, min: u32, max: u32) -> Result<u32> {
    let Some(raw) = var(name) else {
        return Ok(default);
    };
    let v: u32 = raw
        .parse()
        .with_context(|| format!("{name}: expected a whole number, got {raw:?}"))?;
    if !(min..=max).contains(&v) {
        bail!("{name}: expected {min}..={max}, got {v}");
    }
    Ok(v)
}

/// Tokens from `TORGHUT_API_TOKENS_FILE` (a mounted Secret) or `TORGHUT_API_TOKENS`.
fn auth(var: Lookup) -> Result<Option<std::sync::Arc<crate::auth::Auth>>> {
    let per_minute = bounded(var, "TORGHUT_RATE_LIMIT_PER_MINUTE", 600, 0, 1_000_000)?;
    let (var, spec) = match (var("TORGHUT_API_TOKENS_FILE"), var("TORGHUT_API_TOKENS")) {
        (Some(path), _) => (
            "TORGHUT_API_TOKENS_FILE",
            std::fs::read_to_string(&path)
                .with_context(|| format!("TORGHUT_API_TOKENS_FILE: cannot read {path}"))?,
        ),
        (None, Some(spec)) => ("TORGHUT_API_TOKENS", spec),
        (None, None) => return Ok(None),
    };
    Ok(crate::auth::Auth::parse(var, &spec, per_minute)?)
}

fn flag(var: Lookup, name: &str, default: bool) -> Result<bool> {
    match var(name).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => bail!("{name}: expected true or false, got {other:?}"),
    }
}

fn probe_symbol(var: Lookup) -> Result<String> {
    let raw = var("TORGHUT_MARKET_CONTEXT_PROBE_SYMBOL").unwrap_or_else(|| "SPY".into());
    torghut_proto::model::Symbol::parse(&raw)
        .map(|s| s.to_string())
        .with_context(|| {
            format!(
                "TORGHUT_MARKET_CONTEXT_PROBE_SYMBOL: expected an upper-case ticker, got {raw:?}"
            )
        })
}

impl GatewayConfig {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn from_lookup(var: Lookup) -> Result<Self> {
        let listen_raw = var("TORGHUT_GATEWAY_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_raw.parse().with_context(|| {
            format!("TORGHUT_GATEWAY_LISTEN: expected host:port, got {listen_raw:?}")
        })?;
        let temporal = torghut_connect::TemporalSettings::from_source(&ConnectSource(var))?;
        let heartbeat_raw = var("TORGHUT_SSE_HEARTBEAT_SECONDS").unwrap_or_else(|| "10".into());
        let heartbeat: u64 = heartbeat_raw.parse().with_context(|| {
            format!("TORGHUT_SSE_HEARTBEAT_SECONDS: expected whole seconds, got {heartbeat_raw:?}")
        })?;
        if !(5..=15).contains(&heartbeat) {
            bail!("TORGHUT_SSE_HEARTBEAT_SECONDS: expected 5..=15, got {heartbeat}");
        }
        let mut policy = PolicyConfig::default();
        if let Some(raw) = var("TORGHUT_MIN_CONTEXT_QUALITY") {
            let q = Decimal::from_str(&raw)
                .ok()
                .filter(|q| *q >= Decimal::ZERO && *q <= Decimal::ONE)
                .with_context(|| {
                    format!(
                        "TORGHUT_MIN_CONTEXT_QUALITY: expected a decimal in [0, 1], got {raw:?}"
                    )
                })?;
            policy.min_context_quality = q;
        }
        if let Some(path) = var("TORGHUT_CALIBRATION_FILE") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("TORGHUT_CALIBRATION_FILE: reading {path:?}"))?;
            let calibration: torghut_policy::calibration::Calibration = serde_json::from_str(&text)
                .with_context(|| {
                    format!("TORGHUT_CALIBRATION_FILE: {path:?} is not a calibration artifact")
                })?;
            policy.calibration = Some(calibration);
        }
        let llm = LlmCallPolicy {
            timeout_seconds: bounded(var, "TORGHUT_LLM_TIMEOUT_SECONDS", 60, 1, 600)?,
            max_attempts: bounded(var, "TORGHUT_LLM_MAX_ATTEMPTS", 3, 1, 10)?,
        };
        Ok(Self {
            llm,
            listen,
            temporal,
            task_queue: var("TORGHUT_TASK_QUEUE").unwrap_or_else(|| DEFAULT_TASK_QUEUE.into()),
            heartbeat: Duration::from_secs(heartbeat),
            sse_retry: Duration::from_secs(2),
            policy,
            market_context_probe_symbol: probe_symbol(var)?,
            connections: crate::connections::Limits {
                header_read_timeout: Duration::from_secs(u64::from(bounded(
                    var,
                    "TORGHUT_GATEWAY_HEADER_READ_TIMEOUT_SECONDS",
                    10,
                    1,
                    300,
                )?)),
                idle_timeout: Duration::from_secs(u64::from(bounded(
                    var,
                    "TORGHUT_GATEWAY_IDLE_TIMEOUT_SECONDS",
                    60,
                    20,
                    3600,
                )?)),
                max_connections: bounded(
                    var,
                    "TORGHUT_GATEWAY_MAX_CONNECTIONS",
                    8192,
                    16,
                    1_000_000,
                )? as usize,
                max_per_peer: bounded(
                    var,
                    "TORGHUT_GATEWAY_MAX_CONNECTIONS_PER_PEER",
                    4096,
                    1,
                    1_000_000,
                )? as usize,
            },
            auth: auth(var)?,
            market_context_public: flag(var, "TORGHUT_MARKET_CONTEXT_PUBLIC", false)?,
            shutdown_delay: Duration::from_secs(u64::from(bounded(
                var,
                "TORGHUT_GATEWAY_SHUTDOWN_DELAY_SECONDS",
                0,
                0,
                120,
            )?)),
            market_context_cache: Duration::from_secs(u64::from(bounded(
                var,
                "TORGHUT_MARKET_CONTEXT_CACHE_SECONDS",
                60,
                0,
                3600,
            )?)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use torghut_config::keys::{Binary, DefaultValue, read_by};

    fn config(vars: &[(&str, &str)]) -> Result<GatewayConfig> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        GatewayConfig::from_lookup(&|name| map.get(name).cloned())
    }

    /// What docs/configuration.md and `--check-config` call the default is what the reader uses.
    #[test]
    fn the_calibration_is_the_shipped_one_unless_a_file_names_another() {
        let shipped = config(&[]).expect("defaults");
        assert_eq!(
            shipped.policy.calibration,
            Some(torghut_policy::calibration::Calibration::embedded())
        );
        let dir = std::env::temp_dir().join(format!("torghut-cal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut other = torghut_policy::calibration::Calibration::embedded();
        other.version = "cal-test".into();
        let good = dir.join("good.json");
        std::fs::write(&good, serde_json::to_string(&other).expect("json")).expect("write");
        let c = config(&[("TORGHUT_CALIBRATION_FILE", good.to_str().expect("path"))])
            .expect("a calibration file");
        assert_eq!(
            c.policy.calibration.map(|c| c.version),
            Some("cal-test".into())
        );
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{\"version\": 1}").expect("write");
        let err = config(&[("TORGHUT_CALIBRATION_FILE", bad.to_str().expect("path"))])
            .expect_err("not a calibration");
        assert!(
            format!("{err:#}").contains("TORGHUT_CALIBRATION_FILE"),
            "{err:#}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn defaults_are_the_key_tables() {
        let c = config(&[]).expect("defaults");
        let ours = [
            ("TEMPORAL_ADDRESS", c.temporal.address.to_string()),
            ("TEMPORAL_NAMESPACE", c.temporal.namespace.clone()),
            ("TEMPORAL_TLS", c.temporal.tls.is_some().to_string()),
            ("TORGHUT_TASK_QUEUE", c.task_queue.clone()),
            ("TORGHUT_GATEWAY_LISTEN", c.listen.to_string()),
            (
                "TORGHUT_SSE_HEARTBEAT_SECONDS",
                c.heartbeat.as_secs().to_string(),
            ),
            (
                "TORGHUT_MIN_CONTEXT_QUALITY",
                c.policy.min_context_quality.to_string(),
            ),
            (
                "TORGHUT_MARKET_CONTEXT_PROBE_SYMBOL",
                c.market_context_probe_symbol.clone(),
            ),
            (
                "TORGHUT_MARKET_CONTEXT_CACHE_SECONDS",
                c.market_context_cache.as_secs().to_string(),
            ),
            (
                "TORGHUT_LLM_TIMEOUT_SECONDS",
                c.llm.timeout_seconds.to_string(),
            ),
            ("TORGHUT_LLM_MAX_ATTEMPTS", c.llm.max_attempts.to_string()),
            (
                "TORGHUT_MARKET_CONTEXT_PUBLIC",
                c.market_context_public.to_string(),
            ),
            (
                "TORGHUT_GATEWAY_SHUTDOWN_DELAY_SECONDS",
                c.shutdown_delay.as_secs().to_string(),
            ),
            (
                "TORGHUT_GATEWAY_HEADER_READ_TIMEOUT_SECONDS",
                c.connections.header_read_timeout.as_secs().to_string(),
            ),
            (
                "TORGHUT_GATEWAY_IDLE_TIMEOUT_SECONDS",
                c.connections.idle_timeout.as_secs().to_string(),
            ),
            (
                "TORGHUT_GATEWAY_MAX_CONNECTIONS",
                c.connections.max_connections.to_string(),
            ),
            (
                "TORGHUT_GATEWAY_MAX_CONNECTIONS_PER_PEER",
                c.connections.max_per_peer.to_string(),
            ),
        ];
        for key in read_by(Binary::Gateway) {
            let DefaultValue::Value(default) = key.default else {
                continue;
            };
            match ours.iter().find(|(var, _)| *var == key.env) {
                // `Url` adds the root path: http://127.0.0.1:7233/.
                Some((var, value)) => assert_eq!(
                    value.trim_end_matches('/'),
                    default,
                    "{var}: the reader's default differs from config/src/keys.rs"
                ),
                None if key.env == "TORGHUT_RATE_LIMIT_PER_MINUTE" => {
                    // Only in force (and visible) with tokens.
                    let with_tokens =
                        config(&[("TORGHUT_API_TOKENS", "ops:0123456789abcdef")]).expect("tokens");
                    let auth = format!("{:?}", with_tokens.auth);
                    assert!(auth.contains(&format!("per_minute: {default}")), "{auth}");
                    assert!(!auth.contains("0123456789abcdef"), "{auth}");
                }
                None => panic!("{}: a gateway default this test does not check", key.env),
            }
        }
        assert!(c.auth.is_none());
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (var, value) in [
            ("TORGHUT_GATEWAY_LISTEN", "nope"),
            ("TORGHUT_SSE_HEARTBEAT_SECONDS", "99"),
            ("TORGHUT_MIN_CONTEXT_QUALITY", "2"),
            ("TORGHUT_RATE_LIMIT_PER_MINUTE", "-1"),
            ("TORGHUT_GATEWAY_IDLE_TIMEOUT_SECONDS", "10"),
            ("TORGHUT_GATEWAY_MAX_CONNECTIONS", "0"),
            ("TEMPORAL_TLS", "maybe"),
            ("TORGHUT_MARKET_CONTEXT_PUBLIC", "yes"),
            ("TORGHUT_GATEWAY_SHUTDOWN_DELAY_SECONDS", "121"),
        ] {
            let e = config(&[(var, value)]).err().map(|e| format!("{e:#}"));
            assert!(
                e.as_deref().is_some_and(|e| e.starts_with(var)),
                "{var}={value}: {e:?}"
            );
        }
    }
}
