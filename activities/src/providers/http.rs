//! What the HTTP-backed providers share: running async I/O from the synchronous provider traits,
//! and reading their settings from the environment with errors that name the variable.

use crate::secret::Secret;
use crate::skill::SkillError;
use std::future::Future;
use std::time::Duration;
use url::Url;

/// A provider setting that is present but unusable. Refusing to start beats failing every
/// decision later with a less specific message.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

impl ConfigError {
    fn new(var: &'static str, reason: impl Into<String>) -> Self {
        Self {
            var,
            reason: reason.into(),
        }
    }
}

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

fn non_empty(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

pub(crate) fn env_url(var: &'static str) -> Result<Option<Url>, ConfigError> {
    let Some(raw) = non_empty(var) else {
        return Ok(None);
    };
    let mut url = Url::parse(&raw)
        .map_err(|e| ConfigError::new(var, format!("expected an http(s) URL, got {raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            var,
            format!("expected an http(s) URL, got {raw:?}"),
        ));
    }
    // `Url::join` replaces the last path segment unless the base ends in '/'.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(Some(url))
}

/// A secret from `VAR`, or from the file named by `VAR_FILE` (a mounted Kubernetes Secret).
pub(crate) fn env_secret(var: &'static str) -> Result<Secret, ConfigError> {
    if let Some(v) = non_empty(var) {
        return Ok(Secret::new(v));
    }
    let file_var = format!("{var}_FILE");
    match non_empty(&file_var) {
        Some(path) => std::fs::read_to_string(&path)
            .map(|s| Secret::new(s.trim().to_owned()))
            .map_err(|e| ConfigError::new(var, format!("cannot read {file_var}={path}: {e}"))),
        None => Err(ConfigError::new(
            var,
            format!("required (or {file_var}) when the provider is enabled"),
        )),
    }
}

pub(crate) fn env_duration(var: &'static str, default_secs: u64) -> Result<Duration, ConfigError> {
    match non_empty(var) {
        None => Ok(Duration::from_secs(default_secs)),
        Some(raw) => match raw.parse::<u64>() {
            Ok(s) if (1..=300).contains(&s) => Ok(Duration::from_secs(s)),
            _ => Err(ConfigError::new(
                var,
                format!("expected whole seconds in 1..=300, got {raw:?}"),
            )),
        },
    }
}

pub(crate) fn env_string(var: &'static str) -> Option<String> {
    non_empty(var)
}
