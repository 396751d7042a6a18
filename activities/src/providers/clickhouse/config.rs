//! The ClickHouse provider's settings: read from `TORGHUT_CLICKHOUSE_*`, and validated once so
//! that everything the SQL builders and the HTTP headers take from them is known to be safe.

use super::*;
use torghut_config::{SettingError, Settings, keys};

/// Where and how to read. Built by [`ClickHouseConfig::from_settings`] in the worker, or by hand in
/// tests; [`ClickHouseBarProvider::new`] validates it either way.
#[derive(Debug, Clone)]
pub struct ClickHouseConfig {
    /// The HTTP interface, e.g. `http://clickhouse:8123`. Never carries credentials.
    pub url: url::Url,
    pub database: String,
    pub user: String,
    /// Sent as `X-ClickHouse-Key`; `Debug` prints it redacted.
    pub password: Option<Secret>,
    /// The `window_size` of the `ta_microbars` (and `ta_signals`) rows to read: `PT<n>S` with
    /// `n` dividing 60, or `PT1M`, so that windows tile the minute.
    pub window_size: String,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `var` is the environment variable to fix.
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("building the ClickHouse HTTP client: {0}")]
    Client(String),
}

pub(super) fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}

impl From<SettingError> for ConfigError {
    fn from(e: SettingError) -> Self {
        ConfigError::Invalid {
            var: e.var,
            reason: e.reason,
        }
    }
}

/// A request slower than this is an outage, whatever the setting says: the skills' activities
/// time out at 15 s.
const MAX_TIMEOUT_SECONDS: u64 = 120;

impl ClickHouseConfig {
    /// Reads `TORGHUT_CLICKHOUSE_*` through their rows of the key table (defaults included).
    /// `Ok(None)` when `TORGHUT_CLICKHOUSE_URL` is unset or blank: ClickHouse is optional and
    /// the worker falls back to the embedded bars. The password comes from
    /// `TORGHUT_CLICKHOUSE_PASSWORD`, else from the file `TORGHUT_CLICKHOUSE_PASSWORD_FILE` names
    /// (a mounted Secret).
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, ConfigError> {
        let Some(raw_url) = settings.set(&keys::TORGHUT_CLICKHOUSE_URL) else {
            return Ok(None);
        };
        let config = Self {
            url: parse_url(&raw_url)?,
            database: settings.text(&keys::TORGHUT_CLICKHOUSE_DATABASE)?,
            user: settings.text(&keys::TORGHUT_CLICKHOUSE_USER)?,
            password: settings
                .secret(
                    &keys::TORGHUT_CLICKHOUSE_PASSWORD,
                    &keys::TORGHUT_CLICKHOUSE_PASSWORD_FILE,
                )?
                .map(Secret::new),
            window_size: settings.text(&keys::TORGHUT_CLICKHOUSE_WINDOW_SIZE)?,
            timeout: Duration::from_secs(settings.seconds(
                &keys::TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS,
                1..=MAX_TIMEOUT_SECONDS,
            )?),
        };
        config.validate()?;
        Ok(Some(config))
    }

    /// Everything that ends up in SQL or in a header is checked here, once, so the query
    /// builders can rely on it.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        parse_url(self.url.as_str())?;
        if !is_identifier(&self.database) {
            return Err(invalid(
                keys::TORGHUT_CLICKHOUSE_DATABASE.env,
                format!(
                    "expected a database name of letters, digits and underscores, got {:?}",
                    self.database
                ),
            ));
        }
        if self.user.is_empty() || HeaderValue::from_str(&self.user).is_err() {
            return Err(invalid(
                keys::TORGHUT_CLICKHOUSE_USER.env,
                format!(
                    "expected a user name an HTTP header can carry, got {:?}",
                    self.user
                ),
            ));
        }
        if let Some(password) = &self.password
            && HeaderValue::from_str(password.expose()).is_err()
        {
            // The value itself is never echoed.
            return Err(invalid(
                keys::TORGHUT_CLICKHOUSE_PASSWORD.env,
                "contains characters an HTTP header cannot carry (control characters or non-ASCII)",
            ));
        }
        if let Err(reason) = check_window_size(&self.window_size) {
            return Err(invalid(keys::TORGHUT_CLICKHOUSE_WINDOW_SIZE.env, reason));
        }
        if self.timeout.is_zero() {
            return Err(invalid(
                keys::TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS.env,
                "must be positive",
            ));
        }
        Ok(())
    }
}

