//! Bearer-token authentication, scopes and per-token rate limiting.
//!
//! Tokens come from configuration (`TORGHUT_API_TOKENS_FILE`, or `TORGHUT_API_TOKENS`), each with
//! a name that logs and limits use, so a token itself is never logged. Comparison is over SHA-256
//! digests with a constant-time equality, so neither a token's content nor its length leaks
//! through timing. Without tokens configured authentication is off (local development, the
//! demo); the gateway says so loudly at start.
//!
//! Each token has a role. A `client` token is scoped to accounts and strategies: it starts runs
//! only in them (403 otherwise) and reads, streams and cancels only their runs (404 for any
//! other, so it cannot learn which runs exist). An `operator` token reads and cancels every run.
//! The file's format (docs/configuration.md, "API tokens"):
//!
//! ```text
//! # name:token role=client accounts=a,b strategies=s1,intraday-*   (one scoped token a line)
//! torghut:<token> role=client accounts=paper strategies=intraday-v3-*
//! ops:<token> role=operator
//! legacy:<token>                                (no attributes: an operator, as before scopes)
//! ```

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

use crate::error::ApiError;

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

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Starts, reads and cancels runs of its accounts and strategies only.
    Client,
    /// Reads and cancels every run, and starts runs in any account.
    Operator,
}

/// An account or strategy pattern: a name, `prefix*`, or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern(String);

impl Pattern {
    fn matches(&self, value: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => value.starts_with(prefix),
            None => self.0 == value,
        }
    }
}

/// Who is calling: the token's name, role and scopes, put on every request by [`require_token`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    accounts: Vec<Pattern>,
    strategies: Vec<Pattern>,
    /// For charging extra rate-limit units (`/triggers`); `None` with authentication off.
    auth: Option<Arc<Auth>>,
}

impl Caller {
    /// Authentication off: the local caller may do everything.
    fn unauthenticated() -> Self {
        Self {
            name: "anonymous".into(),
            role: Role::Operator,
            accounts: Vec::new(),
            strategies: Vec::new(),
            auth: None,
        }
    }

    fn covers(&self, account: &str, strategy: &str) -> bool {
        self.role == Role::Operator
            || (self.accounts.iter().any(|p| p.matches(account))
                && self.strategies.iter().any(|p| p.matches(strategy)))
    }

    /// Whether this caller may start a run for `account` and `strategy`: 403 naming the field
    /// out of its scope.
    pub fn may_start(&self, account: &str, strategy: &str) -> Result<(), ApiError> {
        if self.role == Role::Operator {
            return Ok(());
        }
        let forbidden = |field: &'static str, value: &str| ApiError::Forbidden {
            token: self.name.clone(),
            field,
            value: value.to_owned(),
        };
        if !self.accounts.iter().any(|p| p.matches(account)) {
            return Err(forbidden("account_id", account));
        }
        if !self.strategies.iter().any(|p| p.matches(strategy)) {
            return Err(forbidden("strategy_id", strategy));
        }
        Ok(())
    }

    /// Whether this caller may read or cancel a run of `account` and `strategy`.
    pub fn may_read(&self, account: &str, strategy: &str) -> bool {
        self.covers(account, strategy)
    }

    /// Takes `units` more from the token's rate limit (the request itself took one already):
    /// a call that starts many runs pays for each.
    pub fn charge(&self, units: u32) -> Result<(), ApiError> {
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        if units == 0 || auth.per_minute == 0 {
            return Ok(());
        }
        if units >= auth.per_minute {
            return Err(ApiError::RateLimited(
                format!(
                    "this call would start {} runs, more than token {:?} may start in a minute ({}); split it",
                    units + 1,
                    self.name,
                    auth.per_minute
                ),
                Duration::from_secs(60),
            ));
        }
        auth.take(&self.name, f64::from(units), Instant::now())
            .map_err(|wait| {
                ApiError::RateLimited(
                    format!(
                        "this call would start {} runs; token {:?} is over its rate limit",
                        units + 1,
                        self.name
                    ),
                    wait,
                )
            })
    }
}

