//! What the HTTP-backed providers share: running async I/O from the synchronous provider traits,
//! and the parsing of their settings (URLs, credentials, timeouts), read through the key table
//! ([`Settings`]) so defaults and errors are the table's.

use crate::secret::Secret;
use crate::skill::SkillError;
use std::future::Future;
use std::time::Duration;
use torghut_config::keys::Key;
use torghut_config::{SettingError, Settings};
use url::Url;

/// Provider traits are synchronous and always called on a blocking-pool thread (the activities
/// and the market-context service use `spawn_blocking`), so the runtime's handle can drive the
/// request there without starving the async workers.
pub(crate) fn block_on_io<T>(
    fut: impl Future<Output = Result<T, SkillError>>,
) -> Result<T, SkillError> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.block_on(fut),
        Err(_) => Err(SkillError::Unavailable(
            "HTTP provider called outside a tokio runtime".to_owned(),
        )),
    }
}

/// An http(s) base URL, `None` when unset; a trailing '/' added so `Url::join` appends.
pub(crate) fn base_url(
    settings: &Settings,
    key: &'static Key,
) -> Result<Option<Url>, SettingError> {
    settings.parse(key, |raw| {
        let mut url =
            Url::parse(raw).map_err(|e| format!("expected an http(s) URL, got {raw:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("expected an http(s) URL, got {raw:?}"));
        }
        // `Url::join` replaces the last path segment unless the base ends in '/'.
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(url)
    })
}

/// A credential an enabled provider cannot work without: from `key`, or from the file `file`
/// names (a mounted Kubernetes Secret).
pub(crate) fn required_secret(
    settings: &Settings,
    key: &'static Key,
    file: &'static Key,
) -> Result<Secret, SettingError> {
    settings.secret(key, file)?.map(Secret::new).ok_or_else(|| {
        SettingError::new(
            key,
            format!("required (or {}) when the provider is enabled", file.env),
        )
    })
}

/// A per-request timeout (or a cache lifetime): whole seconds in 1..=300.
pub(crate) fn seconds(settings: &Settings, key: &'static Key) -> Result<Duration, SettingError> {
    settings.seconds(key, 1..=300).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use crate::providers::alpaca_news::AlpacaNewsConfig;
    use crate::providers::edgar::EdgarConfig;
    use std::collections::HashMap;
    use torghut_config::keys::{self, Key};
    use torghut_config::{SettingError, Settings};

    fn settings(pairs: &[(&Key, &str)]) -> Settings<'static> {
        let map: HashMap<&'static str, String> = pairs
            .iter()
            .map(|(k, v)| (k.env, (*v).to_owned()))
            .collect();
        Settings::from_lookup(move |var| map.get(var).cloned())
    }

    fn table(key: &Key) -> String {
        key.default_value().unwrap_or_default().to_owned()
    }

    /// The HTTP providers' defaults, as in force once their URL is set, are the key table's.
    #[test]
    fn the_http_providers_defaults_are_the_tables() {
        let alpaca = AlpacaNewsConfig::from_settings(&settings(&[
            (&keys::TORGHUT_ALPACA_NEWS_URL, "http://127.0.0.1:9"),
            (&keys::TORGHUT_ALPACA_KEY_ID, "id"),
            (&keys::TORGHUT_ALPACA_SECRET_KEY, "secret"),
        ]))
        .expect("valid")
        .expect("enabled");
        assert_eq!(
            alpaca.timeout.as_secs().to_string(),
            table(&keys::TORGHUT_ALPACA_NEWS_TIMEOUT_SECONDS)
        );
        let edgar = EdgarConfig::from_settings(&settings(&[
            (&keys::TORGHUT_EDGAR_URL, "http://127.0.0.1:9"),
            (&keys::TORGHUT_EDGAR_USER_AGENT, "Torghut ops@example.com"),
        ]))
        .expect("valid")
        .expect("enabled");
        assert_eq!(
            edgar.tickers_url.as_str(),
            table(&keys::TORGHUT_EDGAR_TICKERS_URL)
        );
        assert_eq!(
            edgar.timeout.as_secs().to_string(),
            table(&keys::TORGHUT_EDGAR_TIMEOUT_SECONDS)
        );
        assert_eq!(
            edgar.cache_ttl.as_secs().to_string(),
            table(&keys::TORGHUT_EDGAR_CACHE_SECONDS)
        );
    }

    #[test]
    fn an_enabled_provider_names_what_it_is_missing() {
        let var = |r: Result<Option<AlpacaNewsConfig>, SettingError>| r.err().map(|e| e.var);
        let url = (
            &keys::TORGHUT_ALPACA_NEWS_URL,
            "https://data.alpaca.markets",
        );
        assert_eq!(
            var(AlpacaNewsConfig::from_settings(&settings(&[url]))),
            Some("TORGHUT_ALPACA_KEY_ID")
        );
        assert_eq!(
            var(AlpacaNewsConfig::from_settings(&settings(&[
                url,
                (&keys::TORGHUT_ALPACA_KEY_ID, "id"),
                (&keys::TORGHUT_ALPACA_SECRET_KEY, "secret"),
                (&keys::TORGHUT_ALPACA_NEWS_TIMEOUT_SECONDS, "0"),
            ]))),
            Some("TORGHUT_ALPACA_NEWS_TIMEOUT_SECONDS")
        );
        let no_agent =
            EdgarConfig::from_settings(&settings(&[(&keys::TORGHUT_EDGAR_URL, "https://x")]));
        assert_eq!(
            no_agent.err().map(|e| e.var),
            Some("TORGHUT_EDGAR_USER_AGENT")
        );
        assert!(
            AlpacaNewsConfig::from_settings(&settings(&[]))
                .expect("off")
                .is_none()
        );
    }
}