fn parse_url(raw: &str) -> Result<url::Url, ConfigError> {
    let var = keys::TORGHUT_CLICKHOUSE_URL.env;
    let url = url::Url::parse(raw).map_err(|e| {
        invalid(
            var,
            format!("expected a URL such as http://127.0.0.1:8123, got {raw:?}: {e}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            var,
            format!(
                "expected an http or https URL, got scheme {:?}",
                url.scheme()
            ),
        ));
    }
    // Credentials in a URL end up in logs and error messages; they have their own variables.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            var,
            "must not carry credentials; use TORGHUT_CLICKHOUSE_USER and TORGHUT_CLICKHOUSE_PASSWORD(_FILE)",
        ));
    }
    Ok(url)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

/// Minute aggregation is only right when the windows tile the minute: `PT<n>S` with `n`
/// dividing 60, or `PT1M`. A `PT5M` table would silently yield five-minute bars labelled as
/// minutes, so it is refused.
fn check_window_size(window: &str) -> Result<(), String> {
    let seconds = match window {
        "PT1M" => Some(60),
        w => w
            .strip_prefix("PT")
            .and_then(|rest| rest.strip_suffix('S'))
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u32>().ok()),
    };
    match seconds {
        Some(s) if (1..=60).contains(&s) && 60 % s == 0 => Ok(()),
        _ => Err(format!(
            "expected a window that tiles a minute (PT1S, PT5S, PT15S, PT30S, PT1M, …), got {window:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> Result<Option<ClickHouseConfig>, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ClickHouseConfig::from_settings(&Settings::from_lookup(move |name| map.get(name).cloned()))
    }

    fn var_of(result: Result<Option<ClickHouseConfig>, ConfigError>) -> String {
        match result {
            Err(ConfigError::Invalid { var, .. }) => var.to_owned(),
            other => panic!("expected an invalid variable, got {other:?}"),
        }
    }

    #[test]
    fn configuration_comes_from_the_environment_with_documented_defaults() {
        assert!(vars(&[]).expect("unset").is_none());
        assert!(
            vars(&[("TORGHUT_CLICKHOUSE_URL", " ")])
                .expect("empty")
                .is_none()
        );
        let c = vars(&[("TORGHUT_CLICKHOUSE_URL", "http://clickhouse:8123")])
            .expect("valid")
            .expect("configured");
        assert_eq!(c.url.as_str(), "http://clickhouse:8123/");
        assert_eq!(c.database, "torghut");
        assert_eq!(c.user, "default");
        assert!(c.password.is_none());
        assert_eq!(c.window_size, "PT1S");
        assert_eq!(c.timeout, Duration::from_secs(5));

        let c = vars(&[
            ("TORGHUT_CLICKHOUSE_URL", "https://ch.example:8443"),
            ("TORGHUT_CLICKHOUSE_DATABASE", "torghut_sim"),
            ("TORGHUT_CLICKHOUSE_USER", "reader"),
            ("TORGHUT_CLICKHOUSE_PASSWORD", "s3cret pw"),
            ("TORGHUT_CLICKHOUSE_WINDOW_SIZE", "PT1M"),
            ("TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS", "2"),
        ])
        .expect("valid")
        .expect("configured");
        assert_eq!(c.database, "torghut_sim");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("s3cret pw"));
        assert_eq!(c.window_size, "PT1M");
        assert_eq!(c.timeout, Duration::from_secs(2));
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
    }

    #[test]
    fn the_password_can_come_from_a_file() {
        let path = std::env::temp_dir().join(format!("ch-pw-test-{}", std::process::id()));
        std::fs::write(&path, "from-file\n").expect("write");
        let p = path.to_string_lossy().into_owned();
        let c = vars(&[
            ("TORGHUT_CLICKHOUSE_URL", "http://ch:8123"),
            ("TORGHUT_CLICKHOUSE_PASSWORD_FILE", &p),
        ])
        .expect("valid")
        .expect("configured");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("from-file"));
        // The variable wins over the file, as with the LLM key.
        let c = vars(&[
            ("TORGHUT_CLICKHOUSE_URL", "http://ch:8123"),
            ("TORGHUT_CLICKHOUSE_PASSWORD", "direct"),
            ("TORGHUT_CLICKHOUSE_PASSWORD_FILE", &p),
        ])
        .expect("valid")
        .expect("configured");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("direct"));
        std::fs::remove_file(&path).expect("cleanup");
        let err = vars(&[
            ("TORGHUT_CLICKHOUSE_URL", "http://ch:8123"),
            ("TORGHUT_CLICKHOUSE_PASSWORD_FILE", &p),
        ])
        .expect_err("file is gone");
        assert!(
            err.to_string()
                .starts_with("TORGHUT_CLICKHOUSE_PASSWORD_FILE: cannot read"),
            "{err}"
        );
    }

    #[test]
    fn configuration_errors_name_the_variable() {
        let url = ("TORGHUT_CLICKHOUSE_URL", "http://ch:8123");
        for (pairs, want) in [
            (
                vec![("TORGHUT_CLICKHOUSE_URL", "ch:8123")],
                "TORGHUT_CLICKHOUSE_URL",
            ),
            (
                vec![("TORGHUT_CLICKHOUSE_URL", "not a url")],
                "TORGHUT_CLICKHOUSE_URL",
            ),
            (
                vec![("TORGHUT_CLICKHOUSE_URL", "http://u:p@ch:8123")],
                "TORGHUT_CLICKHOUSE_URL",
            ),
            (
                vec![url, ("TORGHUT_CLICKHOUSE_DATABASE", "torghut; DROP")],
                "TORGHUT_CLICKHOUSE_DATABASE",
            ),
            (
                vec![url, ("TORGHUT_CLICKHOUSE_DATABASE", "`x`")],
                "TORGHUT_CLICKHOUSE_DATABASE",
            ),
            (
                vec![url, ("TORGHUT_CLICKHOUSE_USER", "a\u{7f}b")],
                "TORGHUT_CLICKHOUSE_USER",
            ),
            (
                vec![url, ("TORGHUT_CLICKHOUSE_PASSWORD", "line\nbreak")],
                "TORGHUT_CLICKHOUSE_PASSWORD",
            ),
            (
                vec![url, ("TORGHUT_CLICKHOUSE_WINDOW_SIZE", "PT5M")],
                "TORGHUT_CLICKHOUSE_WINDOW_SIZE",
            ),
            (
                vec![url, ("TORGHUT_CLICKHOUSE_WINDOW_SIZE", "PT7S")],
                "TORGHUT_CLICKHOUSE_WINDOW_SIZE",
            ),
            (
                vec![url, ("TORGHUT_CLICKHOUSE_WINDOW_SIZE", "1m")],
                "TORGHUT_CLICKHOUSE_WINDOW_SIZE",
            ),
            (
                vec![url, ("TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS", "0")],
                "TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS",
            ),
            (
                vec![url, ("TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS", "5s")],
                "TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS",
            ),
        ] {
            assert_eq!(var_of(vars(&pairs)), want, "{pairs:?}");
        }
        // The password is never echoed, even when it is the problem.
        let err =
            vars(&[url, ("TORGHUT_CLICKHOUSE_PASSWORD", "hunter2\n!")]).expect_err("bad password");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        for ok in ["PT1S", "PT2S", "PT5S", "PT15S", "PT30S", "PT60S", "PT1M"] {
            assert_eq!(check_window_size(ok), Ok(()), "{ok}");
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid time")
    }

    #[test]
    fn calls_outside_a_runtime_fail_instead_of_panicking() {
        let config = vars(&[("TORGHUT_CLICKHOUSE_URL", "http://127.0.0.1:9")])
            .expect("valid")
            .expect("configured");
        let p = ClickHouseBarProvider::new(config).expect("provider");
        assert!(matches!(
            p.minute_bars("IBM", utc(2013, 10, 8, 15, 0, 0), 5),
            Err(BarError::Unavailable(_))
        ));
        assert!(matches!(
            p.minute_bars("IBM'--", utc(2013, 10, 8, 15, 0, 0), 5),
            Err(BarError::UnknownSymbol(_))
        ));
    }
}
