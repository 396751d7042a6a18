//! Bearer-token authentication and per-token rate limiting.
//!
//! Tokens come from configuration (`TORGHUT_API_TOKENS_FILE`, or `TORGHUT_API_TOKENS`), each with
//! a name that logs and limits use, so a token itself is never logged. Comparison is over SHA-256
//! digests with a constant-time equality, so neither a token's content nor its length leaks
//! through timing. Without tokens configured authentication is off (local development, the
//! demo); the gateway says so loudly at start.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Routes a probe or a scraper must reach without a secret, compared exactly (no prefixes):
/// liveness and readiness say nothing about runs, and the metrics are counts by closed labels
/// (no run id, symbol or token name). Everything else needs a token.
const OPEN_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

fn is_open(path: &str) -> bool {
    OPEN_PATHS.contains(&path)
}
/// Shorter tokens are guessable; refuse to start with one.
const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct AuthConfigError {
    pub var: &'static str,
    pub reason: String,
}

struct Token {
    name: String,
    digest: [u8; 32],
}

fn digest(raw: &str) -> [u8; 32] {
    Sha256::digest(raw.as_bytes()).into()
}

/// A token bucket per token name: `per_minute` requests a minute, with bursts up to that many.
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Auth {
    tokens: Vec<Token>,
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Names and the limit only: a token never reaches a log through `Debug`.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field(
                "tokens",
                &self.tokens.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .field("per_minute", &self.per_minute)
            .finish()
    }
}

impl Auth {
    /// `spec` is `name:token` entries separated by commas or newlines (`#` starts a comment).
    pub fn parse(
        var: &'static str,
        spec: &str,
        per_minute: u32,
    ) -> Result<Option<Arc<Self>>, AuthConfigError> {
        let err = |reason: String| AuthConfigError { var, reason };
        let mut tokens: Vec<Token> = Vec::new();
        for (i, entry) in spec
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.starts_with('#'))
            .enumerate()
        {
            let (name, token) = entry
                .split_once(':')
                .ok_or_else(|| err(format!("entry {}: expected name:token", i + 1)))?;
            let (name, token) = (name.trim(), token.trim());
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(err(format!(
                    "entry {}: name must be [A-Za-z0-9._-]+",
                    i + 1
                )));
            }
            if token.len() < MIN_TOKEN_LEN {
                return Err(err(format!(
                    "token {name:?}: at least {MIN_TOKEN_LEN} characters"
                )));
            }
            if tokens.iter().any(|t| t.name == name) {
                return Err(err(format!("token name {name:?} appears twice")));
            }
            tokens.push(Token {
                name: name.to_owned(),
                digest: digest(token),
            });
        }
        Ok((!tokens.is_empty()).then(|| {
            Arc::new(Self {
                tokens,
                per_minute,
                buckets: Mutex::new(HashMap::new()),
            })
        }))
    }

    /// The name of the token the header carries, if it is one of ours. Every configured token
    /// is compared, so the time taken does not say which one nearly matched.
    fn authenticate(&self, header: Option<&HeaderValue>) -> Option<&str> {
        let presented = header
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|t| digest(t.trim()))?;
        let mut found = None;
        for t in &self.tokens {
            if bool::from(t.digest.ct_eq(&presented)) {
                found = Some(t.name.as_str());
            }
        }
        found
    }

    /// `Ok` to proceed, or how long until the token's next request is allowed.
    fn take(&self, name: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let capacity = f64::from(self.per_minute);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(name.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate))
        }
    }
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

pub async fn require_token(
    State(auth): State<Option<Arc<Auth>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(auth) = auth else {
        return next.run(request).await;
    };
    if is_open(request.uri().path()) {
        return next.run(request).await;
    }
    let Some(name) = auth
        .authenticate(request.headers().get(header::AUTHORIZATION))
        .map(str::to_owned)
    else {
        let mut resp = refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid bearer token (Authorization: Bearer <token>)",
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    };
    if let Err(wait) = auth.take(&name, Instant::now()) {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        tracing::warn!(token = %name, retry_after = secs, "rate limited");
        let mut resp = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            &format!("token {name:?} is over its rate limit; retry after {secs} s"),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(per_minute: u32) -> Arc<Auth> {
        Auth::parse(
            "TORGHUT_API_TOKENS",
            "torghut: 0123456789abcdef0123\n# ops\nops:fedcba9876543210fedc",
            per_minute,
        )
        .expect("valid")
        .expect("configured")
    }

    #[test]
    fn only_a_configured_bearer_token_authenticates() {
        let a = auth(0);
        let h = |s: &str| HeaderValue::from_str(s).expect("header");
        assert_eq!(
            a.authenticate(Some(&h("Bearer 0123456789abcdef0123"))),
            Some("torghut")
        );
        assert_eq!(
            a.authenticate(Some(&h("Bearer fedcba9876543210fedc"))),
            Some("ops")
        );
        assert_eq!(
            a.authenticate(Some(&h("Bearer 0123456789abcdef012"))),
            None,
            "a prefix"
        );
        assert_eq!(a.authenticate(Some(&h("Basic 0123456789abcdef0123"))), None);
        assert_eq!(a.authenticate(None), None);
    }

    #[test]
    fn only_the_probes_and_the_metrics_are_open() {
        for (path, open) in [
            ("/healthz", true),
            ("/readyz", true),
            ("/metrics", true),
            ("/metrics/", false),
            ("/metricsx", false),
            ("/healthz/../api/torghut/decision-engine/runs", false),
            ("/openapi.json", false),
            ("/api/torghut/decision-engine/stream", false),
            ("/api/torghut/market-context", false),
            ("/", false),
        ] {
            assert_eq!(is_open(path), open, "{path}");
        }
    }

    #[test]
    fn bad_token_configuration_names_the_variable_and_the_entry() {
        for (spec, needle) in [
            ("torghut", "expected name:token"),
            ("torghut:short", "at least 16"),
            ("a:0123456789abcdef,a:0123456789abcdeg", "twice"),
            ("bad name:0123456789abcdef", "name must be"),
        ] {
            let e = Auth::parse("TORGHUT_API_TOKENS", spec, 0).expect_err(spec);
            assert_eq!(e.var, "TORGHUT_API_TOKENS");
            assert!(e.reason.contains(needle), "{spec}: {e}");
        }
        assert!(
            Auth::parse("TORGHUT_API_TOKENS", " \n# none\n", 0)
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn the_bucket_allows_the_limit_then_says_when_to_retry_and_refills() {
        let a = auth(60);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(a.take("torghut", t0).is_ok());
        }
        let wait = a.take("torghut", t0).expect_err("61st in the same instant");
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(a.take("ops", t0).is_ok(), "limits are per token");
        assert!(
            a.take("torghut", t0 + Duration::from_secs(1)).is_ok(),
            "one a second refills"
        );
    }
}
