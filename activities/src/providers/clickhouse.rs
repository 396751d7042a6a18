//! Bars and TA signals from Torghut's ClickHouse (`ta_microbars`, `ta_signals`), over the HTTP
//! interface.
//!
//! # What is read, and why this way
//!
//! Torghut's TA job writes *microbars*: in production one row per symbol and second
//! (`window_size = 'PT1S'`, `event_ts` = the second's end, `window_start`/`window_end` its
//! bounds), not minute bars. So a minute bar here is the aggregate of the microbars whose
//! `window_start` falls in that minute (first open, highest high, lowest low, last close, summed
//! volume); with `window_size = 'PT1M'` rows that is one row per minute. The minute is keyed by
//! `window_start`, not `event_ts`, because `event_ts` marks a window's end in one feed and its
//! start in another. Rows without a `window_start` cannot be placed in a minute and are skipped.
//!
//! The tables are ReplacingMergeTrees, and until a background merge runs (or across different
//! `seq`, which the engine does not merge at all) a bar can be present more than once. Every read
//! therefore keeps one row per `event_ts`: the highest `version`, then the latest `ingest_ts`
//! (`ORDER BY … LIMIT 1 BY event_ts`, which ClickHouse 18.16 and current versions both run).
//!
//! Bid and ask come from `ta_signals` (`imbalance_bid_px`, `imbalance_ask_px`): the last value of
//! each that became known *within* the minute, i.e. from a signal whose `window_end` (or
//! `event_ts` when it has none) lies in `(minute start, minute close]`. A quote older than the
//! minute is not carried forward, matching [`MinuteBar::bid`]: "none when the quote feed had
//! nothing for it".
//!
//! # Visibility
//!
//! Exactly as [`crate::bars::FileBarProvider`]: a minute bar is visible once its minute has
//! closed (`start + 60 s <= as_of`), so a microbar of a minute still running is never partially
//! aggregated; a daily bar once [`DailyBar::visible_at`] has passed. `ingest_ts` is not used for
//! visibility: a replay over backfilled rows must see them at their market time.
//!
//! # One SQL for two server generations
//!
//! Production runs current ClickHouse with `DateTime64(3, 'UTC')` columns; the server we test
//! against is Debian's 18.16, which has only `DateTime`. The SQL therefore uses only what both
//! accept: instants go in as `toDateTime(<unix seconds>)` (no string to misparse, no time zone to
//! get wrong), come out through `toTimeZone(…, 'UTC')`, and are parsed in either shape,
//! `2013-10-08 14:30:00` or `2013-10-08 14:30:00.000`. Sub-second precision in `as_of` is
//! truncated for signals, which can only hide a row, never show one early.
//!
//! Numbers are read from the JSON text ClickHouse wrote, never through `f64`: a `Float64` column
//! prints as the shortest decimal that round-trips (`167.49`), which is the price as recorded.
//! 64-bit integers are accepted quoted or bare (`output_format_json_quote_64bit_integers`).
//!
//! # Calling convention
//!
//! [`BarProvider`] is synchronous and is called on tokio's blocking pool (`spawn_blocking`), so
//! each call drives the async HTTP client with `Handle::current().block_on`. Called from a plain
//! thread outside any runtime it returns [`BarError::Unavailable`]; called from an async task it
//! would panic in tokio, which is why the skills never do that.

use crate::bars::{BarError, BarProvider, DailyBar, MinuteBar};
use crate::llm::Secret;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use reqwest::header::HeaderValue;
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

pub const DEFAULT_DATABASE: &str = "torghut";
pub const DEFAULT_USER: &str = "default";
/// What Torghut's TA job writes to `ta_microbars` (one-second microbars); minute bars are
/// aggregated from them. Set `PT1M` for a table that holds minute rows.
pub const DEFAULT_WINDOW_SIZE: &str = "PT1S";
/// Per HTTP request, connection included. Well under the skills' 15 s start-to-close timeout, so
/// a hung server costs one activity attempt, not the decision's deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_TIMEOUT_SECONDS: u64 = 120;
/// New York regular session, in minutes after local midnight: [09:30, 16:00).
const SESSION_OPEN_MINUTE: u32 = 9 * 60 + 30;
const SESSION_CLOSE_MINUTE: u32 = 16 * 60;

const MICROBARS: &str = "ta_microbars";
const SIGNALS: &str = "ta_signals";

/// Where and how to read. Built by [`ClickHouseConfig::from_env`] in the worker, or by hand in
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

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}

