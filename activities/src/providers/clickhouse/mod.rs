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
//! Exactly as [`crate::providers::files::bars::FileBarProvider`]: a minute bar is visible once its minute has
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

use crate::providers::bars::{BarError, BarProvider, DailyBar, MinuteBar};
use crate::secret::Secret;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use reqwest::header::HeaderValue;
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use torghut_config::keys;

/// New York regular session, in minutes after local midnight: [09:30, 16:00).
const SESSION_OPEN_MINUTE: u32 = 9 * 60 + 30;
const SESSION_CLOSE_MINUTE: u32 = 16 * 60;

const MICROBARS: &str = "ta_microbars";
const SIGNALS: &str = "ta_signals";

mod config;
mod rows;
mod sql;

use config::invalid;
pub use config::{ClickHouseConfig, ConfigError};
use rows::{date, decimal, first_line, parse_rows, timestamp, unsigned, volume};
use sql::{Queries, checked_symbol, limit, minute_cutoff, unix_seconds};

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
            .map_err(|e| invalid(keys::TORGHUT_CLICKHOUSE_USER.env, e.to_string()))?;
        let key = match &config.password {
            None => None,
            Some(password) => {
                let mut value = HeaderValue::from_str(password.expose()).map_err(|_| {
                    invalid(
                        keys::TORGHUT_CLICKHOUSE_PASSWORD.env,
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
