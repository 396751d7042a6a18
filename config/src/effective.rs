//! One binary's effective configuration: for every key it reads, the value in force and where it
//! came from. The environment wins over the file (a Kubernetes `env:` or Secret overrides the
//! ConfigMap's file), the file over the default.

use crate::error::ConfigError;
use crate::file::FileValues;
use crate::keys::{self, Binary, DefaultValue, Key};
use std::path::{Path, PathBuf};

/// The variable naming the config file; `--config PATH` wins over it.
pub const CONFIG_FILE_VAR: &str = keys::TORGHUT_CONFIG_FILE.env;

/// The config file to read: the `--config` flag's path, else `TORGHUT_CONFIG_FILE`'s; empty is
/// unset, as for every variable.
pub fn config_file_path(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| std::env::var_os(CONFIG_FILE_VAR).map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty())
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Env,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "file",
            Source::Env => "env",
        }
    }
}

/// What may be shown of a value. A secret's value is never kept, so it cannot be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    Unset,
    Secret {
        set: bool,
    },
    Text(String),
    /// The binary's own default, described.
    BuiltIn(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: &'static Key,
    pub source: Source,
    pub value: Shown,
}

/// The configuration of one binary, resolved but not yet handed to its readers.
#[derive(Debug)]
pub struct Config {
    binary: Binary,
    file: Option<FileValues>,
    settings: Vec<Setting>,
}

impl Config {
    /// Reads the config file, if there is one, and resolves it against the process environment.
    pub fn load(binary: Binary, file: Option<&Path>) -> Result<Self, ConfigError> {
        let file = file.map(FileValues::read).transpose()?;
        Ok(Self::resolve(binary, file, |var| {
            std::env::var_os(var).map(|v| v.to_string_lossy().into_owned())
        }))
    }

    /// Each key `binary` reads: from `env` if the variable is present there (even empty, which
    /// the readers take as unset: how an operator switches off a file's setting), else from
    /// the file, else its default.
    pub fn resolve(
        binary: Binary,
        file: Option<FileValues>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let settings = keys::read_by(binary)
            // The file's own location is reported in the header, not as a setting of itself.
            .filter(|key| key.env != CONFIG_FILE_VAR)
            .map(|key| {
                let from_file = file.as_ref().and_then(|f| f.values.get(key.env)).cloned();
                let (source, raw) = match (env(key.env), from_file) {
                    (Some(v), _) => (Source::Env, Some(v)),
                    (None, Some(v)) => (Source::File, Some(v)),
                    (None, None) => (Source::Default, None),
                };
                let value = match (key.secret, raw, key.default) {
                    (true, raw, _) => Shown::Secret {
                        set: raw.is_some_and(|v| !v.trim().is_empty()),
                    },
                    (false, Some(v), _) => Shown::Text(v),
                    (false, None, DefaultValue::Value(d)) => Shown::Text(d.to_owned()),
                    (false, None, DefaultValue::BuiltIn(d)) => Shown::BuiltIn(d),
                    (false, None, DefaultValue::Unset) => Shown::Unset,
                };
                Setting { key, source, value }
            })
            .collect();
        Self {
            binary,
            file,
            settings,
        }
    }

    pub fn binary(&self) -> Binary {
        self.binary
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path.as_path())
    }

    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// The variables this binary takes from the file: those the environment does not set.
    pub fn from_file(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.settings
            .iter()
            .filter(|s| s.source == Source::File)
            .filter_map(|s| {
                let value = self.file.as_ref()?.values.get(s.key.env)?;
                Some((s.key.env, value.as_str()))
            })
    }

    /// Puts the file's values into the process environment, where the existing readers
    /// (`TemporalSettings::from_env`, `Providers::from_env`, ...) find them; variables the
    /// environment already has are left alone.
    ///
    /// # Safety
    ///
    /// No other thread may exist that reads or writes the environment: call it first thing in
    /// `main`, before the tokio runtime (or anything else) starts a thread.
    pub unsafe fn export_to_env(&self) {
        for (var, value) in self.from_file() {
            // SAFETY: the caller guarantees the process is still single-threaded.
            unsafe { std::env::set_var(var, value) };
        }
    }

    /// `message` (a reader's error) with every variable that came from the file followed by
    /// where in the file it came from, so the operator edits the right place:
    /// `TORGHUT_GATEWAY_LISTEN (config file /etc/torghut/config.toml, key gateway.listen): ...`.
    pub fn explain(&self, message: &str) -> String {
        let Some(path) = self.file() else {
            return message.to_owned();
        };
        let mut out = message.to_owned();
        for setting in self.settings.iter().filter(|s| s.source == Source::File) {
            let (Some(file_key), Some(at)) =
                (setting.key.file, find_variable(&out, setting.key.env))
            else {
                continue;
            };
            let end = at + setting.key.env.len();
            out.insert_str(
                end,
                &format!(" (config file {}, key {file_key})", path.display()),
            );
        }
        out
    }
}

/// Byte offset of `var` in `text` as a whole name: `TORGHUT_API_TOKENS` is not found inside
/// `TORGHUT_API_TOKENS_FILE`.
fn find_variable(text: &str, var: &str) -> Option<usize> {
    let is_name = |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_';
    text.match_indices(var).map(|(i, _)| i).find(|&i| {
        let before = i.checked_sub(1).map(|j| text.as_bytes()[j]);
        let after = text.as_bytes().get(i + var.len()).copied();
        !before.is_some_and(is_name) && !after.is_some_and(is_name)
    })
}
