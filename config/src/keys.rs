//! The one table of configuration keys. Every setting the binaries read is a row here: its
//! config-file key, its environment variable, its default, which binaries read it, and whether
//! it is a secret. docs/configuration.md documents the same rows, and a test holds the two (and
//! every variable named in the workspace's sources) together, so a new variable cannot be added
//! to one and forgotten in the others.
//!
//! Each row is also a `pub static` named after its variable, and the readers
//! (`TemporalSettings`, `GatewayConfig`, `WorkerSettings`, `Providers`) read a setting only
//! through its row ([`crate::Settings`]): its default and its parsing come from here, never from
//! a literal in the reader. The loader puts the config file's values into the environment first.

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

impl Key {
    /// The default as the variable would carry it; `None` when the row's default is `Unset` or
    /// `BuiltIn` (nothing a variable could hold).
    pub const fn default_value(&self) -> Option<&'static str> {
        match self.default {
            DefaultValue::Value(v) => Some(v),
            DefaultValue::Unset | DefaultValue::BuiltIn(_) => None,
        }
    }
}

use Binary::{Decisionctl, Gateway, Worker};

const ALL: &[Binary] = &[Gateway, Worker, Decisionctl];
const SERVICES: &[Binary] = &[Gateway, Worker];
const GATEWAY: &[Binary] = &[Gateway];
const WORKER: &[Binary] = &[Worker];
const DECISIONCTL: &[Binary] = &[Decisionctl];

