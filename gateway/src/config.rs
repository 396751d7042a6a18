//! Gateway configuration from the environment (where the config file's values have been put),
//! read through the key table's rows and validated at start with the variable's name.

use anyhow::{Context, Result};
use rust_decimal::Decimal;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;
use torghut_config::{Settings, keys};
use torghut_policy::analysis::PolicyConfig;
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

/// Tokens from `TORGHUT_API_TOKENS_FILE` (a mounted Secret; it wins) or `TORGHUT_API_TOKENS`.
fn auth(s: &Settings) -> Result<Option<std::sync::Arc<crate::auth::Auth>>> {
    let per_minute = s.number(&keys::TORGHUT_RATE_LIMIT_PER_MINUTE, 0..=1_000_000)?;
    let (file, inline) = (&keys::TORGHUT_API_TOKENS_FILE, &keys::TORGHUT_API_TOKENS);
    let (var, spec) = match (s.value(file), s.secret_value(inline)) {
        (Some(path), _) => (
            file.env,
            std::fs::read_to_string(&path)
                .with_context(|| format!("{}: cannot read {path}", file.env))?,
        ),
        (None, Some(spec)) => (inline.env, spec),
        (None, None) => return Ok(None),
    };
    Ok(crate::auth::Auth::parse(var, &spec, per_minute)?)
}

/// `TORGHUT_CALIBRATION_FILE`: the artifact it names, else the shipped one (the policy's
/// default, compiled in).
fn calibration(s: &Settings, policy: &mut PolicyConfig) -> Result<()> {
    let key = &keys::TORGHUT_CALIBRATION_FILE;
    if let Some(path) = s.value(key) {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: reading {path:?}", key.env))?;
        let calibration: torghut_policy::calibration::Calibration = serde_json::from_str(&text)
            .with_context(|| format!("{}: {path:?} is not a calibration artifact", key.env))?;
        policy.calibration = Some(calibration);
    }
    Ok(())
}

impl GatewayConfig {
    pub fn from_env() -> Result<Self> {
        Self::from_settings(&Settings::from_env())
    }

    /// Every setting through its row of the key table (`torghut_config::keys`): the defaults
    /// and the parsing are the table's, so docs/configuration.md and `--check-config` describe
    /// what this reads.
    pub fn from_settings(s: &Settings) -> Result<Self> {
        let listen = s.get(&keys::TORGHUT_GATEWAY_LISTEN, |raw| {
            raw.parse()
                .map_err(|_| format!("expected host:port, got {raw:?}"))
        })?;
        let temporal = torghut_connect::TemporalSettings::from_settings(s)?;
        let heartbeat: u64 = s.seconds(&keys::TORGHUT_SSE_HEARTBEAT_SECONDS, 5..=15)?;
        let mut policy = PolicyConfig {
            min_context_quality: s.get(&keys::TORGHUT_MIN_CONTEXT_QUALITY, |raw| {
                Decimal::from_str(raw)
                    .ok()
                    .filter(|q| *q >= Decimal::ZERO && *q <= Decimal::ONE)
                    .ok_or_else(|| format!("expected a decimal in [0, 1], got {raw:?}"))
            })?,
            ..PolicyConfig::default()
        };
        calibration(s, &mut policy)?;
        let llm = LlmCallPolicy {
            timeout_seconds: s.seconds(&keys::TORGHUT_LLM_TIMEOUT_SECONDS, 1..=600)?,
            max_attempts: s.number(&keys::TORGHUT_LLM_MAX_ATTEMPTS, 1..=10)?,
        };
        let market_context_probe_symbol =
            s.get(&keys::TORGHUT_MARKET_CONTEXT_PROBE_SYMBOL, |raw| {
                torghut_proto::model::Symbol::parse(raw)
                    .map(|s| s.to_string())
                    .ok_or_else(|| format!("expected an upper-case ticker, got {raw:?}"))
            })?;
        Ok(Self {
            llm,
            listen,
            temporal,
            task_queue: s.text(&keys::TORGHUT_TASK_QUEUE)?,
            heartbeat: Duration::from_secs(heartbeat),
            sse_retry: Duration::from_secs(2),
            policy,
            market_context_probe_symbol,
            connections: crate::connections::Limits {
                header_read_timeout: Duration::from_secs(
                    s.seconds(&keys::TORGHUT_GATEWAY_HEADER_READ_TIMEOUT_SECONDS, 1..=300)?,
                ),
                idle_timeout: Duration::from_secs(
                    s.seconds(&keys::TORGHUT_GATEWAY_IDLE_TIMEOUT_SECONDS, 20..=3600)?,
                ),
                max_connections: s
                    .number(&keys::TORGHUT_GATEWAY_MAX_CONNECTIONS, 16..=1_000_000)?,
                max_per_peer: s.number(
                    &keys::TORGHUT_GATEWAY_MAX_CONNECTIONS_PER_PEER,
                    1..=1_000_000,
                )?,
            },
            auth: auth(s)?,
            market_context_public: s.flag(&keys::TORGHUT_MARKET_CONTEXT_PUBLIC)?,
            shutdown_delay: Duration::from_secs(
                s.seconds(&keys::TORGHUT_GATEWAY_SHUTDOWN_DELAY_SECONDS, 0..=120)?,
            ),
            market_context_cache: Duration::from_secs(
                s.seconds(&keys::TORGHUT_MARKET_CONTEXT_CACHE_SECONDS, 0..=3600)?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use torghut_config::keys::{Binary, unchecked_defaults};

    fn config(vars: &[(&str, &str)]) -> Result<GatewayConfig> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        GatewayConfig::from_settings(&Settings::from_lookup(move |name| map.get(name).cloned()))
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
        let unchecked =
            unchecked_defaults(Binary::Gateway, &ours).unwrap_or_else(|e| panic!("{e}"));
        for key in unchecked {
            assert_eq!(
                key.env, "TORGHUT_RATE_LIMIT_PER_MINUTE",
                "{}: a gateway default this test does not check",
                key.env
            );
            // Only in force (and visible) with tokens.
            let Some(default) = key.default_value() else {
                panic!("{}: no default", key.env)
            };
            let with_tokens =
                config(&[("TORGHUT_API_TOKENS", "ops:0123456789abcdef")]).expect("tokens");
            let auth = format!("{:?}", with_tokens.auth);
            assert!(auth.contains(&format!("per_minute: {default}")), "{auth}");
            assert!(!auth.contains("0123456789abcdef"), "{auth}");
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
