//! The key table against what it describes: docs/configuration.md must document every key with
//! its file key, default and readers (and nothing else); every `TORGHUT_*`/`TEMPORAL_*` variable
//! named in the workspace's Rust sources must be in the table; the readers must read the
//! environment only through the table (`torghut_config::Settings`, which applies the row's
//! default and parsing), never by a variable's name; and the shipped config files must load.
//!
//! That the default each reader ends up with is the table's is checked per key by the readers'
//! own tests (`defaults_are_the_key_tables` in the gateway and the worker, the providers' tests
//! in activities), which this crate cannot depend on.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use torghut_config::keys::{Binary, DefaultValue, KEYS, Key};
use torghut_config::{Config, FileValues};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("config/ is inside the workspace")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = workspace().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Rows of the doc's settings tables: `| file key | variable | default | read by | meaning |`.
fn doc_rows() -> Vec<Vec<String>> {
    read("docs/configuration.md")
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.len() == 5 && cells[1].starts_with("`T"))
        .collect()
}

fn short(binary: Binary) -> &'static str {
    match binary {
        Binary::Gateway => "gateway",
        Binary::Worker => "worker",
        Binary::Decisionctl => "decisionctl",
    }
}

fn expected_row(key: &Key) -> [String; 4] {
    let file = match (key.file, key.secret) {
        (_, true) => "(secret)".to_owned(),
        (Some(f), false) => format!("`{f}`"),
        (None, false) => "(environment only)".to_owned(),
    };
    let default = match key.default {
        DefaultValue::Unset => "unset".to_owned(),
        DefaultValue::Value(v) => format!("`{v}`"),
        DefaultValue::BuiltIn(d) => d.to_owned(),
    };
    let read_by = key
        .read_by
        .iter()
        .map(|b| short(*b))
        .collect::<Vec<_>>()
        .join(", ");
    [file, format!("`{}`", key.env), default, read_by]
}

