//! Trigger signals for the intraday loop. Production reads them from Torghut's TA pipeline; the
//! embedded default derives them from the bars the skills read, so a replayed session produces
//! the signals a live one would have.

use crate::indicators;
use crate::providers::bars::{BarError, BarProvider, MinuteBar};
use crate::skill::SkillError;
use chrono::{DateTime, NaiveTime, SecondsFormat, TimeZone, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;
use torghut_policy::triggers::TriggerSignal;

pub trait TriggerSource: Send + Sync {
    /// Signals of `watchlist` that became known in `(since, until]` on `until`'s New York
    /// session day, oldest first. Without `since`, from the session's open.
    fn signals(
        &self,
        watchlist: &[String],
        since: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
    ) -> Result<Vec<TriggerSignal>, SkillError>;
}

/// Bars of the session before MACD (12, 26, 9) crossings count: the averages need to settle.
const WARMUP_BARS: usize = 35;
/// A full day of minutes, pre- and post-market included.
const MAX_SCAN_BARS: usize = 960;

/// MACD line crossing its signal line on minute closes: `macd_cross_up` / `macd_cross_down`,
/// stamped when the crossing bar closes, with the features Torghut's TA signals carry.
pub struct MacdCrossScanner {
    bars: Arc<dyn BarProvider>,
}

impl MacdCrossScanner {
    pub fn new(bars: Arc<dyn BarProvider>) -> Self {
        Self { bars }
    }

    fn scan(
        &self,
        symbol: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<TriggerSignal>, SkillError> {
        let bars = match self.bars.minute_bars(symbol, until, MAX_SCAN_BARS) {
            Ok(b) => b,
            // A symbol without data has no signals; an unreadable provider is an outage.
            Err(BarError::UnknownSymbol(_)) => return Ok(Vec::new()),
            Err(e) => return Err(SkillError::Unavailable(e.to_string())),
        };
        // The averages start at the session's first bar whatever the scanned range, so a
        // crossing does not depend on how the loop's ticks cut the session.
        let day = local_date(until);
        let bars: Vec<MinuteBar> = bars
            .into_iter()
            .filter(|b| local_date(b.ts) == day)
            .collect();
        let closes: Vec<Decimal> = bars.iter().map(|b| b.close).collect();
        let fast = indicators::ema(&closes, 12);
        let slow = indicators::ema(&closes, 26);
        let line: Vec<Decimal> = fast.iter().zip(&slow).map(|(f, s)| f - s).collect();
        let signal = indicators::ema(&line, 9);
        let mut out = Vec::new();
        for i in WARMUP_BARS..bars.len() {
            let (prev, cur) = (line[i - 1] - signal[i - 1], line[i] - signal[i]);
            let kind = if prev <= Decimal::ZERO && cur > Decimal::ZERO {
                "macd_cross_up"
            } else if prev >= Decimal::ZERO && cur < Decimal::ZERO {
                "macd_cross_down"
            } else {
                continue;
            };
            let known_at = bars[i].ts + chrono::Duration::seconds(60);
            if known_at <= since || known_at > until {
                continue;
            }
            out.push(TriggerSignal {
                symbol: symbol.to_owned(),
                kind: kind.to_owned(),
                event_ts: known_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                source: "embedded-macd-scanner".to_owned(),
                features: features(&bars[i], line[i], signal[i], &closes[..=i]),
            });
        }
        Ok(out)
    }
}

fn features(
    bar: &MinuteBar,
    macd: Decimal,
    signal: Decimal,
    closes: &[Decimal],
) -> BTreeMap<String, String> {
    let fmt = |d: Decimal| d.round_dp(4).normalize().to_string();
    let mut f = BTreeMap::new();
    f.insert("macd".to_owned(), fmt(macd));
    f.insert("macd_signal".to_owned(), fmt(signal));
    if let Some(r) = indicators::rsi(closes, 14) {
        f.insert("rsi14".to_owned(), fmt(r));
    }
    if let (Some(bid), Some(ask)) = (bar.bid, bar.ask) {
        let mid = (bid + ask) / Decimal::TWO;
        if !mid.is_zero() && ask >= bid {
            f.insert(
                "spread_bps".to_owned(),
                fmt((ask - bid) / mid * Decimal::new(10_000, 0)),
            );
        }
    }
    f
}

fn local_date(at: DateTime<Utc>) -> chrono::NaiveDate {
    at.with_timezone(&chrono_tz::America::New_York).date_naive()
}

/// 09:30 New York on `at`'s date.
fn session_open(at: DateTime<Utc>) -> DateTime<Utc> {
    let ny = chrono_tz::America::New_York;
    let date = at.with_timezone(&ny).date_naive();
    let open = date.and_time(NaiveTime::from_hms_opt(9, 30, 0).unwrap_or_default());
    ny.from_local_datetime(&open)
        .single()
        .map_or(at, |t| t.with_timezone(&Utc))
}

impl TriggerSource for MacdCrossScanner {
    fn signals(
        &self,
        watchlist: &[String],
        since: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
    ) -> Result<Vec<TriggerSignal>, SkillError> {
        let since = since.unwrap_or_else(|| session_open(until) - chrono::Duration::seconds(1));
        let mut all = Vec::new();
        for symbol in watchlist {
            all.extend(self.scan(symbol, since, until)?);
        }
        all.sort_by(|a, b| (&a.event_ts, &a.symbol).cmp(&(&b.event_ts, &b.symbol)));
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::files::bars::{FileBarProvider, embedded_dir};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("ts")
            .with_timezone(&Utc)
    }

    #[test]
    fn crossings_are_found_once_and_only_inside_the_window() {
        let scanner = MacdCrossScanner::new(Arc::new(FileBarProvider::new(embedded_dir())));
        let watch = vec!["IBM".to_owned(), "SPY".to_owned()];
        let day = scanner
            .signals(&watch, None, at("2013-10-08T20:00:00Z"))
            .expect("scan");
        assert!(
            day.len() >= 10,
            "a session has many crossings: {}",
            day.len()
        );
        for s in &day {
            let t = at(&s.event_ts);
            assert!(
                t > at("2013-10-08T13:29:59Z") && t <= at("2013-10-08T20:00:00Z"),
                "{s:?}"
            );
            assert!(s.features.contains_key("macd") && s.features.contains_key("rsi14"));
        }
        // Scanning the day in two halves finds exactly the same signals.
        let mid = at("2013-10-08T16:00:00Z");
        let mut halves = scanner.signals(&watch, None, mid).expect("first half");
        halves.extend(
            scanner
                .signals(&watch, Some(mid), at("2013-10-08T20:00:00Z"))
                .expect("second half"),
        );
        assert_eq!(halves, day);
        // Crossings alternate direction per symbol.
        for sym in ["IBM", "SPY"] {
            let kinds: Vec<&str> = day
                .iter()
                .filter(|s| s.symbol == sym)
                .map(|s| s.kind.as_str())
                .collect();
            assert!(kinds.windows(2).all(|w| w[0] != w[1]), "{sym}: {kinds:?}");
        }
        assert!(
            scanner
                .signals(&["ZZZZ".to_owned()], None, mid)
                .expect("unknown")
                .is_empty()
        );
    }
}
