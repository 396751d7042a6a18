//! `torghut-gateway --check-config`, run as a process with a clean environment: a good file is
//! valid and every setting shows its source, a bad one fails naming the key, and no secret is
//! ever printed.

use std::path::PathBuf;
use std::process::Command;

const TOKEN: &str = "0123456789abcdef-token-never-printed";
const API_KEY: &str = "temporal-api-key-never-printed";

/// A file of this test's own under the temp dir.
fn write(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "torghut-gateway-check-{}-{name}",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("write temp file");
    path
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn gateway(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_torghut-gateway"))
        .arg("--check-config")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run torghut-gateway");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The report's columns for `var`: source, file key, variable, value.
fn row(stdout: &str, var: &str) -> Vec<String> {
    stdout
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(var))
        .unwrap_or_else(|| panic!("no row for {var} in\n{stdout}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_good_file_is_valid_and_each_value_shows_its_source() {
    let tokens = write("tokens", &format!("ops:{TOKEN}\n"));
    let file = write(
        "good.toml",
        &format!(
            "[temporal]\naddress = \"http://temporal.example:7233\"\n\n\
             [gateway]\nlisten = \"0.0.0.0:8080\"\napi_tokens_file = \"{}\"\n\n\
             [worker]\nreservation_ttl_seconds = 600\n\n\
             [providers.clickhouse]\nurl = \"http://clickhouse:8123\"\n",
            tokens.display()
        ),
    );
    let run = gateway(
        &["--config", &file.to_string_lossy()],
        &[
            ("TEMPORAL_API_KEY", API_KEY),
            ("TORGHUT_SSE_HEARTBEAT_SECONDS", "7"),
        ],
    );
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("torghut-gateway: configuration is valid\n")
    );
    assert!(
        run.stdout
            .contains(&format!("config file: {}", file.display()))
    );
    assert_eq!(row(&run.stdout, "TEMPORAL_ADDRESS")[0], "file");
    assert_eq!(
        row(&run.stdout, "TEMPORAL_ADDRESS")[3],
        "http://temporal.example:7233"
    );
    assert_eq!(
        row(&run.stdout, "TORGHUT_SSE_HEARTBEAT_SECONDS")[..2],
        ["env", "gateway.sse_heartbeat_seconds"]
    );
    assert_eq!(row(&run.stdout, "TORGHUT_SSE_HEARTBEAT_SECONDS")[3], "7");
    assert_eq!(
        row(&run.stdout, "TORGHUT_RATE_LIMIT_PER_MINUTE")[0],
        "default"
    );
    assert_eq!(
        row(&run.stdout, "TEMPORAL_API_KEY"),
        ["env", "temporal.api_key", "TEMPORAL_API_KEY", "<set>"]
    );
    assert_eq!(row(&run.stdout, "TORGHUT_API_TOKENS")[3], "<unset>");
    // The worker's keys in a shared file are neither refused nor shown.
    assert!(!run.stdout.contains("TORGHUT_RESERVATION_TTL_SECONDS"));
    assert!(!run.stdout.contains("TORGHUT_CLICKHOUSE_URL"));
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !all.contains(TOKEN) && !all.contains(API_KEY),
        "a secret was printed:\n{all}"
    );
}

#[test]
fn the_config_flag_wins_over_the_variable_and_the_environment_over_the_file() {
    let file = write(
        "bad-listen.toml",
        "[gateway]\nlisten = \"not an address\"\n",
    );
    let fixed = gateway(
        &["--config", &file.to_string_lossy()],
        &[
            ("TORGHUT_CONFIG_FILE", "/nonexistent/config.toml"),
            ("TORGHUT_GATEWAY_LISTEN", "127.0.0.1:9000"),
        ],
    );
    assert!(fixed.ok, "{}", fixed.stderr);
    assert_eq!(
        row(&fixed.stdout, "TORGHUT_GATEWAY_LISTEN")[3],
        "127.0.0.1:9000"
    );
    let from_variable = gateway(&[], &[("TORGHUT_CONFIG_FILE", &file.to_string_lossy())]);
    assert!(!from_variable.ok);
    assert!(
        from_variable.stderr.contains(&format!(
            "TORGHUT_GATEWAY_LISTEN (config file {}, key gateway.listen): expected host:port",
            file.display()
        )),
        "{}",
        from_variable.stderr
    );
}

#[test]
fn a_bad_file_fails_naming_the_key() {
    for (name, text, expected) in [
        (
            "typo.toml",
            "[gateway]\nlistn = \"0.0.0.0:8080\"\n",
            "unknown key `gateway.listn` (did you mean `gateway.listen`?)",
        ),
        (
            "type.toml",
            "[gateway]\nsse_heartbeat_seconds = \"ten\"\n",
            "key `gateway.sse_heartbeat_seconds`: expected an integer, got string",
        ),
        (
            "secret.toml",
            &format!("[temporal]\napi_key = \"{API_KEY}\"\n"),
            "key `temporal.api_key` is a secret",
        ),
        (
            "range.toml",
            "[gateway]\nsse_heartbeat_seconds = 60\n",
            "TORGHUT_SSE_HEARTBEAT_SECONDS (config file",
        ),
    ] {
        let file = write(name, text);
        let run = gateway(&["--config", &file.to_string_lossy()], &[]);
        assert!(!run.ok, "{name}: {}", run.stdout);
        assert!(run.stderr.contains(expected), "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains(&file.display().to_string()),
            "{name}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains(API_KEY), "{name}: {}", run.stderr);
        assert!(!run.stdout.contains("configuration is valid"), "{name}");
    }
}