#[test]
fn the_documentation_lists_every_key_with_its_file_key_default_and_readers() {
    let rows = doc_rows();
    let mut problems = Vec::new();
    for key in KEYS {
        let expected = expected_row(key);
        match rows.iter().find(|r| r[1] == expected[1]) {
            None => problems.push(format!("{}: no row in docs/configuration.md", key.env)),
            Some(row) if row[..4] != expected => problems.push(format!(
                "{}: docs/configuration.md has\n    | {} |\n  the table (config/src/keys.rs) says\n    | {} |",
                key.env,
                row[..4].join(" | "),
                expected.join(" | ")
            )),
            Some(_) => {}
        }
    }
    for row in &rows {
        let var = row[1].trim_matches('`');
        if !KEYS.iter().any(|k| k.env == var) {
            problems.push(format!(
                "{var}: documented in docs/configuration.md but not in config/src/keys.rs"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `TORGHUT_X`/`TEMPORAL_X` names in `text`, except what names no variable: a prefix
/// (`format!("TORGHUT_{x}")`), a pattern (`TORGHUT_CLICKHOUSE_*`) and a Rust constant
/// (`const TORGHUT_TOKEN: &str`).
fn variable_names(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let is_name = |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_';
    let mut names = BTreeSet::new();
    for prefix in ["TORGHUT_", "TEMPORAL_"] {
        for (start, _) in text.match_indices(prefix) {
            if start > 0 && is_name(bytes[start - 1]) {
                continue;
            }
            let end = bytes[start..]
                .iter()
                .position(|c| !is_name(*c))
                .map_or(bytes.len(), |n| start + n);
            let name = text[start..end].trim_end_matches('_');
            let pattern = bytes.get(end) == Some(&b'*');
            let constant = text.contains(&format!("const {name}:"))
                || text.contains(&format!("static {name}:"));
            if name.len() > prefix.len() && !pattern && !constant {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            rust_sources(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_variable_named_in_the_sources_is_in_the_table() {
    let mut files = Vec::new();
    rust_sources(&workspace(), &mut files);
    assert!(
        files.len() > 50,
        "found only {} Rust files under {}",
        files.len(),
        workspace().display()
    );
    let mut missing = BTreeSet::new();
    // This file's own examples name no variable.
    files.retain(|f| !f.ends_with("config/tests/table.rs"));
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for name in variable_names(&text) {
            if !KEYS.iter().any(|k| k.env == name) {
                let relative = file.strip_prefix(workspace()).unwrap_or(file);
                missing.insert(format!("{name} ({})", relative.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "variables read in code but not in config/src/keys.rs (add a row there and in \
         docs/configuration.md):\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn variable_names_are_whole_names() {
    let names = variable_names(
        "env(\"TORGHUT_A_FILE\") TORGHUT_B(_FILE) format!(\"TORGHUT_{x}\") XTORGHUT_C TEMPORAL_D \
         TORGHUT_E_* const TORGHUT_F: &str",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["TEMPORAL_D", "TORGHUT_A_FILE", "TORGHUT_B"]
    );
}

/// The example with every commented-out `# key = value` line switched on.
fn example_with_every_setting_on() -> String {
    read("deploy/config.example.toml")
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("# ") else {
                return line.to_owned();
            };
            let is_setting = rest.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty()
                    && k.bytes()
                        .all(|c| c.is_ascii_lowercase() || c == b'_' || c == b'.')
            });
            if is_setting {
                rest.to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_example_file_loads_and_names_every_key_with_its_default() {
    let path = workspace().join("deploy/config.example.toml");
    FileValues::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let all = FileValues::parse(&path, &example_with_every_setting_on())
        .unwrap_or_else(|e| panic!("with every setting uncommented: {e}"));
    let mut problems = Vec::new();
    for key in KEYS.iter().filter(|k| k.file.is_some() && !k.secret) {
        match (all.values.get(key.env), key.default) {
            (None, _) => problems.push(format!("{:?} is not in the example", key.file)),
            (Some(v), DefaultValue::Value(d)) if v != d => problems.push(format!(
                "{:?}: the example shows {v:?}, the default is {d:?}",
                key.file
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_deployed_config_files_load_for_both_binaries() {
    let mut found = 0;
    let mut stack = vec![workspace().join("deploy")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("deploy/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                found += 1;
                for binary in [Binary::Gateway, Binary::Worker] {
                    Config::load(binary, Some(&path)).unwrap_or_else(|e| panic!("{binary:?}: {e}"));
                }
            }
        }
    }
    assert!(
        found >= 2,
        "expected the example and the base's config.toml"
    );
}

/// Where the environment may be read other than through the table: the table's own crate, the
/// OpenTelemetry SDK's standard `OTEL_*` variables (`telemetry/`, environment-only by their own
/// convention), and the test harness, which sets up and inspects child processes.
const NOT_READERS: &[&str] = &["config/", "telemetry/", "integration-tests/", "fuzz/"];

/// The part of a source file that ships: a `tests/`, `benches/` or `examples/` file is not, and
/// neither is a file's `#[cfg(test)]` module (by this workspace's convention, its last item).
fn shipped_code(relative: &Path, text: &str) -> Option<String> {
    let dirs = ["tests", "benches", "examples"];
    if relative
        .components()
        .any(|c| dirs.iter().any(|d| c.as_os_str() == *d))
    {
        return None;
    }
    Some(
        text.split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[test]
fn readers_read_the_environment_only_through_the_key_table() {
    let mut files = Vec::new();
    rust_sources(&workspace(), &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(workspace()).unwrap_or(file);
        let shown = relative.display().to_string();
        if NOT_READERS.iter().any(|d| shown.starts_with(d)) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let Some(code) = shipped_code(relative, &text) else {
            continue;
        };
        for call in ["env::var(", "env::var_os(", "env::vars("] {
            if code.contains(call) {
                problems.push(format!(
                    "{shown}: reads the environment with `{call}..)`; read the row of \
                     config/src/keys.rs through torghut_config::Settings instead"
                ));
            }
        }
        for key in KEYS {
            if code.contains(&format!("\"{}\"", key.env)) {
                problems.push(format!(
                    "{shown}: names {} by a string literal; use its row, keys::{}, so the \
                     default and the parsing are the table's",
                    key.env, key.env
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_reader_check_sees_what_it_should() {
    let lib = Path::new("worker/src/settings.rs");
    let code = shipped_code(lib, "let a = 1;\n#[cfg(test)]\nmod tests { \"TORGHUT_X\" }")
        .expect("a library file ships");
    assert!(!code.contains("TORGHUT_X"), "test modules are not readers");
    assert!(shipped_code(Path::new("gateway/tests/check_config.rs"), "").is_none());
    assert!(shipped_code(Path::new("activities/examples/x.rs"), "").is_none());
}
