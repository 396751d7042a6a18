//! Reading a setting through its row of the key table: the one family of environment helpers.
//!
//! Every reader of the gateway and the worker (`TemporalSettings`, `GatewayConfig`,
//! `WorkerSettings`, `Providers`) asks a [`Settings`] for a row of [`crate::keys`], never for a
//! variable by name. A row's default (`DefaultValue::Value`) goes through the same parsing as a
//! value that is set, so a reader has no default of its own that could drift from the table,
//! docs/configuration.md or `--check-config`; and every error names the variable, which
//! [`crate::Config::explain`] extends with the file key when the value came from the file.
//!
//! One rule for what "set" means, for every reader: surrounding whitespace is not part of a value,
//! and a blank value is unset (how an operator switches off a file's setting from the
//! environment). Secrets are the exception to the trimming: a key is taken as given.

use crate::keys::Key;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// A setting that is present but unusable, or required and missing. The process stops at start
/// with it rather than failing every decision later with a vaguer message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct SettingError {
    /// The variable to fix.
    pub var: &'static str,
    pub reason: String,
}

impl SettingError {
    pub fn new(key: &'static Key, reason: impl Into<String>) -> Self {
        Self {
            var: key.env,
            reason: reason.into(),
        }
    }
}

/// A variable's raw value, `None` when absent.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Where settings are read from: the process environment, or a lookup closure in tests.
pub struct Settings<'a> {
    lookup: Lookup<'a>,
}

impl Settings<'static> {
    /// The process environment, where [`crate::Config::export_to_env`] has put the config
    /// file's values. A value that is not UTF-8 is read lossily, so it fails its parsing with the
    /// variable's name instead of passing for unset.
    pub fn from_env() -> Self {
        Settings::from_lookup(|var| std::env::var_os(var).map(|v| v.to_string_lossy().into_owned()))
    }
}

impl<'a> Settings<'a> {
    /// Settings from `lookup` (a variable's raw value, `None` when absent).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// The value set for `key`, trimmed; `None` when absent or blank.
    pub fn set(&self, key: &Key) -> Option<String> {
        (self.lookup)(key.env)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The value in force: the one set, else the row's default value. `None`: unset, and the
    /// row's default is `Unset` (the feature is off) or `BuiltIn` (the reader's compiled-in one).
    pub fn value(&self, key: &Key) -> Option<String> {
        self.set(key)
            .or_else(|| key.default_value().map(str::to_owned))
    }

    /// `parse` applied to the value in force; its error becomes the variable's.
    pub fn parse<T>(
        &self,
        key: &'static Key,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, SettingError> {
        self.value(key)
            .map(|v| parse(&v).map_err(|reason| SettingError::new(key, reason)))
            .transpose()
    }

    /// As [`Self::parse`], for a row with a default value, so there is always one.
    pub fn get<T>(
        &self,
        key: &'static Key,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, SettingError> {
        self.parse(key, parse)?.ok_or_else(|| {
            SettingError::new(
                key,
                "required: unset, and config/src/keys.rs gives it no default",
            )
        })
    }

    /// A text setting with a default value.
    pub fn text(&self, key: &'static Key) -> Result<String, SettingError> {
        self.get(key, |v| Ok(v.to_owned()))
    }

    /// `true` or `false` (also `1` or `0`).
    pub fn flag(&self, key: &'static Key) -> Result<bool, SettingError> {
        self.get(key, |v| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(format!("expected true or false, got {other:?}")),
        })
    }