const fn key(
    env: &'static str,
    file: &'static str,
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
    env: &'static str,
    file: &'static str,
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

/// Declares each row as a `pub static` named after its variable (so a reader names the row it
/// reads, `keys::TORGHUT_GATEWAY_LISTEN`, and cannot misspell it) and [`KEYS`], every row in
/// order. The variable's name is the row's name, written once.
macro_rules! table {
    ($( $(#[$doc:meta])* $env:ident : $make:ident ( $($arg:expr),* $(,)? ) ),* $(,)?) => {
        $(
            $(#[$doc])*
            pub static $env: Key = $make(stringify!($env), $($arg),*);
        )*
        /// Every setting, in the order docs/configuration.md and `--check-config` list them.
        pub static KEYS: &[&Key] = &[$(&$env),*];
    };
}

// One row a line, unformatted, so the table reads as a table.
#[rustfmt::skip]
table! {
    // Both services (and decisionctl, which reads these from its environment and flags).
    TEMPORAL_ADDRESS: key("temporal.address", Text, Value("http://127.0.0.1:7233"), ALL, "Temporal frontend URL"),
    TEMPORAL_NAMESPACE: key("temporal.namespace", Text, Value("default"), ALL, "Temporal namespace"),
    TORGHUT_TASK_QUEUE: key("temporal.task_queue", Text, Value("torghut-decision-engine"), ALL, "task queue of the workflows and activities"),
    TEMPORAL_TLS: key("temporal.tls", Bool, Value("false"), ALL, "TLS with the system roots"),
    TEMPORAL_TLS_CERT_FILE: key("temporal.tls_cert_file", Text, Unset, ALL, "PEM client certificate (mTLS)"),
    TEMPORAL_TLS_KEY_FILE: key("temporal.tls_key_file", Text, Unset, ALL, "PEM client key (mTLS)"),
    TEMPORAL_TLS_CA_FILE: key("temporal.tls_ca_file", Text, Unset, ALL, "PEM CA of the Temporal server"),
    TEMPORAL_TLS_SERVER_NAME: key("temporal.tls_server_name", Text, Unset, ALL, "name to verify the server certificate against"),
    TEMPORAL_API_KEY: secret("temporal.api_key", ALL, "Temporal API key"),
    TEMPORAL_API_KEY_FILE: key("temporal.api_key_file", Text, Unset, ALL, "file holding the Temporal API key"),
    TORGHUT_CONFIG_FILE: env_only(Unset, SERVICES, "the config file itself (`--config` wins)"),
    // Gateway.
    TORGHUT_GATEWAY_LISTEN: key("gateway.listen", Text, Value("127.0.0.1:8080"), GATEWAY, "listen address"),
    TORGHUT_SSE_HEARTBEAT_SECONDS: key("gateway.sse_heartbeat_seconds", Integer, Value("10"), GATEWAY, "SSE heartbeat interval"),
    TORGHUT_MIN_CONTEXT_QUALITY: key("gateway.min_context_quality", Decimal, Value("0.5"), GATEWAY, "quality gate of the decision policy"),
    TORGHUT_CALIBRATION_FILE: key("gateway.calibration_file", Text, BuiltIn("policy/calibration/default.json, compiled in"), GATEWAY, "calibration artifact of the decision policy"),
    TORGHUT_MARKET_CONTEXT_PROBE_SYMBOL: key("gateway.market_context_probe_symbol", Text, Value("SPY"), GATEWAY, "symbol of the market-context health probe"),
    TORGHUT_MARKET_CONTEXT_CACHE_SECONDS: key("gateway.market_context_cache_seconds", Integer, Value("60"), GATEWAY, "reuse of a merged market context"),
    TORGHUT_MARKET_CONTEXT_PUBLIC: key("gateway.market_context_public", Bool, Value("false"), GATEWAY, "market-context routes without a token"),
    TORGHUT_GATEWAY_SHUTDOWN_DELAY_SECONDS: key("gateway.shutdown_delay_seconds", Integer, Value("0"), GATEWAY, "readiness fails this long before draining"),
    TORGHUT_API_TOKENS: secret("gateway.api_tokens", GATEWAY, "bearer tokens"),
    TORGHUT_API_TOKENS_FILE: key("gateway.api_tokens_file", Text, Unset, GATEWAY, "file of bearer tokens"),
    TORGHUT_RATE_LIMIT_PER_MINUTE: key("gateway.rate_limit_per_minute", Integer, Value("600"), GATEWAY, "requests a minute per token"),
    TORGHUT_GATEWAY_HEADER_READ_TIMEOUT_SECONDS: key("gateway.header_read_timeout_seconds", Integer, Value("10"), GATEWAY, "time a connection has to send a request head"),
    TORGHUT_GATEWAY_IDLE_TIMEOUT_SECONDS: key("gateway.idle_timeout_seconds", Integer, Value("60"), GATEWAY, "close of a connection with no request and no byte"),
    TORGHUT_GATEWAY_MAX_CONNECTIONS: key("gateway.max_connections", Integer, Value("8192"), GATEWAY, "open connections in all"),
    TORGHUT_GATEWAY_MAX_CONNECTIONS_PER_PEER: key("gateway.max_connections_per_peer", Integer, Value("4096"), GATEWAY, "open connections per client address"),
    TORGHUT_LLM_TIMEOUT_SECONDS: key("llm.timeout_seconds", Integer, Value("60"), GATEWAY, "per-call timeout of llm-review"),
    TORGHUT_LLM_MAX_ATTEMPTS: key("llm.max_attempts", Integer, Value("3"), GATEWAY, "attempts of llm-review"),
    // Worker.
    TORGHUT_ADAPTER_POLICY: key("worker.adapter_policy", Text, Value("lean_paper_only"), WORKER, "execution adapters a decision may hint"),
    TORGHUT_ALPACA_HEALTHY: key("worker.alpaca_healthy", Bool, Value("true"), WORKER, "Alpaca adapter health as configured"),
    TORGHUT_LEAN_HEALTHY: key("worker.lean_healthy", Bool, Value("true"), WORKER, "LEAN adapter health as configured"),
    TORGHUT_RESERVATION_TTL_SECONDS: key("worker.reservation_ttl_seconds", Integer, Value("900"), WORKER, "lifetime of an exposure reservation"),
    TORGHUT_WORKER_METRICS_LISTEN: key("worker.metrics_listen", Text, Value("0.0.0.0:9464"), WORKER, "metrics listener (`off`: none)"),
    TORGHUT_FAULTS: env_only(Unset, WORKER, "fault injection for chaos tests"),
    TORGHUT_LLM_BASE_URL: key("llm.base_url", Text, Unset, WORKER, "OpenAI-compatible base URL"),
    TORGHUT_LLM_API_KEY: secret("llm.api_key", WORKER, "LLM API key"),
    TORGHUT_LLM_API_KEY_FILE: key("llm.api_key_file", Text, Unset, WORKER, "file holding the LLM API key"),
    TORGHUT_LLM_MODEL: key("llm.model", Text, Unset, WORKER, "model override"),
    TORGHUT_LLM_STREAM: key("llm.stream", Bool, Value("false"), WORKER, "ask for a streamed answer"),
    // Data providers (worker).
    TORGHUT_BARS_DIR: key("providers.bars_dir", Text, BuiltIn("the embedded activities/data/bars"), WORKER, "bar files"),
    TORGHUT_NEWS_DIR: key("providers.news_dir", Text, BuiltIn("the embedded activities/data/news"), WORKER, "news files"),
    TORGHUT_NEWS_SCORER: key("providers.news_scorer", Text, Value("model"), WORKER, "headline scorer: model or lexicon"),
    TORGHUT_FUNDAMENTALS_DIR: key("providers.fundamentals_dir", Text, BuiltIn("the embedded activities/data/fundamentals"), WORKER, "company-facts files"),
    TORGHUT_CLICKHOUSE_URL: key("providers.clickhouse.url", Text, Unset, WORKER, "ClickHouse HTTP interface"),
    TORGHUT_CLICKHOUSE_DATABASE: key("providers.clickhouse.database", Text, Value("torghut"), WORKER, "ClickHouse database"),
    TORGHUT_CLICKHOUSE_USER: key("providers.clickhouse.user", Text, Value("default"), WORKER, "ClickHouse user"),
    TORGHUT_CLICKHOUSE_PASSWORD: secret("providers.clickhouse.password", WORKER, "ClickHouse password"),
    TORGHUT_CLICKHOUSE_PASSWORD_FILE: key("providers.clickhouse.password_file", Text, Unset, WORKER, "file holding the ClickHouse password"),
    TORGHUT_CLICKHOUSE_WINDOW_SIZE: key("providers.clickhouse.window_size", Text, Value("PT1S"), WORKER, "window_size of the rows read"),
    TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS: key("providers.clickhouse.timeout_seconds", Integer, Value("5"), WORKER, "per ClickHouse request"),
    TORGHUT_ALPACA_NEWS_URL: key("providers.alpaca_news.url", Text, Unset, WORKER, "Alpaca market-data base URL"),
    TORGHUT_ALPACA_KEY_ID: secret("providers.alpaca_news.key_id", WORKER, "Alpaca key id"),
    TORGHUT_ALPACA_KEY_ID_FILE: key("providers.alpaca_news.key_id_file", Text, Unset, WORKER, "file holding the Alpaca key id"),
    TORGHUT_ALPACA_SECRET_KEY: secret("providers.alpaca_news.secret_key", WORKER, "Alpaca secret key"),
    TORGHUT_ALPACA_SECRET_KEY_FILE: key("providers.alpaca_news.secret_key_file", Text, Unset, WORKER, "file holding the Alpaca secret key"),
    TORGHUT_ALPACA_NEWS_TIMEOUT_SECONDS: key("providers.alpaca_news.timeout_seconds", Integer, Value("10"), WORKER, "per Alpaca request"),
    TORGHUT_EDGAR_URL: key("providers.edgar.url", Text, Unset, WORKER, "SEC XBRL API base URL"),
    TORGHUT_EDGAR_TICKERS_URL: key("providers.edgar.tickers_url", Text, Value("https://www.sec.gov/files/company_tickers.json"), WORKER, "ticker to CIK map"),
    TORGHUT_EDGAR_USER_AGENT: key("providers.edgar.user_agent", Text, Unset, WORKER, "name and contact address the SEC requires"),
    TORGHUT_EDGAR_TIMEOUT_SECONDS: key("providers.edgar.timeout_seconds", Integer, Value("10"), WORKER, "per EDGAR request"),
    TORGHUT_EDGAR_CACHE_SECONDS: key("providers.edgar.cache_seconds", Integer, Value("300"), WORKER, "reuse of EDGAR documents"),
    // decisionctl only: an operator's command line, configured by flags and the environment.
    TORGHUT_GATEWAY_URL: env_only(Value("http://127.0.0.1:8080"), DECISIONCTL, "gateway base URL"),
}

/// The key whose config-file key is `file_key`.
pub fn by_file_key(file_key: &str) -> Option<&'static Key> {
    KEYS.iter().copied().find(|k| k.file == Some(file_key))
}

/// The key read from variable `env`.
pub fn by_env(env: &str) -> Option<&'static Key> {
    KEYS.iter().copied().find(|k| k.env == env)
}

/// The keys `binary` reads.
pub fn read_by(binary: Binary) -> impl Iterator<Item = &'static Key> {
    KEYS.iter()
        .copied()
        .filter(move |k| k.read_by.contains(&binary))
}

/// Holds a reader's effective defaults to the table: `ours` pairs each variable with the value
/// the reader holds after reading an empty environment, as text. Fails naming the first value
/// that differs (a URL's added root path `/` aside); answers the rows of `binary` with a default
/// that `ours` does not name, for the caller to check its own way or refuse. The worker's and
/// the gateway's tests call it, so both compare alike.
pub fn unchecked_defaults(
    binary: Binary,
    ours: &[(&str, String)],
) -> Result<Vec<&'static Key>, String> {
    let mut unchecked = Vec::new();
    for key in read_by(binary) {
        let DefaultValue::Value(default) = key.default else {
            continue;
        };
        match ours.iter().find(|(var, _)| *var == key.env) {
            // `Url` adds the root path: http://127.0.0.1:7233/.
            Some((var, value)) if value.trim_end_matches('/') != default => {
                return Err(format!(
                    "{var}: the reader's default {value:?} differs from config/src/keys.rs ({default:?})"
                ));
            }
            Some(_) => {}
            None => unchecked.push(key),
        }
    }
    Ok(unchecked)
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