impl ClickHouseConfig {
    /// Reads `TORGHUT_CLICKHOUSE_*`. `Ok(None)` when `TORGHUT_CLICKHOUSE_URL` is unset or empty:
    /// ClickHouse is optional and the worker falls back to the embedded bars.
    ///
    /// - `TORGHUT_CLICKHOUSE_URL`: the HTTP interface (`http://host:8123`); no credentials in it.
    /// - `TORGHUT_CLICKHOUSE_DATABASE`: default `torghut`.
    /// - `TORGHUT_CLICKHOUSE_USER`: default `default`.
    /// - `TORGHUT_CLICKHOUSE_PASSWORD`, or `TORGHUT_CLICKHOUSE_PASSWORD_FILE` (a mounted Secret;
    ///   surrounding whitespace trimmed). The first wins when both are set.
    /// - `TORGHUT_CLICKHOUSE_WINDOW_SIZE`: default `PT1S` ([`DEFAULT_WINDOW_SIZE`]).
    /// - `TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS`: per request, default 5.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(invalid(name, "not valid UTF-8")),
        })
    }

    /// [`Self::from_env`] over any variable source, so it can be tested without touching the
    /// process environment.
    fn from_lookup(
        lookup: impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
    ) -> Result<Option<Self>, ConfigError> {
        let var = |name| -> Result<Option<String>, ConfigError> {
            Ok(lookup(name)?.filter(|v| !v.trim().is_empty()))
        };
        let Some(raw_url) = var("TORGHUT_CLICKHOUSE_URL")? else {
            return Ok(None);
        };
        let url = parse_url(raw_url.trim())?;
        let database = var("TORGHUT_CLICKHOUSE_DATABASE")?
            .map(|d| d.trim().to_owned())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        let user = var("TORGHUT_CLICKHOUSE_USER")?
            .map(|u| u.trim().to_owned())
            .unwrap_or_else(|| DEFAULT_USER.to_owned());
        let password = match (
            var("TORGHUT_CLICKHOUSE_PASSWORD")?,
            var("TORGHUT_CLICKHOUSE_PASSWORD_FILE")?,
        ) {
            (Some(p), _) => Some(Secret::new(p)),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path.trim()).map_err(|e| {
                    invalid(
                        "TORGHUT_CLICKHOUSE_PASSWORD_FILE",
                        format!("cannot read {:?}: {e}", path.trim()),
                    )
                })?;
                Some(Secret::new(text.trim().to_owned()))
            }
            (None, None) => None,
        };
        let window_size = var("TORGHUT_CLICKHOUSE_WINDOW_SIZE")?
            .map(|w| w.trim().to_owned())
            .unwrap_or_else(|| DEFAULT_WINDOW_SIZE.to_owned());
        let timeout = match var("TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS")? {
            None => DEFAULT_TIMEOUT,
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(s) if (1..=MAX_TIMEOUT_SECONDS).contains(&s) => Duration::from_secs(s),
                _ => {
                    return Err(invalid(
                        "TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS",
                        format!("expected whole seconds in 1..={MAX_TIMEOUT_SECONDS}, got {raw:?}"),
                    ));
                }
            },
        };
        let config = Self {
            url,
            database,
            user,
            password,
            window_size,
            timeout,
        };
        config.validate()?;
        Ok(Some(config))
    }

    /// Everything that ends up in SQL or in a header is checked here, once, so the query
    /// builders can rely on it.
    fn validate(&self) -> Result<(), ConfigError> {
        parse_url(self.url.as_str())?;
        if !is_identifier(&self.database) {
            return Err(invalid(
                "TORGHUT_CLICKHOUSE_DATABASE",
                format!(
                    "expected a database name of letters, digits and underscores, got {:?}",
                    self.database
                ),
            ));
        }
        if self.user.is_empty() || HeaderValue::from_str(&self.user).is_err() {
            return Err(invalid(
                "TORGHUT_CLICKHOUSE_USER",
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
                "TORGHUT_CLICKHOUSE_PASSWORD",
                "contains characters an HTTP header cannot carry (control characters or non-ASCII)",
            ));
        }
        if let Err(reason) = check_window_size(&self.window_size) {
            return Err(invalid("TORGHUT_CLICKHOUSE_WINDOW_SIZE", reason));
        }
        if self.timeout.is_zero() {
            return Err(invalid(
                "TORGHUT_CLICKHOUSE_TIMEOUT_SECONDS",
                "must be positive",
            ));
        }
        Ok(())
    }
}