struct Token {
    name: String,
    digest: [u8; 32],
    role: Role,
    accounts: Vec<Pattern>,
    strategies: Vec<Pattern>,
    /// Written in the format from before scopes (`name:token` alone).
    legacy: bool,
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
    /// `spec` is one token a line, `name:token` and optionally `role=`, `accounts=` and
    /// `strategies=` (see the module doc); a line without attributes may hold several
    /// `name:token` entries separated by commas, as before scopes. `#` starts a comment line.
    pub fn parse(
        var: &'static str,
        spec: &str,
        per_minute: u32,
    ) -> Result<Option<Arc<Self>>, AuthConfigError> {
        let err = |reason: String| AuthConfigError { var, reason };
        let mut tokens: Vec<Token> = Vec::new();
        let mut entries: Vec<(String, Vec<&str>)> = Vec::new();
        for line in spec.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.iter().position(|w| is_attribute(w)) {
                Some(at) => entries.push((words[..at].concat(), words[at..].to_vec())),
                None => entries.extend(
                    line.split(',')
                        .map(str::trim)
                        .filter(|e| !e.is_empty() && !e.starts_with('#'))
                        .map(|e| (e.to_owned(), Vec::new())),
                ),
            }
        }
        for (i, (entry, attributes)) in entries.iter().enumerate() {
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
            let (role, accounts, strategies) =
                scopes(attributes).map_err(|reason| err(format!("token {name:?}: {reason}")))?;
            tokens.push(Token {
                name: name.to_owned(),
                digest: digest(token),
                role,
                accounts,
                strategies,
                legacy: attributes.is_empty(),
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

    /// Names of the tokens written without scopes: operators, which the gateway warns about.
    pub fn unscoped(&self) -> Vec<&str> {
        self.tokens
            .iter()
            .filter(|t| t.legacy)
            .map(|t| t.name.as_str())
            .collect()
    }

    /// The name of the token the header carries, if it is one of ours. Every configured token
    /// is compared, so the time taken does not say which one nearly matched.
    fn authenticate(&self, header: Option<&HeaderValue>) -> Option<&Token> {
        // The scheme is case-insensitive (RFC 9110 section 11.1): `bearer` and `BEARER` too.
        let presented = header
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| digest(t.trim()))?;
        let mut found = None;
        for t in &self.tokens {
            if bool::from(t.digest.ct_eq(&presented)) {
                found = Some(t);
            }
        }
        found
    }

    /// `Ok` to proceed, or how long until the token has `cost` units again.
    fn take(&self, name: &str, cost: f64, now: Instant) -> Result<(), Duration> {
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
        if b.tokens >= cost {
            b.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((cost - b.tokens) / rate))
        }
    }
}

const ATTRIBUTES: [&str; 3] = ["role=", "accounts=", "strategies="];

fn is_attribute(word: &str) -> bool {
    ATTRIBUTES.iter().any(|a| word.starts_with(a))
}

type Scopes = (Role, Vec<Pattern>, Vec<Pattern>);

/// A token line's attributes; none at all is the format from before scopes: an operator.
fn scopes(attributes: &[&str]) -> Result<Scopes, String> {
    if attributes.is_empty() {
        return Ok((Role::Operator, Vec::new(), Vec::new()));
    }
    let (mut role, mut accounts, mut strategies) = (None, None, None);
    for a in attributes {
        let (key, value) = a
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, got {a:?}"))?;
        let list = || -> Result<Vec<Pattern>, String> {
            let items: Vec<Pattern> = value
                .split(',')
                .filter(|v| !v.is_empty())
                .map(|v| Pattern(v.to_owned()))
                .collect();
            if items.is_empty() {
                return Err(format!("{key}= needs at least one name (or *)"));
            }
            Ok(items)
        };
        let slot_taken = match key {
            "role" => role
                .replace(match value {
                    "client" => Role::Client,
                    "operator" => Role::Operator,
                    other => return Err(format!("role must be client or operator, got {other:?}")),
                })
                .is_some(),
            "accounts" => accounts.replace(list()?).is_some(),
            "strategies" => strategies.replace(list()?).is_some(),
            other => {
                return Err(format!(
                    "unknown attribute {other:?} (role, accounts, strategies)"
                ));
            }
        };
        if slot_taken {
            return Err(format!("{key}= given twice"));
        }
    }
    let role = role.ok_or("role=client or role=operator is required with scopes")?;
    let (accounts, strategies) = match role {
        Role::Operator => (accounts.unwrap_or_default(), strategies.unwrap_or_default()),
        Role::Client => (
            accounts.ok_or("a client token needs accounts= (names, prefix*, or *)")?,
            strategies.ok_or("a client token needs strategies= (names, prefix*, or *)")?,
        ),
    };
    Ok((role, accounts, strategies))
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
    mut request: Request,
    next: Next,
) -> Response {
    let Some(auth) = auth else {
        request.extensions_mut().insert(Caller::unauthenticated());
        return next.run(request).await;
    };
    if is_open(request.uri().path()) {
        return next.run(request).await;
    }
    let Some(caller) = auth
        .authenticate(request.headers().get(header::AUTHORIZATION))
        .map(|t| Caller {
            name: t.name.clone(),
            role: t.role,
            accounts: t.accounts.clone(),
            strategies: t.strategies.clone(),
            auth: Some(auth.clone()),
        })
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
    let name = caller.name.clone();
    if let Err(wait) = auth.take(&name, 1.0, Instant::now()) {
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
    request.extensions_mut().insert(caller);
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
        let name = |v: Option<&str>| {
            let header = v.map(h);
            a.authenticate(header.as_ref()).map(|t| t.name.clone())
        };
        assert_eq!(
            name(Some("Bearer 0123456789abcdef0123")).as_deref(),
            Some("torghut")
        );
        assert_eq!(
            name(Some("Bearer fedcba9876543210fedc")).as_deref(),
            Some("ops")
        );
        assert_eq!(name(Some("Bearer 0123456789abcdef012")), None, "a prefix");
        assert_eq!(name(Some("Basic 0123456789abcdef0123")), None);
        assert_eq!(name(None), None);
        // The scheme is case-insensitive; the token is not.
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            assert_eq!(
                name(Some(&format!("{scheme} 0123456789abcdef0123"))).as_deref(),
                Some("torghut"),
                "{scheme}"
            );
        }
        assert_eq!(name(Some("Bearer 0123456789ABCDEF0123")), None);
        assert_eq!(name(Some("Bearer0123456789abcdef0123")), None);
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
        for (spec, needle) in [
            ("t:0123456789abcdef role=admin", "client or operator"),
            (
                "t:0123456789abcdef role=client accounts=a",
                "needs strategies=",
            ),
            (
                "t:0123456789abcdef role=client strategies=s",
                "needs accounts=",
            ),
            (
                "t:0123456789abcdef accounts=a strategies=s",
                "role=client or role=operator",
            ),
            (
                "t:0123456789abcdef role=client role=client accounts=a strategies=s",
                "twice",
            ),
            (
                "t:0123456789abcdef role=client accounts= strategies=s",
                "at least one",
            ),
            (
                "t:0123456789abcdef role=client accounts=a strategies=s extra",
                "key=value",
            ),
        ] {
            let e = Auth::parse("TORGHUT_API_TOKENS_FILE", spec, 0).expect_err(spec);
            assert!(e.reason.contains(needle), "{spec}: {e}");
            assert!(e.reason.contains("\"t\""), "names the token: {e}");
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
            assert!(a.take("torghut", 1.0, t0).is_ok());
        }
        let wait = a
            .take("torghut", 1.0, t0)
            .expect_err("61st in the same instant");
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(a.take("ops", 1.0, t0).is_ok(), "limits are per token");
        assert!(
            a.take("torghut", 1.0, t0 + Duration::from_secs(1)).is_ok(),
            "one a second refills"
        );
    }