    /// Whole seconds within `range`.
    pub fn seconds<T>(&self, key: &'static Key, range: RangeInclusive<T>) -> Result<T, SettingError>
    where
        T: FromStr + PartialOrd + Display,
    {
        self.get(key, |v| whole(v, "whole seconds", &range))
    }

    /// A whole number (a count, a rate) within `range`.
    pub fn number<T>(&self, key: &'static Key, range: RangeInclusive<T>) -> Result<T, SettingError>
    where
        T: FromStr + PartialOrd + Display,
    {
        self.get(key, |v| whole(v, "a whole number", &range))
    }

    /// A secret's variable alone, taken as given (not trimmed); `None` when absent or blank.
    pub fn secret_value(&self, key: &Key) -> Option<String> {
        (self.lookup)(key.env).filter(|v| !v.trim().is_empty())
    }

    /// A secret from its variable (taken as given, not trimmed), else from the file `file`
    /// names (a mounted Secret; the file's surrounding whitespace trimmed). `None`: neither set.
    pub fn secret(
        &self,
        key: &'static Key,
        file: &'static Key,
    ) -> Result<Option<String>, SettingError> {
        if let Some(v) = self.secret_value(key) {
            return Ok(Some(v));
        }
        let Some(path) = self.set(file) else {
            return Ok(None);
        };
        std::fs::read_to_string(&path)
            .map(|text| Some(text.trim().to_owned()))
            .map_err(|e| SettingError::new(file, format!("cannot read {path}: {e}")))
    }
}

fn whole<T>(raw: &str, what: &str, range: &RangeInclusive<T>) -> Result<T, String>
where
    T: FromStr + PartialOrd + Display,
{
    let v: T = raw
        .parse()
        .map_err(|_| format!("expected {what}, got {raw:?}"))?;
    if !range.contains(&v) {
        return Err(format!(
            "expected {}..={}, got {v}",
            range.start(),
            range.end()
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{
        TORGHUT_ALPACA_KEY_ID, TORGHUT_ALPACA_KEY_ID_FILE, TORGHUT_GATEWAY_LISTEN,
        TORGHUT_LLM_BASE_URL, TORGHUT_MARKET_CONTEXT_PUBLIC, TORGHUT_RESERVATION_TTL_SECONDS,
        TORGHUT_SSE_HEARTBEAT_SECONDS,
    };
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Settings<'static> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(move |var| map.get(var).cloned())
    }

    #[test]
    fn an_unset_or_blank_value_is_the_tables_default() {
        for s in [
            settings(&[]),
            settings(&[("TORGHUT_GATEWAY_LISTEN", "")]),
            settings(&[("TORGHUT_GATEWAY_LISTEN", "  ")]),
        ] {
            assert_eq!(
                s.text(&TORGHUT_GATEWAY_LISTEN).as_deref(),
                Ok("127.0.0.1:8080")
            );
        }
        let set = settings(&[("TORGHUT_GATEWAY_LISTEN", " 0.0.0.0:80 ")]);
        assert_eq!(
            set.text(&TORGHUT_GATEWAY_LISTEN).as_deref(),
            Ok("0.0.0.0:80")
        );
        assert_eq!(settings(&[]).value(&TORGHUT_LLM_BASE_URL), None);
    }

    #[test]
    fn errors_name_the_variable_and_what_was_expected() {
        let s = settings(&[
            ("TORGHUT_SSE_HEARTBEAT_SECONDS", "99"),
            ("TORGHUT_RESERVATION_TTL_SECONDS", "soon"),
            ("TORGHUT_MARKET_CONTEXT_PUBLIC", "yes"),
        ]);
        let err = |r: Result<u32, SettingError>| r.map_err(|e| e.to_string());
        assert_eq!(
            err(s.seconds(&TORGHUT_SSE_HEARTBEAT_SECONDS, 5..=15)),
            Err("TORGHUT_SSE_HEARTBEAT_SECONDS: expected 5..=15, got 99".to_owned())
        );
        assert_eq!(
            err(s.seconds(&TORGHUT_RESERVATION_TTL_SECONDS, 1..=86_400)),
            Err("TORGHUT_RESERVATION_TTL_SECONDS: expected whole seconds, got \"soon\"".to_owned())
        );
        assert_eq!(
            s.flag(&TORGHUT_MARKET_CONTEXT_PUBLIC)
                .map_err(|e| e.to_string()),
            Err("TORGHUT_MARKET_CONTEXT_PUBLIC: expected true or false, got \"yes\"".to_owned())
        );
        assert_eq!(
            settings(&[]).text(&TORGHUT_LLM_BASE_URL).map_err(|e| e.var),
            Err("TORGHUT_LLM_BASE_URL"),
            "a row without a default is required when asked for one"
        );
    }

    #[test]
    fn a_secret_comes_from_its_variable_else_from_its_file() {
        let path = std::env::temp_dir().join(format!("config-secret-{}", std::process::id()));
        std::fs::write(&path, " from-file\n").expect("write");
        let file = path.to_str().expect("utf-8 path");
        let read = |pairs: &[(&str, &str)]| {
            settings(pairs).secret(&TORGHUT_ALPACA_KEY_ID, &TORGHUT_ALPACA_KEY_ID_FILE)
        };
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(
            read(&[("TORGHUT_ALPACA_KEY_ID_FILE", file)]),
            Ok(Some("from-file".to_owned()))
        );
        assert_eq!(
            read(&[
                ("TORGHUT_ALPACA_KEY_ID", " direct "),
                ("TORGHUT_ALPACA_KEY_ID_FILE", file)
            ]),
            Ok(Some(" direct ".to_owned())),
            "the variable wins, as given"
        );
        let missing = read(&[("TORGHUT_ALPACA_KEY_ID_FILE", "/nonexistent/key-id")]);
        assert_eq!(
            missing.map_err(|e| e.var),
            Err("TORGHUT_ALPACA_KEY_ID_FILE")
        );
        let _ = std::fs::remove_file(&path);
    }
}
