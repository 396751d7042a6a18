//! The SQL the provider sends. Everything interpolated is a validated identifier, a checked
//! symbol, a quoted literal or an integer; see the parent module for why the SQL looks as it does.

use super::*;

/// A single ticker as ClickHouse stores it: `[A-Z0-9.-]{1,16}`. Anything else cannot be in
/// the table, so it is refused before any SQL is built; lowercase input is upper-cased, as the
/// file provider does.
pub(super) fn checked_symbol(symbol: &str) -> Option<String> {
    let upper = symbol.to_ascii_uppercase();
    let ok = (1..=16).contains(&upper.len())
        && upper
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    ok.then_some(upper)
}

/// A ClickHouse string literal. Inputs are validated before they get here; escaping anyway
/// means a future caller that forgets to validate still cannot break out of the literal.
pub(super) fn quote_string(value: &str) -> String {
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
pub(super) fn unix_seconds(at: DateTime<Utc>) -> u64 {
    at.timestamp().clamp(0, i64::from(u32::MAX)) as u64
}

pub(super) fn sql_instant(seconds: u64) -> String {
    format!("toDateTime({})", seconds.min(u64::from(u32::MAX)))
}

/// The rows of one table, one version per `event_ts`: the highest `version`, then the latest
/// `ingest_ts`. `columns` must include `event_ts`, `version` and `ingest_ts`.
pub(super) fn deduplicated(table: &str, columns: &str, filter: &str) -> String {
    format!(
        "SELECT {columns} FROM {table} WHERE {filter} \
         ORDER BY event_ts ASC, version DESC, ingest_ts DESC LIMIT 1 BY event_ts"
    )
}

/// The SQL of one provider; everything interpolated has been validated or is an integer.
pub(super) struct Queries {
    microbars: String,
    signals: String,
    window: String,
}

impl Queries {
    pub(super) fn new(database: &str, window_size: &str) -> Self {
        // The database name is an identifier (checked by `validate`); backquotes keep it one.
        Self {
            microbars: format!("`{database}`.{MICROBARS}"),
            signals: format!("`{database}`.{SIGNALS}"),
            window: quote_string(window_size),
        }
    }

    pub(super) fn rows_of(&self, symbol: &str) -> String {
        format!(
            "symbol = {} AND window_size = {}",
            quote_string(symbol),
            self.window
        )
    }

    /// Minute bars whose minute started before `cutoff` (a whole minute), newest first.
    pub(super) fn minute_bars(&self, symbol: &str, cutoff: u64, limit: u64) -> String {
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
    pub(super) fn quotes(&self, symbol: &str, first: u64, last: u64) -> String {
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
    pub(super) fn daily_bars(&self, symbol: &str, cutoff: u64, limit: u64) -> String {
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
    pub(super) fn coverage(&self, symbol: &str) -> String {
        format!(
            "SELECT count() AS covered FROM (SELECT 1 FROM {} WHERE {} LIMIT 1) FORMAT JSONEachRow",
            self.microbars,
            self.rows_of(symbol)
        )
    }

    /// The newest signal visible at `as_of` (whole seconds), highest version of it.
    pub(super) fn latest_signal(&self, symbol: &str, as_of: u64) -> String {
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

pub(super) const SIGNAL_VALUE_COLUMNS: &str = "macd, macd_signal, macd_hist, ema12, ema26, rsi14, \
    boll_mid, boll_upper, boll_lower, vwap_session, vwap_w5m, imbalance_spread, \
    imbalance_bid_px, imbalance_ask_px, imbalance_bid_sz, imbalance_ask_sz, vol_realized_w60s, \
    microstructure_signal_v1";

/// The start of the minute containing `as_of`: minutes that started before it have closed.
pub(super) fn minute_cutoff(as_of: DateTime<Utc>) -> u64 {
    let s = unix_seconds(as_of);
    s - s % 60
}

pub(super) fn limit(lookback: usize) -> u64 {
    u64::try_from(lookback).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid time")
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
}
