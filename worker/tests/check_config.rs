//! `torghut-worker --check-config`, run as a process with a clean environment: the providers are
//! built from a file (without connecting to them), errors name the file key, and no secret is
//! ever printed.

use std::path::PathBuf;
use std::process::Command;

const PASSWORD: &str = "clickhouse-password-never-printed";
const LLM_KEY: &str = "sk-llm-key-never-printed";

fn write(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "torghut-worker-check-{}-{name}",
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

fn worker(file: &PathBuf, env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_torghut-worker"))
        .args(["--check-config", "--config"])
        .arg(file)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run torghut-worker");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

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
fn providers_from_a_file_are_checked_without_connecting() {
    let password = write("password", PASSWORD);
    let file = write(
        "good.toml",
        &format!(
            "[temporal]\nnamespace = \"torghut-paper\"\n\n\
             [gateway]\nlisten = \"0.0.0.0:8080\"\n\n\
             [worker]\nadapter_policy = \"alpaca_only\"\n\n\
             [llm]\nbase_url = \"http://127.0.0.1:9/v1\"\n\n\
             [providers.clickhouse]\nurl = \"http://127.0.0.1:9\"\npassword_file = \"{}\"\n",
            password.display()
        ),
    );
    let run = worker(&file, &[("TORGHUT_LLM_API_KEY", LLM_KEY)]);
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("torghut-worker: configuration is valid\n")
    );
    assert_eq!(
        row(&run.stdout, "TORGHUT_ADAPTER_POLICY")[..2],
        ["file", "worker.adapter_policy"]
    );
    assert_eq!(
        row(&run.stdout, "TORGHUT_CLICKHOUSE_PASSWORD_FILE")[0],
        "file"
    );
    assert_eq!(
        row(&run.stdout, "TORGHUT_CLICKHOUSE_PASSWORD")[..],
        [
            "default",
            "providers.clickhouse.password",
            "TORGHUT_CLICKHOUSE_PASSWORD",
            "<unset>"
        ]
    );
    assert_eq!(row(&run.stdout, "TORGHUT_LLM_API_KEY")[3], "<set>");
    assert_eq!(
        row(&run.stdout, "TORGHUT_RESERVATION_TTL_SECONDS")[3],
        "900"
    );
    assert_eq!(row(&run.stdout, "TORGHUT_FAULTS")[1], "-");
    assert!(!run.stdout.contains("TORGHUT_GATEWAY_LISTEN"));
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !all.contains(PASSWORD) && !all.contains(LLM_KEY),
        "a secret was printed:\n{all}"
    );
}

#[test]
fn a_readers_error_names_the_file_key() {
    for (name, text, expected) in [
        (
            "ttl.toml",
            "[worker]\nreservation_ttl_seconds = 0\n",
            "TORGHUT_RESERVATION_TTL_SECONDS (config file {file}, key worker.reservation_ttl_seconds): expected 1..=86400, got 0",
        ),
        (
            "alpaca.toml",
            "[providers.alpaca_news]\nurl = \"https://data.alpaca.markets\"\n",
            "TORGHUT_ALPACA_KEY_ID: required (or TORGHUT_ALPACA_KEY_ID_FILE)",
        ),
        (
            "secret-file.toml",
            "[providers.alpaca_news]\nurl = \"https://data.alpaca.markets\"\nkey_id_file = \"/nonexistent/key-id\"\n",
            "TORGHUT_ALPACA_KEY_ID_FILE (config file {file}, key providers.alpaca_news.key_id_file)",
        ),
        (
            "secret.toml",
            &format!("[providers.clickhouse]\npassword = \"{PASSWORD}\"\n"),
            "set TORGHUT_CLICKHOUSE_PASSWORD in the environment, or put the secret in a file",
        ),
    ] {
        let file = write(name, text);
        let expected = expected.replace("{file}", &file.display().to_string());
        let run = worker(&file, &[]);
        assert!(!run.ok, "{name}: {}", run.stdout);
        assert!(run.stderr.contains(&expected), "{name}: {}", run.stderr);
        assert!(!run.stderr.contains(PASSWORD), "{name}: {}", run.stderr);
    }
}