    fn caller(a: &Arc<Auth>, token: &str) -> Caller {
        let header = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
        let t = a.authenticate(Some(&header)).expect("known token");
        Caller {
            name: t.name.clone(),
            role: t.role,
            accounts: t.accounts.clone(),
            strategies: t.strategies.clone(),
            auth: Some(a.clone()),
        }
    }

    #[test]
    fn a_client_token_is_held_to_its_accounts_and_strategies_and_an_operator_is_not() {
        let a = Auth::parse(
            "TORGHUT_API_TOKENS_FILE",
            "# scoped\n\
             torghut:0123456789abcdef0123 role=client accounts=paper,paper-2 strategies=intraday-v3-*,swing\n\
             ops:fedcba9876543210fedc role=operator\n\
             old-a:aaaaaaaaaaaaaaaaaaaa, old-b:bbbbbbbbbbbbbbbbbbbb\n",
            0,
        )
        .expect("valid")
        .expect("configured");
        let client = caller(&a, "0123456789abcdef0123");
        assert_eq!(client.role, Role::Client);
        assert!(client.may_start("paper", "intraday-v3-momentum-01").is_ok());
        assert!(client.may_start("paper-2", "swing").is_ok());
        match client.may_start("live", "swing") {
            Err(ApiError::Forbidden { field, .. }) => assert_eq!(field, "account_id"),
            other => panic!("{other:?}"),
        }
        match client.may_start("paper", "swing-2") {
            Err(ApiError::Forbidden { field, .. }) => assert_eq!(field, "strategy_id"),
            other => panic!("{other:?}"),
        }
        assert!(client.may_read("paper", "intraday-v3-x"));
        assert!(!client.may_read("paper-3", "intraday-v3-x"));
        assert!(!client.may_read("paper", "intraday-v2-x"));
        for operator in [
            caller(&a, "fedcba9876543210fedc"),
            caller(&a, "aaaaaaaaaaaaaaaaaaaa"),
            caller(&a, "bbbbbbbbbbbbbbbbbbbb"),
        ] {
            assert_eq!(operator.role, Role::Operator, "{}", operator.name);
            assert!(operator.may_read("anything", "at-all"));
            assert!(operator.may_start("live", "x").is_ok());
        }
        assert_eq!(a.unscoped(), ["old-a", "old-b"]);
    }

    #[test]
    fn a_call_that_starts_many_runs_pays_a_unit_for_each() {
        let a = Auth::parse(
            "TORGHUT_API_TOKENS",
            "t:0123456789abcdef0123 role=client accounts=* strategies=*",
            10,
        )
        .expect("valid")
        .expect("configured");
        let c = caller(&a, "0123456789abcdef0123");
        // The request itself took one unit in the middleware; a call starting 5 runs takes 4 more.
        assert!(a.take("t", 1.0, Instant::now()).is_ok());
        assert!(c.charge(4).is_ok());
        assert!(a.take("t", 1.0, Instant::now()).is_ok());
        match c.charge(5) {
            Err(ApiError::RateLimited(_, wait)) => assert!(wait > Duration::ZERO),
            other => panic!("only 4 units were left: {other:?}"),
        }
        match c.charge(10) {
            Err(ApiError::RateLimited(message, _)) => {
                assert!(message.contains("split"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
