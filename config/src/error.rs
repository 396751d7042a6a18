//! Why a config file was refused. Every message names the file and, past a syntax error, the key;
//! none repeats a value from the file, so a secret pasted into the wrong place is not echoed
//! into a log.

/// A config file that cannot be used; the binary stops before doing anything else.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: cannot read it: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    /// Line and column only: the parser's own message would quote the offending line.
    #[error("config file {path}: not valid TOML at line {line}, column {column}: {message}")]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config file {path}: unknown key `{key}`{}", did_you_mean(suggestion))]
    UnknownKey {
        path: String,
        key: String,
        suggestion: Option<&'static str>,
    },
    #[error("config file {path}: key `{key}`: expected {expected}, got {found}")]
    WrongType {
        path: String,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error(
        "config file {path}: key `{key}` is a secret, and secrets are never read from the config \
         file (it sits in a ConfigMap or a repository): set {env} in the environment, or put the \
         secret in a file (a mounted Secret) and set {env}_FILE or `{key}_file`"
    )]
    SecretInFile {
        path: String,
        key: &'static str,
        env: &'static str,
    },
}

fn did_you_mean(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => " (docs/configuration.md lists every key)".to_owned(),
    }
}