fn parse_url(raw: &str) -> Result<url::Url, ConfigError> {
    let var = "TORGHUT_CLICKHOUSE_URL";
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

/// A single ticker as ClickHouse stores it: `[A-Z0-9.-]{1,16}`. Anything else cannot be in
/// the table, so it is refused before any SQL is built; lowercase input is upper-cased, as the
/// file provider does.
fn checked_symbol(symbol: &str) -> Option<String> {
    let upper = symbol.to_ascii_uppercase();
    let ok = (1..=16).contains(&upper.len())
        && upper
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    ok.then_some(upper)
}

/// A ClickHouse string literal. Inputs are validated before they get here; escaping anyway
/// means a future caller that forgets to validate still cannot break out of the literal.
fn quote_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Instants go into SQL as `toDateTime(<unix seconds>)`: an integer cannot inject anything and
/// means the same instant whatever the server's or the column's time zone. Clamped to the
/// `DateTime` range; before 1970 nothing is visible, after 2106 everything is.
fn unix_seconds(at: DateTime<Utc>) -> u64 {
    at.timestamp().clamp(0, i64::from(u32::MAX)) as u64
}

fn sql_instant(seconds: u64) -> String {
    format!("toDateTime({})", seconds.min(u64::from(u32::MAX)))
}

/// The rows of one table, one version per `event_ts`: the highest `version`, then the latest
/// `ingest_ts`. `columns` must include `event_ts`, `version` and `ingest_ts`.
fn deduplicated(table: &str, columns: &str, filter: &str) -> String {
    format!(
        "SELECT {columns} FROM {table} WHERE {filter} \
         ORDER BY event_ts ASC, version DESC, ingest_ts DESC LIMIT 1 BY event_ts"
    )
}

/// The SQL of one provider; everything interpolated has been validated or is an integer.
struct Queries {
    microbars: String,
    signals: String,
    window: String,
}

impl Queries {
    fn new(database: &str, window_size: &str) -> Self {
        // The database name is an identifier (checked by `validate`); backquotes keep it one.
        Self {
            microbars: format!("`{database}`.{MICROBARS}"),
            signals: format!("`{database}`.{SIGNALS}"),
            window: quote_string(window_size),
        }
    }

    fn rows_of(&self, symbol: &str) -> String {
        format!(
            "symbol = {} AND window_size = {}",
            quote_string(symbol),
            self.window
        )
    }

    /// Minute bars whose minute started before `cutoff` (a whole minute), newest first.
    fn minute_bars(&self, symbol: &str, cutoff: u64, limit: u64) -> String {
        // `event_ts` lies within its window, so this bound only prunes (primary key) and never
        // drops a row the outer filter would keep.
        let filter = format!(
            "{} AND event_ts <= {}",
            self.rows_of(symbol),
            sql_instant(cutoff + 60)
        );
        format!(
            "SELECT toTimeZone(toStartOfMinute(window_start), 'UTC') AS bar_minute, \
             argMin(o, window_start) AS bar_open, max(h) AS bar_high, min(l) AS bar_low, \
             argMax(c, window_start) AS bar_close, sum(v) AS bar_volume \
             FROM ({}) \
             WHERE window_start IS NOT NULL AND window_start < {} \
             GROUP BY bar_minute ORDER BY bar_minute DESC LIMIT {limit} \
             FORMAT JSONEachRow",
            deduplicated(
                &self.microbars,
                "event_ts, version, ingest_ts, window_start, o, h, l, c, v",
                &filter
            ),
            sql_instant(cutoff),
        )
    }

    /// The last bid and ask known within each minute from `first` to `last` (minute starts).
    ///
    /// A signal belongs to the minute `m` with `m < visible_at <= m + 60`: the ceiling of
    /// `visible_at` in whole seconds, minus one, floored to the minute. The ceiling (not the
    /// floor) keeps a signal at 14:30:00.500 out of the minute that closed at 14:30:00.
    /// `argMax` skips NULLs, so a signal without a quote does not erase an earlier one.
    fn quotes(&self, symbol: &str, first: u64, last: u64) -> String {
        let filter = format!(
            "{} AND event_ts > {} AND event_ts <= {}",
            self.rows_of(symbol),
            sql_instant(first.saturating_sub(60)),
            sql_instant(last + 60)
        );
        format!(
            "SELECT toTimeZone(toDateTime(intDiv(ceil_seconds - 1, 60) * 60), 'UTC') AS quote_minute, \
             argMax(imbalance_bid_px, visible_at) AS quote_bid, \
             argMax(imbalance_ask_px, visible_at) AS quote_ask \
             FROM (SELECT ifNull(window_end, event_ts) AS visible_at, \
             toUnixTimestamp(visible_at) + if(visible_at > toDateTime(toUnixTimestamp(visible_at)), 1, 0) AS ceil_seconds, \
             imbalance_bid_px, imbalance_ask_px FROM ({})) \
             WHERE visible_at > {} AND visible_at <= {} \
             GROUP BY quote_minute FORMAT JSONEachRow",
            deduplicated(
                &self.signals,
                "event_ts, version, ingest_ts, window_end, imbalance_bid_px, imbalance_ask_px",
                &filter
            ),
            sql_instant(first),
            sql_instant(last + 60),
        )
    }

    /// Regular-session aggregates per New York date, from microbars of minutes started before
    /// `cutoff`, newest date first. The caller applies [`DailyBar::visible_at`].
    fn daily_bars(&self, symbol: &str, cutoff: u64, limit: u64) -> String {
        let filter = format!(
            "{} AND event_ts <= {}",
            self.rows_of(symbol),
            sql_instant(cutoff + 60)
        );
        format!(
            "SELECT session_date, argMin(o, window_start) AS day_open, max(h) AS day_high, \
             min(l) AS day_low, argMax(c, window_start) AS day_close, sum(v) AS day_volume \
             FROM (SELECT window_start, o, h, l, c, v, \
             toTimeZone(window_start, 'America/New_York') AS local_start, \
             toDate(local_start) AS session_date, \
             toHour(local_start) * 60 + toMinute(local_start) AS local_minute \
             FROM ({}) WHERE window_start IS NOT NULL AND window_start < {}) \
             WHERE local_minute >= {SESSION_OPEN_MINUTE} AND local_minute < {SESSION_CLOSE_MINUTE} \
             GROUP BY session_date ORDER BY session_date DESC LIMIT {limit} \
             FORMAT JSONEachRow",
            deduplicated(
                &self.microbars,
                "event_ts, version, ingest_ts, window_start, o, h, l, c, v",
                &filter
            ),
            sql_instant(cutoff),
        )
    }

    /// Whether the table has any row for the symbol: "not covered" and "nothing yet" differ.
    fn coverage(&self, symbol: &str) -> String {
        format!(
            "SELECT count() AS covered FROM (SELECT 1 FROM {} WHERE {} LIMIT 1) FORMAT JSONEachRow",
            self.microbars,
            self.rows_of(symbol)
        )
    }

    /// The newest signal visible at `as_of` (whole seconds), highest version of it.
    fn latest_signal(&self, symbol: &str, as_of: u64) -> String {
        format!(
            "SELECT symbol, toTimeZone(event_ts, 'UTC') AS event_ts, seq, \
             toTimeZone(ingest_ts, 'UTC') AS ingest_ts, is_final, source, window_size, \
             window_step, toTimeZone(window_start, 'UTC') AS window_start, \
             toTimeZone(window_end, 'UTC') AS window_end, version, {SIGNAL_VALUE_COLUMNS} \
             FROM (SELECT * FROM {} WHERE {} AND event_ts <= {as_of_sql} \
             AND ifNull(window_end, event_ts) <= {as_of_sql} \
             ORDER BY ifNull(window_end, event_ts) DESC, event_ts DESC, version DESC, ingest_ts DESC \
             LIMIT 1) FORMAT JSONEachRow",
            self.signals,
            self.rows_of(symbol),
            as_of_sql = sql_instant(as_of),
        )
    }
}

const SIGNAL_VALUE_COLUMNS: &str = "macd, macd_signal, macd_hist, ema12, ema26, rsi14, \
    boll_mid, boll_upper, boll_lower, vwap_session, vwap_w5m, imbalance_spread, \
    imbalance_bid_px, imbalance_ask_px, imbalance_bid_sz, imbalance_ask_sz, vol_realized_w60s, \
    microstructure_signal_v1";

/// One `ta_signals` row as Torghut's TA job wrote it; indicator values as exact decimals of the
/// stored `Float64`s.
#[derive(Debug, Clone, PartialEq)]
pub struct TaSignal {
    pub symbol: String,
    pub event_ts: DateTime<Utc>,
    pub seq: u64,
    pub ingest_ts: DateTime<Utc>,
    pub is_final: bool,
    pub source: String,
    pub window_size: String,
    pub window_step: Option<String>,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub version: u32,
    pub macd: Option<Decimal>,
    pub macd_signal: Option<Decimal>,
    pub macd_hist: Option<Decimal>,
    pub ema12: Option<Decimal>,
    pub ema26: Option<Decimal>,
    pub rsi14: Option<Decimal>,
    pub boll_mid: Option<Decimal>,
    pub boll_upper: Option<Decimal>,
    pub boll_lower: Option<Decimal>,
    pub vwap_session: Option<Decimal>,
    pub vwap_w5m: Option<Decimal>,
    pub imbalance_spread: Option<Decimal>,
    pub imbalance_bid_px: Option<Decimal>,
    pub imbalance_ask_px: Option<Decimal>,
    pub imbalance_bid_sz: Option<u64>,
    pub imbalance_ask_sz: Option<u64>,
    pub vol_realized_w60s: Option<Decimal>,
    /// JSON text, as stored.
    pub microstructure_signal_v1: Option<String>,
}

impl TaSignal {
    fn from_row(r: &Row) -> Result<Self, BarError> {
        Ok(Self {
            symbol: r.required("symbol", text)?,
            event_ts: r.required("event_ts", timestamp)?,
            seq: r.required("seq", unsigned)?,
            ingest_ts: r.required("ingest_ts", timestamp)?,
            is_final: r.required("is_final", unsigned)? != 0,
            source: r.required("source", text)?,
            window_size: r.required("window_size", text)?,
            window_step: r.optional("window_step", text)?,
            window_start: r.optional("window_start", timestamp)?,
            window_end: r.optional("window_end", timestamp)?,
            version: r.required("version", |v| {
                unsigned(v).and_then(|n| u32::try_from(n).map_err(|e| e.to_string()))
            })?,
            macd: r.optional("macd", decimal)?,
            macd_signal: r.optional("macd_signal", decimal)?,
            macd_hist: r.optional("macd_hist", decimal)?,
            ema12: r.optional("ema12", decimal)?,
            ema26: r.optional("ema26", decimal)?,
            rsi14: r.optional("rsi14", decimal)?,
            boll_mid: r.optional("boll_mid", decimal)?,
            boll_upper: r.optional("boll_upper", decimal)?,
            boll_lower: r.optional("boll_lower", decimal)?,
            vwap_session: r.optional("vwap_session", decimal)?,
            vwap_w5m: r.optional("vwap_w5m", decimal)?,
            imbalance_spread: r.optional("imbalance_spread", decimal)?,
            imbalance_bid_px: r.optional("imbalance_bid_px", decimal)?,
            imbalance_ask_px: r.optional("imbalance_ask_px", decimal)?,
            imbalance_bid_sz: r.optional("imbalance_bid_sz", unsigned)?,
            imbalance_ask_sz: r.optional("imbalance_ask_sz", unsigned)?,
            vol_realized_w60s: r.optional("vol_realized_w60s", decimal)?,
            microstructure_signal_v1: r.optional("microstructure_signal_v1", text)?,
        })
    }
}

/// Minute and daily bars, and the latest TA signal, from ClickHouse. See the module docs for
/// what is read and how.
///
/// Daily bars are aggregated from the microbars of each New York regular session
/// (09:30–16:00), so they reach back only as far as `ta_microbars` does: Torghut keeps about 30
/// days there (a TTL on `event_ts`; its schema has used 14 to 35). A caller that needs a longer
/// daily history (e.g. a 200-day average) needs another source for it; a session with no
/// microbars is simply absent. The open
/// and close are the first and last trades of the session, not the exchange's auction prints,
/// so they can differ slightly from a vendor's daily bar.
pub struct ClickHouseBarProvider {
    config: ClickHouseConfig,
    client: reqwest::Client,
    user: HeaderValue,
    key: Option<HeaderValue>,
    queries: Queries,
}

impl std::fmt::Debug for ClickHouseBarProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseBarProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ClickHouseBarProvider {
    pub fn new(config: ClickHouseConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // ClickHouse closes idle keep-alive connections after 3 s (keep_alive_timeout); a
            // pooled connection reused just as the server closes it fails the request. Dropping
            // idle connections sooner than the server does avoids that race.
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        let user = HeaderValue::from_str(&config.user)
            .map_err(|e| invalid("TORGHUT_CLICKHOUSE_USER", e.to_string()))?;
        let key = match &config.password {
            None => None,
            Some(password) => {
                let mut value = HeaderValue::from_str(password.expose()).map_err(|_| {
                    invalid(
                        "TORGHUT_CLICKHOUSE_PASSWORD",
                        "contains characters an HTTP header cannot carry",
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let queries = Queries::new(&config.database, &config.window_size);
        Ok(Self {
            config,
            client,
            user,
            key,
            queries,
        })
    }

    pub fn config(&self) -> &ClickHouseConfig {
        &self.config
    }

    /// The newest `ta_signals` row (of the configured `window_size`) visible at `as_of`: its
    /// `window_end`, or `event_ts` when it has none, is not after `as_of`. Of several versions
    /// of that row, the highest `version`, then the latest `ingest_ts`. `None` when there is
    /// none; an implausible symbol is [`BarError::UnknownSymbol`].
    pub fn latest_signal(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
    ) -> Result<Option<TaSignal>, BarError> {
        let symbol =
            checked_symbol(symbol).ok_or_else(|| BarError::UnknownSymbol(symbol.to_owned()))?;
        let sql = self.queries.latest_signal(&symbol, unix_seconds(as_of));
        let rows = parse_rows(SIGNALS, &self.run(sql)?)?;
        rows.first().map(TaSignal::from_row).transpose()
    }

    /// Runs one query on the calling (blocking-pool) thread; see the module docs.
    fn run(&self, sql: String) -> Result<String, BarError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            BarError::Unavailable(
                "the ClickHouse provider must be called inside a tokio runtime, on a blocking \
                 thread (spawn_blocking)"
                    .to_owned(),
            )
        })?;
        handle.block_on(self.post(sql))
    }

    async fn post(&self, sql: String) -> Result<String, BarError> {
        let mut request = self
            .client
            .post(self.config.url.clone())
            .header("X-ClickHouse-User", self.user.clone())
            .body(sql);
        if let Some(key) = &self.key {
            request = request.header("X-ClickHouse-Key", key.clone());
        }
        let response = request.send().await.map_err(|e| self.unavailable(&e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.unavailable(&e))?;
        if status.is_server_error() {
            return Err(BarError::Unavailable(format!(
                "ClickHouse at {} answered {status}: {}",
                self.config.url,
                first_line(&body)
            )));
        }
        if !status.is_success() {
            return Err(BarError::Rejected {
                status: status.as_u16(),
                message: first_line(&body),
            });
        }
        Ok(body)
    }

    fn unavailable(&self, e: &reqwest::Error) -> BarError {
        let what = if e.is_timeout() {
            format!("no answer within {:?}", self.config.timeout)
        } else {
            // reqwest's own message is generic ("error sending request"); the cause (connection
            // refused, reset, DNS) is further down the chain.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        };
        BarError::Unavailable(format!("ClickHouse at {}: {what}", self.config.url))
    }

    /// "Not covered" when the table has no row for the symbol at all, else "nothing yet".
    fn empty_or_unknown<T>(&self, symbol: &str, original: &str) -> Result<Vec<T>, BarError> {
        let rows = parse_rows(MICROBARS, &self.run(self.queries.coverage(symbol))?)?;
        let covered = match rows.first() {
            Some(row) => row.required("covered", unsigned)? > 0,
            None => false,
        };
        if covered {
            Ok(Vec::new())
        } else {
            Err(BarError::UnknownSymbol(original.to_owned()))
        }
    }

    fn quotes(
        &self,
        symbol: &str,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
    ) -> Result<HashMap<DateTime<Utc>, Quote>, BarError> {
        let sql = self
            .queries
            .quotes(symbol, unix_seconds(first), unix_seconds(last));
        parse_rows(SIGNALS, &self.run(sql)?)?
            .iter()
            .map(|r| {
                Ok((
                    r.required("quote_minute", timestamp)?,
                    (
                        r.optional("quote_bid", decimal)?,
                        r.optional("quote_ask", decimal)?,
                    ),
                ))
            })
            .collect()
    }
}

/// The last bid and ask of a minute, each `None` when no signal in the minute carried one.
type Quote = (Option<Decimal>, Option<Decimal>);

/// The start of the minute containing `as_of`: minutes that started before it have closed.
fn minute_cutoff(as_of: DateTime<Utc>) -> u64 {
    let s = unix_seconds(as_of);
    s - s % 60
}

fn limit(lookback: usize) -> u64 {
    u64::try_from(lookback).unwrap_or(u64::MAX)
}

impl BarProvider for ClickHouseBarProvider {
    fn minute_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<MinuteBar>, BarError> {
        let checked =
            checked_symbol(symbol).ok_or_else(|| BarError::UnknownSymbol(symbol.to_owned()))?;
        let sql = self
            .queries
            .minute_bars(&checked, minute_cutoff(as_of), limit(lookback));
        let rows = parse_rows(MICROBARS, &self.run(sql)?)?;
        let mut bars = rows
            .iter()
            .map(|r| {
                Ok(MinuteBar {
                    ts: r.required("bar_minute", timestamp)?,
                    open: r.required("bar_open", decimal)?,
                    high: r.required("bar_high", decimal)?,
                    low: r.required("bar_low", decimal)?,
                    close: r.required("bar_close", decimal)?,
                    volume: r.required("bar_volume", volume)?,
                    bid: None,
                    ask: None,
                })
            })
            .collect::<Result<Vec<_>, BarError>>()?;
        bars.reverse();
        let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
            return self.empty_or_unknown(&checked, symbol);
        };
        let quotes = self.quotes(&checked, first.ts, last.ts)?;
        for bar in &mut bars {
            if let Some((bid, ask)) = quotes.get(&bar.ts) {
                bar.bid = *bid;
                bar.ask = *ask;
            }
        }
        Ok(bars)
    }

    fn daily_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<DailyBar>, BarError> {
        let checked =
            checked_symbol(symbol).ok_or_else(|| BarError::UnknownSymbol(symbol.to_owned()))?;
        // One more than asked: today's session may be in the answer but not yet visible.
        let sql = self.queries.daily_bars(
            &checked,
            minute_cutoff(as_of),
            limit(lookback).saturating_add(1),
        );
        let rows = parse_rows(MICROBARS, &self.run(sql)?)?;
        if rows.is_empty() {
            return self.empty_or_unknown(&checked, symbol);
        }
        let mut days = Vec::with_capacity(rows.len());
        for r in &rows {
            let day = DailyBar {
                date: r.required("session_date", date)?,
                open: r.required("day_open", decimal)?,
                high: r.required("day_high", decimal)?,
                low: r.required("day_low", decimal)?,
                close: r.required("day_close", decimal)?,
                volume: r.required("day_volume", volume)?,
            };
            if day.visible_at() <= as_of && days.len() < lookback {
                days.push(day);
            }
        }
        days.reverse();
        Ok(days)
    }
}

fn first_line(body: &str) -> String {
    let line = body.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(500).collect();
    if line.chars().count() > 500 {
        out.push('…');
    }
    if out.is_empty() {
        out.push_str("(empty body)");
    }
    out
}

/// One `JSONEachRow` line, values kept as the JSON text ClickHouse wrote.
struct Row {
    table: &'static str,
    /// 1-based.
    index: usize,
    fields: HashMap<String, Box<RawValue>>,
}

/// A JSON value as written: `null`, a string (unescaped), or the text of a number.
enum Scalar {
    Null,
    Text(String),
    Number(String),
}

fn scalar(raw: &RawValue) -> Result<Scalar, String> {
    let text = raw.get();
    match text.as_bytes().first() {
        _ if text == "null" => Ok(Scalar::Null),
        Some(b'"') => serde_json::from_str::<String>(text)
            .map(Scalar::Text)
            .map_err(|e| e.to_string()),
        Some(b'-' | b'0'..=b'9') => Ok(Scalar::Number(text.to_owned())),
        _ => Err(format!("expected a scalar, got {text}")),
    }
}

impl Row {
    fn error(&self, column: &'static str, reason: impl Into<String>) -> BarError {
        BarError::Row {
            table: self.table,
            row: self.index,
            column,
            reason: reason.into(),
        }
    }

    fn optional<T>(
        &self,
        column: &'static str,
        parse: impl FnOnce(Scalar) -> Result<T, String>,
    ) -> Result<Option<T>, BarError> {
        let raw = self
            .fields
            .get(column)
            .ok_or_else(|| self.error(column, "missing from the answer"))?;
        match scalar(raw).map_err(|e| self.error(column, e))? {
            Scalar::Null => Ok(None),
            value => parse(value).map(Some).map_err(|e| self.error(column, e)),
        }
    }

    fn required<T>(
        &self,
        column: &'static str,
        parse: impl FnOnce(Scalar) -> Result<T, String>,
    ) -> Result<T, BarError> {
        self.optional(column, parse)?
            .ok_or_else(|| self.error(column, "null where a value is required"))
    }
}

/// Splits a `JSONEachRow` answer. A line that is not JSON is usually an exception ClickHouse
/// appended after it had already answered 200 (e.g. a limit hit mid-stream): a server-side
/// failure, reported as unavailable with the server's own message.
fn parse_rows(table: &'static str, body: &str) -> Result<Vec<Row>, BarError> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            if line.starts_with("Code: ") {
                return Err(BarError::Unavailable(format!(
                    "ClickHouse failed while answering: {}",
                    first_line(line)
                )));
            }
            serde_json::from_str::<HashMap<String, Box<RawValue>>>(line)
                .map(|fields| Row {
                    table,
                    index: i + 1,
                    fields,
                })
                .map_err(|e| BarError::Row {
                    table,
                    row: i + 1,
                    column: "(row)",
                    reason: format!("not a JSON object: {e}: {}", first_line(line)),
                })
        })
        .collect()
}

fn text(value: Scalar) -> Result<String, String> {
    match value {
        Scalar::Text(s) => Ok(s),
        Scalar::Number(n) => Err(format!("expected a string, got {n}")),
        Scalar::Null => Err("expected a string, got null".to_owned()),
    }
}

/// A decimal from a number or a quoted number (ClickHouse quotes 64-bit integers by default and
/// may print `1e+20`); `nan`/`inf` are refused.
fn decimal(value: Scalar) -> Result<Decimal, String> {
    let raw = match value {
        Scalar::Number(n) | Scalar::Text(n) => n,
        Scalar::Null => return Err("expected a number, got null".to_owned()),
    };
    Decimal::from_str(&raw)
        .or_else(|_| Decimal::from_scientific(&raw))
        .map_err(|e| format!("expected a decimal number, got {raw:?}: {e}"))
}

fn unsigned(value: Scalar) -> Result<u64, String> {
    let raw = match value {
        Scalar::Number(n) | Scalar::Text(n) => n,
        Scalar::Null => return Err("expected an unsigned integer, got null".to_owned()),
    };
    raw.parse::<u64>()
        .map_err(|e| format!("expected an unsigned integer, got {raw:?}: {e}"))
}

/// `v` is a `Float64` sum of shares; equity volumes are whole, and a fractional remainder
/// (fractional-share prints) is rounded to the nearest share because [`MinuteBar::volume`] is
/// a count.
fn volume(value: Scalar) -> Result<u64, String> {
    let d = decimal(value)?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(format!("expected a non-negative volume, got {d}"));
    }
    u64::try_from(d.round()).map_err(|e| format!("volume {d} does not fit a u64: {e}"))
}

