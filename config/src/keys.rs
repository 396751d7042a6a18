//! The one table of configuration keys. Every setting the binaries read is a row here: its
//! config-file key, its environment variable, its default, which binaries read it, and whether
//! it is a secret. docs/configuration.md documents the same rows, and a test holds the two (and
//! every variable named in the workspace's sources) together, so a new variable cannot be added
//! to one and forgotten in the others.
//!
//! The readers themselves (`TemporalSettings::from_env`, `GatewayConfig::from_env`,
//! `Providers::from_env`, ...) still read the environment: the loader puts file values there.

/// A binary that reads configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Binary {
    Gateway,
    Worker,
    Decisionctl,
}

impl Binary {
    pub fn name(self) -> &'static str {
        match self {
            Binary::Gateway => "torghut-gateway",
            Binary::Worker => "torghut-worker",
            Binary::Decisionctl => "decisionctl",
        }
    }
}

/// The TOML type a key takes in the config file; the environment carries its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A whole number; its range is the reader's to check.
    Integer,
    Bool,
    /// A number, whole or not (`0.5`): decimals written as TOML floats print back exactly.
    Decimal,
}

impl Kind {
    /// What a value of this kind is called in an error.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Integer => "an integer",
            Kind::Bool => "true or false",
            Kind::Decimal => "a number",
        }
    }
}

