//! The loader through its public interface: a file and an environment in, values with their
//! sources (or an error naming the key) out. No test touches the process environment.

use std::collections::HashMap;
use std::path::Path;
use torghut_config::{Binary, Config, ConfigError, FileValues, Shown, Source};

const PATH: &str = "/etc/torghut/config.toml";

fn parse(text: &str) -> Result<FileValues, ConfigError> {
    FileValues::parse(Path::new(PATH), text)
}

fn resolve(binary: Binary, text: &str, env: &[(&str, &str)]) -> Config {
    let file = parse(text).expect("valid file");
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::resolve(binary, Some(file), |var| env.get(var).cloned())
}

fn setting(config: &Config, var: &str) -> (Source, Shown) {
    let s = config
        .settings()
        .iter()
        .find(|s| s.key.env == var)
        .unwrap_or_else(|| panic!("{var} is not a setting of {:?}", config.binary()));
    (s.source, s.value.clone())
}

const GOOD: &str = r#"
[temporal]
address = "http://temporal:7233"
namespace = "torghut-paper"
tls = false
api_key_file = "/var/run/secrets/temporal/api-key"

[gateway]
listen = "0.0.0.0:8080"
sse_heartbeat_seconds = 5
min_context_quality = 0.55

[llm]
timeout_seconds = 30
stream = true

[providers.clickhouse]
url = "http://clickhouse:8123"
timeout_seconds = 7
"#;

#[test]
fn a_file_sets_variables_with_their_text() {
    let file = parse(GOOD).expect("valid");
    for (var, text) in [
        ("TEMPORAL_ADDRESS", "http://temporal:7233"),
        ("TEMPORAL_TLS", "false"),
        ("TORGHUT_SSE_HEARTBEAT_SECONDS", "5"),
        ("TORGHUT_MIN_CONTEXT_QUALITY", "0.55"),
        ("TORGHUT_LLM_STREAM", "true"),
        ("TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS", "7"),
        ("TEMPORAL_API_KEY_FILE", "/var/run/secrets/temporal/api-key"),
    ] {
        assert_eq!(
            file.values.get(var).map(String::as_str),
            Some(text),
            "{var}"
        );
    }
    // Dotted keys are the same keys.
    let dotted = parse("gateway.listen = \"0.0.0.0:1\"\nproviders.edgar.url = \"https://x\"")
        .expect("dotted");
    assert_eq!(dotted.values["TORGHUT_GATEWAY_LISTEN"], "0.0.0.0:1");
    assert_eq!(dotted.values["TORGHUT_EDGAR_URL"], "https://x");
    assert!(parse("").expect("empty").values.is_empty());
}

#[test]
fn an_unknown_key_is_refused_with_the_file_and_a_suggestion() {
    let e = parse("[gateway]\nlisten = \"x\"\nlistn = \"y\"").expect_err("typo");
    assert!(
        matches!(&e, ConfigError::UnknownKey { key, suggestion: Some("gateway.listen"), .. } if key == "gateway.listn")
    );
    assert_eq!(
        e.to_string(),
        "config file /etc/torghut/config.toml: unknown key `gateway.listn` (did you mean `gateway.listen`?)"
    );
    let e = parse("TORGHUT_TASK_QUEUE = \"q\"").expect_err("variable as key");
    assert!(
        e.to_string()
            .contains("did you mean `temporal.task_queue`?"),
        "{e}"
    );
    let e = parse("[nonsense]\nx = 1").expect_err("unknown section");
    assert!(e.to_string().contains("unknown key `nonsense`"), "{e}");
    // Environment-only settings have no file key.
    let e = parse("[worker]\nfaults = \"x\"").expect_err("faults");
    assert!(e.to_string().contains("unknown key `worker.faults`"), "{e}");
}

#[test]
fn a_value_of_the_wrong_type_names_the_key() {
    for (text, key, expected, found) in [
        (
            "[gateway]\nlisten = 8080",
            "gateway.listen",
            "a string",
            "integer",
        ),
        (
            "[gateway.listen]\nhost = \"x\"",
            "gateway.listen",
            "a string",
            "table",
        ),
        (
            "[temporal]\ntls = \"yes\"",
            "temporal.tls",
            "true or false",
            "string",
        ),
        (
            "[worker]\nreservation_ttl_seconds = 1.5",
            "worker.reservation_ttl_seconds",
            "an integer",
            "float",
        ),
        (
            "[gateway]\nmin_context_quality = \"0.5\"",
            "gateway.min_context_quality",
            "a number",
            "string",
        ),
        (
            "[gateway]\nmin_context_quality = nan",
            "gateway.min_context_quality",
            "a number",
            "float",
        ),
        (
            "providers = \"x\"",
            "providers",
            "a table (a [section] of keys)",
            "string",
        ),
    ] {
        let e = parse(text).expect_err(text);
        assert!(
            matches!(&e, ConfigError::WrongType { key: k, expected: x, found: f, .. } if k == key && *x == expected && *f == found),
            "{text}: {e}"
        );
        assert!(e.to_string().contains(PATH), "{e}");
    }
}