/// `DateTime` prints `2013-10-08 14:30:00`, `DateTime64(3)` prints `2013-10-08 14:30:00.000`;
/// both in UTC because every query converts with `toTimeZone(…, 'UTC')`.
fn timestamp(value: Scalar) -> Result<DateTime<Utc>, String> {
    let Scalar::Text(raw) = value else {
        return Err("expected a timestamp string".to_owned());
    };
    parse_timestamp(&raw)
}

fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, String> {
    let (seconds, fraction) = match raw.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (raw, None),
    };
    let base = NaiveDateTime::parse_from_str(seconds, "%Y-%m-%d %H:%M:%S")
        .map_err(|e| format!("expected \"YYYY-MM-DD hh:mm:ss[.fff]\", got {raw:?}: {e}"))?;
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            let padded = format!("{f:0<9}");
            padded
                .parse::<u32>()
                .map_err(|e| format!("fraction of {raw:?}: {e}"))?
        }
        Some(_) => {
            return Err(format!(
                "expected \"YYYY-MM-DD hh:mm:ss[.fff]\", got {raw:?}"
            ));
        }
    };
    Ok(base.and_utc() + chrono::Duration::nanoseconds(i64::from(nanos)))
}

fn date(value: Scalar) -> Result<NaiveDate, String> {
    let Scalar::Text(raw) = value else {
        return Err("expected a date string".to_owned());
    };
    NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
        .map_err(|e| format!("expected \"YYYY-MM-DD\", got {raw:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid time")
    }

    fn row(line: &str) -> Row {
        let mut rows = parse_rows(SIGNALS, line).expect("one row");
        assert_eq!(rows.len(), 1);
        rows.remove(0)
    }

    #[test]
    fn both_timestamp_shapes_parse_to_the_same_instant() {
        let want = utc(2013, 10, 8, 14, 30, 0);
        for raw in [
            "2013-10-08 14:30:00",
            "2013-10-08 14:30:00.000",
            "2013-10-08 14:30:00.000000",
        ] {
            assert_eq!(parse_timestamp(raw), Ok(want), "{raw}");
        }
        assert_eq!(
            parse_timestamp("2013-10-08 14:30:00.250"),
            Ok(want + chrono::Duration::milliseconds(250))
        );
        assert_eq!(
            parse_timestamp("2013-10-08 14:30:00.5"),
            Ok(want + chrono::Duration::milliseconds(500))
        );
        for bad in [
            "2013-10-08T14:30:00Z",
            "2013-10-08 14:30",
            "2013-10-08 14:30:00.",
            "2013-10-08 14:30:00.12a",
            "0000-00-00 00:00:00",
            "1381242600",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sixty_four_bit_integers_parse_quoted_and_bare() {
        for line in [
            r#"{"seq":"18446744073709551615","imbalance_bid_sz":"7"}"#,
            r#"{"seq":18446744073709551615,"imbalance_bid_sz":7}"#,
        ] {
            let r = row(line);
            assert_eq!(r.required("seq", unsigned).expect("seq"), u64::MAX);
            assert_eq!(
                r.optional("imbalance_bid_sz", unsigned).expect("size"),
                Some(7)
            );
        }
        let r = row(r#"{"seq":-1,"other":"1.5"}"#);
        let err = r.required("seq", unsigned).expect_err("negative");
        assert!(
            err.to_string()
                .starts_with("ta_signals row 1, column `seq`:"),
            "{err}"
        );
        assert!(r.required("other", unsigned).is_err());
    }

    #[test]
    fn decimals_are_read_from_the_text_clickhouse_wrote() {
        let r = row(
            r#"{"a":167.49,"b":"167.49","c":100000000000000000000,"d":1e+20,"e":"1e-05","f":0.1,"g":-0.30000000000000004}"#,
        );
        let d = |c| r.required(c, decimal).expect(c);
        assert_eq!(d("a"), dec!(167.49));
        assert_eq!(d("a").to_string(), "167.49");
        assert_eq!(d("b"), dec!(167.49));
        assert_eq!(d("c"), dec!(100000000000000000000));
        assert_eq!(d("d"), dec!(100000000000000000000));
        assert_eq!(d("e"), dec!(0.00001));
        assert_eq!(d("f"), dec!(0.1));
        // The stored double is kept exactly as printed, not "cleaned up".
        assert_eq!(d("g"), dec!(-0.30000000000000004));
        let r = row(r#"{"nan":"nan","inf":"inf","word":"abc","obj":{"x":1}}"#);
        for c in ["nan", "inf", "word", "obj"] {
            let err = r.required(c, decimal).expect_err(c);
            assert!(err.to_string().contains(&format!("column `{c}`")), "{err}");
        }
    }

    #[test]
    fn nulls_are_none_where_optional_and_errors_where_required() {
        let r = row(r#"{"vwap":null,"o":null,"window_start":null,"window_step":null}"#);
        assert_eq!(r.optional("vwap", decimal).expect("vwap"), None);
        assert_eq!(r.optional("window_start", timestamp).expect("ws"), None);
        assert_eq!(r.optional("window_step", text).expect("step"), None);
        let err = r.required("o", decimal).expect_err("o is required");
        assert_eq!(
            err.to_string(),
            "ta_signals row 1, column `o`: null where a value is required"
        );
        let err = r.required("c", decimal).expect_err("c is absent");
        assert_eq!(
            err.to_string(),
            "ta_signals row 1, column `c`: missing from the answer"
        );
    }

    #[test]
    fn volume_is_a_whole_non_negative_count() {
        let r = row(r#"{"a":376459,"b":"2.5","c":-1,"d":1e+30,"e":0}"#);
        assert_eq!(r.required("a", volume).expect("a"), 376_459);
        // Round half to even, the Decimal default.
        assert_eq!(r.required("b", volume).expect("b"), 2);
        assert!(r.required("c", volume).is_err());
        assert!(r.required("d", volume).is_err());
        assert_eq!(r.required("e", volume).expect("e"), 0);
    }

    #[test]
    fn bad_lines_name_the_row_and_server_exceptions_are_unavailable() {
        let body = "{\"a\":1}\nnot json\n";
        match parse_rows(MICROBARS, body) {
            Err(BarError::Row {
                table: "ta_microbars",
                row: 2,
                column: "(row)",
                ..
            }) => {}
            other => panic!("{:?}", other.map(|r| r.len())),
        }
        let body = "{\"a\":1}\nCode: 241, e.displayText() = DB::Exception: Memory limit exceeded\n";
        match parse_rows(MICROBARS, body) {
            Err(BarError::Unavailable(m)) => assert!(m.contains("Memory limit"), "{m}"),
            other => panic!("{:?}", other.map(|r| r.len())),
        }
        assert!(
            parse_rows(MICROBARS, "\n\n")
                .expect("empty answer")
                .is_empty()
        );
    }

    /// What 18.16 answers for `SELECT … FROM ta_signals` with `DateTime` columns, and what
    /// current ClickHouse answers for the production `DateTime64(3, 'UTC')` schema.
    #[test]
    fn a_signal_row_parses_from_either_server_generation() {
        let old = r#"{"symbol":"IBM","event_ts":"2013-10-08 14:30:00","seq":"42","ingest_ts":"2013-10-08 14:30:01","is_final":1,"source":"ta","window_size":"PT1S","window_step":"PT1S","window_start":"2013-10-08 14:29:59","window_end":"2013-10-08 14:30:00","version":2,"macd":0.0123,"macd_signal":-0.5,"macd_hist":null,"ema12":180.47,"ema26":180.4,"rsi14":55.5,"boll_mid":null,"boll_upper":null,"boll_lower":null,"vwap_session":180.1,"vwap_w5m":null,"imbalance_spread":0.01,"imbalance_bid_px":180.46,"imbalance_ask_px":180.47,"imbalance_bid_sz":"300","imbalance_ask_sz":"100","vol_realized_w60s":null,"microstructure_signal_v1":null}"#;
        let new = old
            .replace(":00\"", ":00.000\"")
            .replace(":01\"", ":01.000\"")
            .replace(":59\"", ":59.000\"")
            .replace("\"seq\":\"42\"", "\"seq\":42")
            .replace("\"300\"", "300")
            .replace("\"100\"", "100");
        assert_ne!(old, new);
        let a = TaSignal::from_row(&row(old)).expect("18.16 row");
        let b = TaSignal::from_row(&row(&new)).expect("current row");
        assert_eq!(a, b);
        assert_eq!(a.event_ts, utc(2013, 10, 8, 14, 30, 0));
        assert_eq!(a.window_start, Some(utc(2013, 10, 8, 14, 29, 59)));
        assert_eq!(a.seq, 42);
        assert!(a.is_final);
        assert_eq!(a.version, 2);
        assert_eq!(a.macd, Some(dec!(0.0123)));
        assert_eq!(a.macd_hist, None);
        assert_eq!(a.imbalance_bid_px, Some(dec!(180.46)));
        assert_eq!(a.imbalance_bid_sz, Some(300));
        assert_eq!(a.microstructure_signal_v1, None);

        let broken = old.replace("\"rsi14\":55.5", "\"rsi14\":\"high\"");
        let err = TaSignal::from_row(&row(&broken)).expect_err("rsi14 is not a number");
        assert!(
            err.to_string()
                .starts_with("ta_signals row 1, column `rsi14`: expected a decimal number"),
            "{err}"
        );
        let broken = old.replace("\"version\":2", "\"version\":4294967296");
        let err = TaSignal::from_row(&row(&broken)).expect_err("version is a UInt32");
        assert!(err.to_string().contains("column `version`"), "{err}");
    }

    #[test]
    fn symbols_are_checked_and_upper_cased() {
        for (input, want) in [
            ("IBM", Some("IBM")),
            ("brk.b", Some("BRK.B")),
            ("BF-B", Some("BF-B")),
            ("A", Some("A")),
            ("ABCDEFGHIJKLMNOP", Some("ABCDEFGHIJKLMNOP")),
            ("ABCDEFGHIJKLMNOPQ", None),
            ("", None),
            ("SPY'", None),
            ("SPY' OR 1=1 --", None),
            ("SPY\\", None),
            ("SPY ", None),
            ("SP Y", None),
            ("ÄPFEL", None),
            ("SPY\n", None),
            ("../SPY", None),
        ] {
            assert_eq!(checked_symbol(input).as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn string_literals_cannot_be_broken_out_of() {
        assert_eq!(quote_string("IBM"), "'IBM'");
        assert_eq!(quote_string("PT1S"), "'PT1S'");
        assert_eq!(quote_string("a'b"), r"'a\'b'");
        assert_eq!(quote_string(r"a\'b"), r"'a\\\'b'");
        assert_eq!(quote_string("x\n\t\0"), r"'x\n\t\0'");
        // Every quote inside the literal is escaped, so the literal ends only at the last char.
        let hostile = r"'); DROP TABLE torghut.ta_microbars; --\";
        let quoted = quote_string(hostile);
        let inner = &quoted[1..quoted.len() - 1];
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => assert!(chars.next().is_some(), "dangling escape in {quoted}"),
                '\'' => panic!("unescaped quote in {quoted}"),
                _ => {}
            }
        }
    }

    #[test]
    fn queries_interpolate_only_checked_values() {
        let q = Queries::new("torghut", "PT1S");
        let bars = q.minute_bars("IBM", 1_381_242_600, 390);
        assert!(bars.contains("FROM `torghut`.ta_microbars WHERE symbol = 'IBM' AND window_size = 'PT1S' AND event_ts <= toDateTime(1381242660)"), "{bars}");
        assert!(
            bars.contains("window_start < toDateTime(1381242600)"),
            "{bars}"
        );
        assert!(bars.contains("LIMIT 1 BY event_ts"), "{bars}");
        assert!(
            bars.contains("ORDER BY event_ts ASC, version DESC, ingest_ts DESC"),
            "{bars}"
        );
        assert!(bars.ends_with("LIMIT 390 FORMAT JSONEachRow"), "{bars}");
        let quotes = q.quotes("IBM", 1_381_240_000, 1_381_242_540);
        assert!(
            quotes.contains(
                "visible_at > toDateTime(1381240000) AND visible_at <= toDateTime(1381242600)"
            ),
            "{quotes}"
        );
        assert!(quotes.contains("FROM `torghut`.ta_signals"), "{quotes}");
        // Instants are clamped to what DateTime can hold instead of wrapping.
        let far = q.minute_bars("IBM", u64::from(u32::MAX), 1);
        assert!(far.contains(&format!("toDateTime({})", u32::MAX)), "{far}");
        assert!(
            !far.contains(&format!("{}", u64::from(u32::MAX) + 60)),
            "{far}"
        );
        assert_eq!(unix_seconds(utc(1969, 12, 31, 0, 0, 0)), 0);
        assert_eq!(minute_cutoff(utc(2013, 10, 8, 14, 30, 59)), 1_381_242_600);
        assert_eq!(minute_cutoff(utc(2013, 10, 8, 14, 30, 0)), 1_381_242_600);
    }

    fn vars(pairs: &[(&str, &str)]) -> Result<Option<ClickHouseConfig>, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ClickHouseConfig::from_lookup(|name| Ok(map.get(name).cloned()))
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