/// What a key is when nothing sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// Unset: the feature it configures is off, or the reader requires it when that is on.
    Unset,
    /// This value, exactly as the variable would carry it.
    Value(&'static str),
    /// A value the binary computes (e.g. a path compiled in), described.
    BuiltIn(&'static str),
}

/// One configuration setting.
#[derive(Debug, PartialEq, Eq)]
pub struct Key {
    /// Dotted key in the config file; `None`: environment only.
    pub file: Option<&'static str>,
    pub env: &'static str,
    pub kind: Kind,
    pub default: DefaultValue,
    pub read_by: &'static [Binary],
    /// A secret is read only from its variable or from the file its `_FILE` variable names: a
    /// config file lives in a ConfigMap or a repository, where a secret must not. Its file key
    /// is known only so the loader can refuse it with a pointer to the right place.
    pub secret: bool,
    /// One line: what the setting is for.
    pub doc: &'static str,
}

use Binary::{Decisionctl, Gateway, Worker};

const ALL: &[Binary] = &[Gateway, Worker, Decisionctl];
const SERVICES: &[Binary] = &[Gateway, Worker];
const GATEWAY: &[Binary] = &[Gateway];
const WORKER: &[Binary] = &[Worker];
const DECISIONCTL: &[Binary] = &[Decisionctl];

const fn key(
    file: &'static str,
    env: &'static str,
    kind: Kind,
    default: DefaultValue,
    read_by: &'static [Binary],
    doc: &'static str,
) -> Key {
    Key {
        file: Some(file),
        env,
        kind,
        default,
        read_by,
        secret: false,
        doc,
    }
}

const fn secret(
    file: &'static str,
    env: &'static str,
    read_by: &'static [Binary],
    doc: &'static str,
) -> Key {
    Key {
        file: Some(file),
        env,
        kind: Kind::Text,
        default: DefaultValue::Unset,
        read_by,
        secret: true,
        doc,
    }
}

const fn env_only(
    env: &'static str,
    default: DefaultValue,
    read_by: &'static [Binary],
    doc: &'static str,
) -> Key {
    Key {
        file: None,
        env,
        kind: Kind::Text,
        default,
        read_by,
        secret: false,
        doc,
    }
}

use DefaultValue::{BuiltIn, Unset, Value};
use Kind::{Bool, Decimal, Integer, Text};

/// Every setting, in the order docs/configuration.md and `--check-config` list them. One row a
/// line, unformatted, so the table reads as a table.
#[rustfmt::skip]
pub static KEYS: &[Key] = &[
    // Both services (and decisionctl, which reads these from its environment and flags).
    key("temporal.address", "TEMPORAL_ADDRESS", Text, Value("http://127.0.0.1:7233"), ALL, "Temporal frontend URL"),
    key("temporal.namespace", "TEMPORAL_NAMESPACE", Text, Value("default"), ALL, "Temporal namespace"),
    key("temporal.task_queue", "TORGHUT_TASK_QUEUE", Text, Value("torghut-decision-engine"), ALL, "task queue of the workflows and activities"),
    key("temporal.tls", "TEMPORAL_TLS", Bool, Value("false"), ALL, "TLS with the system roots"),
    key("temporal.tls_cert_file", "TEMPORAL_TLS_CERT_FILE", Text, Unset, ALL, "PEM client certificate (mTLS)"),
    key("temporal.tls_key_file", "TEMPORAL_TLS_KEY_FILE", Text, Unset, ALL, "PEM client key (mTLS)"),
    key("temporal.tls_ca_file", "TEMPORAL_TLS_CA_FILE", Text, Unset, ALL, "PEM CA of the Temporal server"),
    key("temporal.tls_server_name", "TEMPORAL_TLS_SERVER_NAME", Text, Unset, ALL, "name to verify the server certificate against"),
    secret("temporal.api_key", "TEMPORAL_API_KEY", ALL, "Temporal API key"),
    key("temporal.api_key_file", "TEMPORAL_API_KEY_FILE", Text, Unset, ALL, "file holding the Temporal API key"),
    env_only("TORGHUT_CONFIG_FILE", Unset, SERVICES, "the config file itself (`--config` wins)"),
    // Gateway.
    key("gateway.listen", "TORGHUT_GATEWAY_LISTEN", Text, Value("127.0.0.1:8080"), GATEWAY, "listen address"),
    key("gateway.sse_heartbeat_seconds", "TORGHUT_SSE_HEARTBEAT_SECONDS", Integer, Value("10"), GATEWAY, "SSE heartbeat interval"),
    key("gateway.min_context_quality", "TORGHUT_MIN_CONTEXT_QUALITY", Decimal, Value("0.5"), GATEWAY, "quality gate of the decision policy"),
    key("gateway.calibration_file", "TORGHUT_CALIBRATION_FILE", Text, BuiltIn("policy/calibration/default.json, compiled in"), GATEWAY, "calibration artifact of the decision policy"),
    key("gateway.market_context_probe_symbol", "TORGHUT_MARKET_CONTEXT_PROBE_SYMBOL", Text, Value("SPY"), GATEWAY, "symbol of the market-context health probe"),
    key("gateway.market_context_cache_seconds", "TORGHUT_MARKET_CONTEXT_CACHE_SECONDS", Integer, Value("60"), GATEWAY, "reuse of a merged market context"),
    key("gateway.market_context_public", "TORGHUT_MARKET_CONTEXT_PUBLIC", Bool, Value("false"), GATEWAY, "market-context routes without a token"),
    key("gateway.shutdown_delay_seconds", "TORGHUT_GATEWAY_SHUTDOWN_DELAY_SECONDS", Integer, Value("0"), GATEWAY, "readiness fails this long before draining"),
    secret("gateway.api_tokens", "TORGHUT_API_TOKENS", GATEWAY, "bearer tokens"),
    key("gateway.api_tokens_file", "TORGHUT_API_TOKENS_FILE", Text, Unset, GATEWAY, "file of bearer tokens"),
    key("gateway.rate_limit_per_minute", "TORGHUT_RATE_LIMIT_PER_MINUTE", Integer, Value("600"), GATEWAY, "requests a minute per token"),
    key("gateway.header_read_timeout_seconds", "TORGHUT_GATEWAY_HEADER_READ_TIMEOUT_SECONDS", Integer, Value("10"), GATEWAY, "time a connection has to send a request head"),
    key("gateway.idle_timeout_seconds", "TORGHUT_GATEWAY_IDLE_TIMEOUT_SECONDS", Integer, Value("60"), GATEWAY, "close of a connection with no request and no byte"),
    key("gateway.max_connections", "TORGHUT_GATEWAY_MAX_CONNECTIONS", Integer, Value("8192"), GATEWAY, "open connections in all"),
    key("gateway.max_connections_per_peer", "TORGHUT_GATEWAY_MAX_CONNECTIONS_PER_PEER", Integer, Value("4096"), GATEWAY, "open connections per client address"),
    key("llm.timeout_seconds", "TORGHUT_LLM_TIMEOUT_SECONDS", Integer, Value("60"), GATEWAY, "per-call timeout of llm-review"),
    key("llm.max_attempts", "TORGHUT_LLM_MAX_ATTEMPTS", Integer, Value("3"), GATEWAY, "attempts of llm-review"),
    // Worker.
    key("worker.adapter_policy", "TORGHUT_ADAPTER_POLICY", Text, Value("lean_paper_only"), WORKER, "execution adapters a decision may hint"),
    key("worker.alpaca_healthy", "TORGHUT_ALPACA_HEALTHY", Bool, Value("true"), WORKER, "Alpaca adapter health as configured"),
    key("worker.lean_healthy", "TORGHUT_LEAN_HEALTHY", Bool, Value("true"), WORKER, "LEAN adapter health as configured"),
    key("worker.reservation_ttl_seconds", "TORGHUT_RESERVATION_TTL_SECONDS", Integer, Value("900"), WORKER, "lifetime of an exposure reservation"),
    key("worker.metrics_listen", "TORGHUT_WORKER_METRICS_LISTEN", Text, Value("0.0.0.0:9464"), WORKER, "metrics listener (`off`: none)"),
    env_only("TORGHUT_FAULTS", Unset, WORKER, "fault injection for chaos tests"),
    key("llm.base_url", "TORGHUT_LLM_BASE_URL", Text, Unset, WORKER, "OpenAI-compatible base URL"),
    secret("llm.api_key", "TORGHUT_LLM_API_KEY", WORKER, "LLM API key"),
    key("llm.api_key_file", "TORGHUT_LLM_API_KEY_FILE", Text, Unset, WORKER, "file holding the LLM API key"),
    key("llm.model", "TORGHUT_LLM_MODEL", Text, Unset, WORKER, "model override"),
    key("llm.stream", "TORGHUT_LLM_STREAM", Bool, Value("false"), WORKER, "ask for a streamed answer"),
    // Data providers (worker).
    key("providers.bars_dir", "TORGHUT_BARS_DIR", Text, BuiltIn("the embedded activities/data/bars"), WORKER, "bar files"),
    key("providers.news_dir", "TORGHUT_NEWS_DIR", Text, BuiltIn("the embedded activities/data/news"), WORKER, "news files"),
    key("providers.news_scorer", "TORGHUT_NEWS_SCORER", Text, Value("model"), WORKER, "headline scorer: model or lexicon"),
    key("providers.fundamentals_dir", "TORGHUT_FUNDAMENTALS_DIR", Text, BuiltIn("the embedded activities/data/fundamentals"), WORKER, "company-facts files"),
    key("providers.clickhouse.url", "TORGHUT_CLICKHOUSE_URL", Text, Unset, WORKER, "ClickHouse HTTP interface"),
    key("providers.clickhouse.database", "TORGHUT_CLICKHOUSE_DATABASE", Text, Value("torghut"), WORKER, "ClickHouse database"),
    key("providers.clickhouse.user", "TORGHUT_CLICKHOUSE_USER", Text, Value("default"), WORKER, "ClickHouse user"),
    secret("providers.clickhouse.password", "TORGHUT_CLICKHOUSE_PASSWORD", WORKER, "ClickHouse password"),
    key("providers.clickhouse.password_file", "TORGHUT_CLICKHOUSE_PASSWORD_FILE", Text, Unset, WORKER, "file holding the ClickHouse password"),
    key("providers.clickhouse.window_size", "TORGHUT_CLICKHOUSE_WINDOW_SIZE", Text, Value("PT1S"), WORKER, "window_size of the rows read"),
    key("providers.clickhouse.timeout_seconds", "TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS", Integer, Value("5"), WORKER, "per ClickHouse request"),
    key("providers.alpaca_news.url", "TORGHUT_ALPACA_NEWS_URL", Text, Unset, WORKER, "Alpaca market-data base URL"),
    secret("providers.alpaca_news.key_id", "TORGHUT_ALPACA_KEY_ID", WORKER, "Alpaca key id"),
    key("providers.alpaca_news.key_id_file", "TORGHUT_ALPACA_KEY_ID_FILE", Text, Unset, WORKER, "file holding the Alpaca key id"),
    secret("providers.alpaca_news.secret_key", "TORGHUT_ALPACA_SECRET_KEY", WORKER, "Alpaca secret key"),
    key("providers.alpaca_news.secret_key_file", "TORGHUT_ALPACA_SECRET_KEY_FILE", Text, Unset, WORKER, "file holding the Alpaca secret key"),
    key("providers.alpaca_news.timeout_seconds", "TORGHUT_ALPACA_NEWS_TIMEOUT_SECONDS", Integer, Value("10"), WORKER, "per Alpaca request"),
    key("providers.edgar.url", "TORGHUT_EDGAR_URL", Text, Unset, WORKER, "SEC XBRL API base URL"),
    key("providers.edgar.tickers_url", "TORGHUT_EDGAR_TICKERS_URL", Text, Value("https://www.sec.gov/files/company_tickers.json"), WORKER, "ticker to CIK map"),
    key("providers.edgar.user_agent", "TORGHUT_EDGAR_USER_AGENT", Text, Unset, WORKER, "name and contact address the SEC requires"),
    key("providers.edgar.timeout_seconds", "TORGHUT_EDGAR_TIMEOUT_SECONDS", Integer, Value("10"), WORKER, "per EDGAR request"),
    key("providers.edgar.cache_seconds", "TORGHUT_EDGAR_CACHE_SECONDS", Integer, Value("300"), WORKER, "reuse of EDGAR documents"),
    // decisionctl only: an operator's command line, configured by flags and the environment.
    env_only("TORGHUT_GATEWAY_URL", Value("http://127.0.0.1:8080"), DECISIONCTL, "gateway base URL"),
];

/// The key whose config-file key is `file_key`.
pub fn by_file_key(file_key: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.file == Some(file_key))
}

