//! A symbol's bars for one New York session day, held in memory for scoring.
//!
//! Loaded once per symbol and day through the same [`BarProvider`] the worker reads (embedded
//! files or ClickHouse). Only the scorer reads them, and only from the decision's last closed bar
//! to the horizon's end: the skills read their own bars through the provider, bounded by the
//! decision's as-of clock.

use crate::EvalError;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::America::New_York;
use torghut_activities::providers::bars::{BarError, BarProvider, MinuteBar};

/// A full day of minutes, pre- and post-market included (as the trigger scanner reads).
const MAX_DAY_BARS: usize = 960;

#[derive(Debug, Clone)]
pub struct SessionBars {
    pub symbol: String,
    pub day: NaiveDate,
    /// Ascending by time, all on `day` in New York.
    pub bars: Vec<MinuteBar>,
}

/// `hh:mm` New York time on `day`, in UTC. `None` only for a time that does not exist locally.
pub fn ny_time(day: NaiveDate, hour: u32, minute: u32) -> Option<DateTime<Utc>> {
    let t = NaiveTime::from_hms_opt(hour, minute, 0)?;
    New_York
        .from_local_datetime(&day.and_time(t))
        .single()
        .map(|d| d.with_timezone(&Utc))
}

impl SessionBars {
    /// The day's bars, or `None` when the provider has none for that day (a holiday, a symbol
    /// without data then).
    pub fn load(
        provider: &dyn BarProvider,
        symbol: &str,
        day: NaiveDate,
    ) -> Result<Option<SessionBars>, EvalError> {
        let Some(end) = ny_time(day, 23, 59) else {
            return Ok(None);
        };
        let bars = match provider.minute_bars(symbol, end, MAX_DAY_BARS) {
            Ok(b) => b,
            Err(BarError::UnknownSymbol(_)) => return Ok(None),
            Err(e) => return Err(EvalError::Bars(format!("{symbol} {day}: {e}"))),
        };
        let bars: Vec<MinuteBar> = bars
            .into_iter()
            .filter(|b| b.ts.with_timezone(&New_York).date_naive() == day)
            .collect();
        if bars.is_empty() {
            return Ok(None);
        }
        Ok(Some(SessionBars {
            symbol: symbol.to_owned(),
            day,
            bars,
        }))
    }

    /// Index of the last bar that had closed at `t` (what a decision at `t` saw last).
    pub fn last_closed(&self, t: DateTime<Utc>) -> Option<usize> {
        let n = self.bars.partition_point(|b| b.end() <= t);
        n.checked_sub(1)
    }

    /// The regular session's close (16:00 New York).
    pub fn close(&self) -> Option<DateTime<Utc>> {
        ny_time(self.day, 16, 0)
    }
}
