//! Gateway configuration from the environment, validated at start with the variable's name.

use anyhow::{Context, Result, bail};
use rust_decimal::Decimal;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;
use torghut_workflows::DEFAULT_TASK_QUEUE;
use torghut_workflows::analysis::PolicyConfig;
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
    /// Bearer tokens and their rate limit; `None`: authentication off.
    pub auth: Option<std::sync::Arc<crate::auth::Auth>>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn bounded(name: &str, default: u32, min: u32, max: u32) -> Result<u32> {
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
fn auth() -> Result<Option<std::sync::Arc<crate::auth::Auth>>> {
    let per_minute = bounded("TORGHUT_RATE_LIMIT_PER_MINUTE", 600, 0, 1_000_000)?;
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

fn probe_symbol() -> Result<String> {
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
        let listen_raw = var("TORGHUT_GATEWAY_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_raw.parse().with_context(|| {
            format!("TORGHUT_GATEWAY_LISTEN: expected host:port, got {listen_raw:?}")
        })?;
        let temporal = torghut_connect::TemporalSettings::from_env()?;
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
        let llm = LlmCallPolicy {
            timeout_seconds: bounded("TORGHUT_LLM_TIMEOUT_SECONDS", 60, 1, 600)?,
            max_attempts: bounded("TORGHUT_LLM_MAX_ATTEMPTS", 3, 1, 10)?,
        };
        Ok(Self {
            llm,
            listen,
            temporal,
            task_queue: var("TORGHUT_TASK_QUEUE").unwrap_or_else(|| DEFAULT_TASK_QUEUE.into()),
            heartbeat: Duration::from_secs(heartbeat),
            sse_retry: Duration::from_secs(2),
            policy,
            market_context_probe_symbol: probe_symbol()?,
            auth: auth()?,
            market_context_cache: Duration::from_secs(u64::from(bounded(
                "TORGHUT_MARKET_CONTEXT_CACHE_SECONDS",
                60,
                0,
                3600,
            )?)),
        })
    }
}