/// The key read from variable `env`.
pub fn by_env(env: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.env == env)
}

/// The keys `binary` reads.
pub fn read_by(binary: Binary) -> impl Iterator<Item = &'static Key> {
    KEYS.iter().filter(move |k| k.read_by.contains(&binary))
}

/// True when `name` is a section of the config file (`providers`, `providers.edgar`, ...).
pub fn is_section(name: &str) -> bool {
    KEYS.iter()
        .filter_map(|k| k.file)
        .any(|f| f.len() > name.len() && f.starts_with(name) && f.as_bytes()[name.len()] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn file_keys_and_variables_are_unique() {
        let mut files = BTreeSet::new();
        let mut vars = BTreeSet::new();
        for k in KEYS {
            assert!(vars.insert(k.env), "{} twice", k.env);
            if let Some(f) = k.file {
                assert!(files.insert(f), "{f} twice");
                assert!(!is_section(f), "{f} is both a key and a section");
            }
        }
    }

    #[test]
    fn every_secret_can_come_from_a_file_named_in_the_config_file() {
        for k in KEYS.iter().filter(|k| k.secret) {
            let file_var = format!("{}_FILE", k.env);
            let file_key = by_env(&file_var).and_then(|f| f.file);
            assert_eq!(
                file_key,
                k.file.map(|f| format!("{f}_file")).as_deref(),
                "{} needs a {file_var} with the file key {:?}_file",
                k.env,
                k.file
            );
            assert_eq!(
                k.default,
                DefaultValue::Unset,
                "{}: a secret has no default",
                k.env
            );
        }
    }

    #[test]
    fn every_key_is_read_by_someone_and_documented_in_one_line() {
        for k in KEYS {
            assert!(!k.read_by.is_empty(), "{}", k.env);
            assert!(!k.doc.is_empty() && !k.doc.contains('\n'), "{}", k.env);
            assert!(
                k.env.starts_with("TORGHUT_") || k.env.starts_with("TEMPORAL_"),
                "{}",
                k.env
            );
        }
    }

    #[test]
    fn sections_are_the_prefixes_of_file_keys() {
        assert!(is_section("providers"));
        assert!(is_section("providers.edgar"));
        assert!(!is_section("provider"));
        assert!(!is_section("gateway.listen"));
    }
}
