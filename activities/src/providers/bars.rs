//! Minute and daily bars, read through an explicit as-of clock.
//!
//! Replays and tests must see the market exactly as it was at the decision's instant, so every
//! read takes `as_of` and returns only bars that had *closed* by then: a minute bar starting at
//! 14:29 closes at 14:30 and is visible to a decision at 14:30:00, not at 14:29:59. The wall
//! clock is never consulted here; whoever calls decides what "now" is.
//!
//! Prices are as recorded (not split- or dividend-adjusted): the embedded AAPL data spans the
//! 7:1 split of 2014-06-09, which shows up as a price drop, exactly as a live feed would show it.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use rust_decimal::Decimal;
use std::path::PathBuf;

/// One minute of trading, stamped with the minute's *start* so it lines up with exchange data;
/// use [`MinuteBar::end`] for visibility.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteBar {
    pub ts: DateTime<Utc>,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: u64,
    /// Last bid of the minute; `None` when the quote feed had nothing for it (thin pre-market).
    pub bid: Option<Decimal>,
    /// Last ask of the minute; `None` for the same reason as `bid`.
    pub ask: Option<Decimal>,
}

impl MinuteBar {
    /// The close is only known once the minute is over, so this, not `ts`, gates visibility.
    pub fn end(&self) -> DateTime<Utc> {
        self.ts + Duration::seconds(60)
    }
}

/// One regular session. `date` is the New York trading date, which is what the source records.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyBar {
    pub date: NaiveDate,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: u64,
}

impl DailyBar {
    /// The 16:00 New York close in UTC: 20:00 under daylight time, 21:00 otherwise.
    ///
    /// A flat 20:00 UTC would leak the closing price an hour early every winter. Years before
    /// the 2007 US rule change get 21:00, which is late in summer but never early. Half-day
    /// sessions (13:00 close) are treated as full days, which again errs late, never early.
    pub fn visible_at(&self) -> DateTime<Utc> {
        let close_hour_utc = if new_york_daylight_time(self.date) {
            20
        } else {
            21
        };
        self.date.and_time(chrono::NaiveTime::MIN).and_utc() + Duration::hours(close_hour_utc)
    }
}

/// US daylight time from the second Sunday of March to the first Sunday of November (rule since
/// 2007). The switch is at 02:00 local, long before the close, so the date alone decides.
/// Earlier years report `false` so that callers err towards a later close.
fn new_york_daylight_time(date: NaiveDate) -> bool {
    let year = date.year();
    if year < 2007 {
        return false;
    }
    match (
        NaiveDate::from_weekday_of_month_opt(year, 3, Weekday::Sun, 2),
        NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Sun, 1),
    ) {
        (Some(start), Some(end)) => start <= date && date < end,
        _ => false,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BarError {
    /// Also returned for names that could not be a file name, so callers can treat "not
    /// covered" uniformly and a symbol can never escape the data directory.
    #[error("no bars for symbol {0:?}")]
    UnknownSymbol(String),
    /// `line` and `column` are 1-based, as editors count, so the message can be pasted into one.
    #[error("{}:{line}:{column} ({field}): {reason}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        field: &'static str,
        reason: String,
    },
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A remote source could not be reached or did not answer in time (connection refused, a
    /// timeout, a 5xx). Transient by nature: skills report it as a retryable "provider
    /// unavailable", and a decision that exhausts the retries records the domain as missing.
    #[error("bar source unavailable: {0}")]
    Unavailable(String),
    /// A remote source answered, but refused the query (a 4xx: wrong credentials, a missing
    /// table). Retrying does not fix configuration, but skills treat it like any other provider
    /// failure, so the message must say what to fix.
    #[error("bar source refused the query ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// A remote source answered a row we cannot read; `row` is 1-based within the answer.
    #[error("{table} row {row}, column `{column}`: {reason}")]
    Row {
        table: &'static str,
        row: usize,
        column: &'static str,
        reason: String,
    },
}

/// A source of bars behind an as-of clock.
///
/// Both methods return at most `lookback` of the most recent bars that had closed by `as_of`
/// (minute: `ts + 60s <= as_of`; daily: [`DailyBar::visible_at`] `<= as_of`), oldest first. A
/// symbol the source does not cover is [`BarError::UnknownSymbol`]; a covered symbol with no
/// bar closed yet is an empty vector, because "no data yet" and "not covered" mean different
/// things to a caller.
pub trait BarProvider: Send + Sync {
    fn minute_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<MinuteBar>, BarError>;
    fn daily_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<DailyBar>, BarError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daylight_time_follows_the_us_rule() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        assert!(!new_york_daylight_time(d(2013, 3, 9)));
        assert!(new_york_daylight_time(d(2013, 3, 10)));
        assert!(new_york_daylight_time(d(2013, 11, 2)));
        assert!(!new_york_daylight_time(d(2013, 11, 3)));
        assert!(!new_york_daylight_time(d(2006, 7, 1)));
    }
}