#[test]
fn a_secret_in_the_file_is_refused_without_echoing_it() {
    for (key, var) in [
        ("temporal.api_key", "TEMPORAL_API_KEY"),
        ("gateway.api_tokens", "TORGHUT_API_TOKENS"),
        ("llm.api_key", "TORGHUT_LLM_API_KEY"),
        (
            "providers.clickhouse.password",
            "TORGHUT_CLICKHOUSE_PASSWORD",
        ),
        ("providers.alpaca_news.key_id", "TORGHUT_ALPACA_KEY_ID"),
        (
            "providers.alpaca_news.secret_key",
            "TORGHUT_ALPACA_SECRET_KEY",
        ),
    ] {
        let text = format!("{key} = \"hunter2-very-secret\"");
        let e = parse(&text).expect_err(key);
        let message = e.to_string();
        assert!(
            matches!(e, ConfigError::SecretInFile { key: k, env, .. } if k == key && env == var),
            "{message}"
        );
        assert!(message.contains(&format!("{var}_FILE")), "{message}");
        assert!(message.contains(&format!("`{key}_file`")), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        // Its _file form is what the file may hold.
        parse(&format!("{key}_file = \"/var/run/secrets/x\"")).expect("a secret's file path");
    }
}

#[test]
fn a_syntax_error_gives_the_place_but_not_the_line() {
    let e = parse("[gateway]\nlisten = \"0.0.0.0:8080\"\ntemporal.api_key = \"s3cr3t-value")
        .expect_err("syntax");
    let message = e.to_string();
    assert!(
        matches!(e, ConfigError::Syntax { line: 3, .. }),
        "{message}"
    );
    assert!(!message.contains("s3cr3t"), "{message}");
}

#[test]
fn an_unreadable_file_is_named() {
    let e = Config::load(
        Binary::Gateway,
        Some(Path::new("/nonexistent/torghut.toml")),
    )
    .expect_err("missing");
    assert!(
        e.to_string()
            .starts_with("config file /nonexistent/torghut.toml: cannot read it"),
        "{e}"
    );
}

#[test]
fn the_environment_wins_over_the_file_and_the_file_over_the_default() {
    let config = resolve(
        Binary::Gateway,
        GOOD,
        &[
            ("TORGHUT_GATEWAY_LISTEN", "127.0.0.1:9999"),
            ("TEMPORAL_TLS_CA_FILE", ""),
        ],
    );
    assert_eq!(
        setting(&config, "TORGHUT_GATEWAY_LISTEN"),
        (Source::Env, Shown::Text("127.0.0.1:9999".into()))
    );
    assert_eq!(
        setting(&config, "TEMPORAL_ADDRESS"),
        (Source::File, Shown::Text("http://temporal:7233".into()))
    );
    assert_eq!(
        setting(&config, "TORGHUT_RATE_LIMIT_PER_MINUTE"),
        (Source::Default, Shown::Text("600".into()))
    );
    assert_eq!(
        setting(&config, "TEMPORAL_TLS_SERVER_NAME"),
        (Source::Default, Shown::Unset)
    );
    // Present but empty is the environment's: how an operator switches a file's setting off.
    assert_eq!(
        setting(&config, "TEMPORAL_TLS_CA_FILE"),
        (Source::Env, Shown::Text(String::new()))
    );
    // Only what the environment does not set is exported.
    let exported: Vec<_> = config.from_file().map(|(var, _)| var).collect();
    assert!(exported.contains(&"TEMPORAL_ADDRESS"));
    assert!(!exported.contains(&"TORGHUT_GATEWAY_LISTEN"));
}

#[test]
fn each_binary_takes_only_its_own_keys_from_a_shared_file() {
    let gateway = resolve(Binary::Gateway, GOOD, &[]);
    let worker = resolve(Binary::Worker, GOOD, &[]);
    let gateway_vars: Vec<_> = gateway.from_file().map(|(v, _)| v).collect();
    let worker_vars: Vec<_> = worker.from_file().map(|(v, _)| v).collect();
    assert!(gateway_vars.contains(&"TORGHUT_GATEWAY_LISTEN"));
    assert!(!gateway_vars.contains(&"TORGHUT_CLICKHOUSE_URL"));
    assert!(worker_vars.contains(&"TORGHUT_CLICKHOUSE_URL"));
    assert!(!worker_vars.contains(&"TORGHUT_GATEWAY_LISTEN"));
    assert!(
        gateway_vars.contains(&"TEMPORAL_ADDRESS") && worker_vars.contains(&"TEMPORAL_ADDRESS")
    );
    assert!(
        worker
            .settings()
            .iter()
            .all(|s| s.key.read_by.contains(&Binary::Worker))
    );
}

#[test]
fn defaults_without_a_file() {
    let config = Config::resolve(Binary::Worker, None, |_| None);
    assert!(config.file().is_none());
    assert!(
        config
            .settings()
            .iter()
            .all(|s| s.source == Source::Default)
    );
    assert_eq!(
        setting(&config, "TORGHUT_ADAPTER_POLICY").1,
        Shown::Text("lean_paper_only".into())
    );
    assert_eq!(
        setting(&config, "TORGHUT_BARS_DIR").1,
        Shown::BuiltIn("the embedded activities/data/bars")
    );
    assert_eq!(config.from_file().count(), 0);
}

#[test]
fn the_report_shows_sources_and_never_a_secret() {
    let config = resolve(
        Binary::Worker,
        GOOD,
        &[
            ("TORGHUT_LLM_API_KEY", "sk-live-do-not-print"),
            (
                "TORGHUT_LLM_BASE_URL",
                "https://user:pw-do-not-print@llm.example/v1",
            ),
            ("TORGHUT_CLICKHOUSE_PASSWORD", ""),
        ],
    );
    let report = config.report().to_string();
    assert!(
        report.starts_with(&format!("config file: {PATH}\n")),
        "{report}"
    );
    let line = |var: &str| {
        report
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(var))
            .unwrap_or_else(|| panic!("no line for {var} in\n{report}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("TORGHUT_LLM_API_KEY"),
        ["env", "llm.api_key", "TORGHUT_LLM_API_KEY", "<set>"]
    );
    assert_eq!(
        line("TORGHUT_CLICKHOUSE_PASSWORD"),
        [
            "env",
            "providers.clickhouse.password",
            "TORGHUT_CLICKHOUSE_PASSWORD",
            "<unset>"
        ]
    );
    assert_eq!(
        line("TORGHUT_ALPACA_SECRET_KEY"),
        [
            "default",
            "providers.alpaca_news.secret_key",
            "TORGHUT_ALPACA_SECRET_KEY",
            "<unset>"
        ]
    );
    assert_eq!(
        line("TORGHUT_CLICKHOUSE_URL"),
        [
            "file",
            "providers.clickhouse.url",
            "TORGHUT_CLICKHOUSE_URL",
            "http://clickhouse:8123"
        ]
    );
    assert_eq!(
        line("TORGHUT_RESERVATION_TTL_SECONDS")[..2],
        ["default", "worker.reservation_ttl_seconds"]
    );
    assert_eq!(
        line("TORGHUT_FAULTS"),
        ["default", "-", "TORGHUT_FAULTS", "<unset>"]
    );
    assert_eq!(
        line("TORGHUT_LLM_BASE_URL")[3],
        "https://<redacted>@llm.example/v1"
    );
    assert!(!report.contains("do-not-print"), "{report}");
    assert!(
        !report.contains("TORGHUT_GATEWAY_LISTEN"),
        "a gateway key in the worker's report"
    );
    let none = Config::resolve(Binary::Gateway, None, |_| None)
        .report()
        .to_string();
    assert!(none.starts_with("config file: none"), "{none}");
}

#[test]
fn a_readers_error_about_a_file_value_names_the_file_key() {
    let config = resolve(
        Binary::Gateway,
        "[gateway]\nlisten = \"nope\"\napi_tokens_file = \"/x\"",
        &[("TORGHUT_SSE_HEARTBEAT_SECONDS", "99")],
    );
    assert_eq!(
        config.explain("TORGHUT_GATEWAY_LISTEN: expected host:port, got \"nope\""),
        "TORGHUT_GATEWAY_LISTEN (config file /etc/torghut/config.toml, key gateway.listen): expected host:port, got \"nope\""
    );
    // A variable set in the environment is the environment's to fix: no file key.
    let env = "TORGHUT_SSE_HEARTBEAT_SECONDS: expected 5..=15, got 99";
    assert_eq!(config.explain(env), env);
    // Whole names only: TORGHUT_API_TOKENS is not inside TORGHUT_API_TOKENS_FILE.
    assert_eq!(
        config.explain("TORGHUT_API_TOKENS_FILE: cannot read /x"),
        "TORGHUT_API_TOKENS_FILE (config file /etc/torghut/config.toml, key gateway.api_tokens_file): cannot read /x"
    );
    let no_file = Config::resolve(Binary::Gateway, None, |_| None);
    assert_eq!(
        no_file.explain("TORGHUT_GATEWAY_LISTEN: bad"),
        "TORGHUT_GATEWAY_LISTEN: bad"
    );
}
