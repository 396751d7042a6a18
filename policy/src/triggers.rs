//! Trigger signals and the rules every path that turns them into decisions shares: the dedupe
//! key, the request id derived from it, the request built from a template, and the trading
//! calendar of the intraday loop.
//!
//! The loop workflow and the gateway's triggers endpoint both derive a decision's `request_id`
//! from [`dedupe_key`], so the same signal reaching the engine twice — from the loop and from an
//! event, or retried — is one `decision-<request_id>` workflow.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, SecondsFormat, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use torghut_proto::v1::{DecisionRequest, Trigger};

/// A signal that may warrant a decision: what Torghut's TA pipeline (or the embedded bar
/// scanner) emits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerSignal {
    pub symbol: String,
    /// e.g. `macd_cross_up`.
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339; the decision's as-of clock.
    pub event_ts: String,
    #[serde(default)]
    pub source: String,
    /// Feature name -> decimal string.
    #[serde(default)]
    pub features: BTreeMap<String, String>,
}

/// Fixed namespace of the request ids derived from dedupe keys (UUID v5), so every process
/// derives the same id for the same key.
const REQUEST_ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_bytes([
    0x6f, 0x1d, 0x3c, 0x52, 0x8e, 0x0a, 0x4b, 0x7e, 0x9d, 0x61, 0x2a, 0x47, 0xc3, 0x15, 0x80, 0xe9,
]);

/// Strategy, symbol, signal type and time: what makes two signals the same signal. The time is
/// normalised to whole seconds UTC, so `...:00Z` and `...:00.000+00:00` are one key.
pub fn dedupe_key(strategy_id: &str, signal: &TriggerSignal) -> String {
    let ts = DateTime::parse_from_rfc3339(&signal.event_ts)
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| signal.event_ts.clone());
    format!("{strategy_id}|{}|{}|{ts}", signal.symbol, signal.kind)
}

/// The decision's `request_id` for a dedupe key.
pub fn request_id_for(key: &str) -> String {
    uuid::Uuid::new_v5(&REQUEST_ID_NAMESPACE, key.as_bytes()).to_string()
}

/// A decision request for `signal` from a template holding the caller's portfolio, risk policy
/// and execution context. The template's position is kept only if it is in the signal's symbol.
pub fn build_request(
    template: &DecisionRequest,
    strategy_id: &str,
    signal: &TriggerSignal,
) -> DecisionRequest {
    let mut req = template.clone();
    req.request_id = request_id_for(&dedupe_key(strategy_id, signal));
    req.symbol = signal.symbol.clone();
    req.strategy_id = strategy_id.to_owned();
    req.trigger = Some(Trigger {
        r#type: signal.kind.clone(),
        event_ts: signal.event_ts.clone(),
        source: signal.source.clone(),
        features: signal.features.clone(),
    });
    if let Some(p) = req.portfolio.as_mut()
        && p.position
            .as_ref()
            .is_some_and(|pos| pos.symbol != signal.symbol)
    {
        p.position = None;
    }
    req
}

/// NYSE full-day holidays (weekend dates observed on the nearest weekday; New Year's Day on a
/// Saturday is not observed, per NYSE rule).
pub fn is_nyse_holiday(d: NaiveDate) -> bool {
    let y = d.year();
    let nth = |month: u32, weekday: Weekday, n: u8| {
        NaiveDate::from_weekday_of_month_opt(y, month, weekday, n)
    };
    let last_monday_may = (1..=5)
        .rev()
        .find_map(|n| NaiveDate::from_weekday_of_month_opt(y, 5, Weekday::Mon, n));
    let observed = |m: u32, day: u32| {
        NaiveDate::from_ymd_opt(y, m, day).map(|h| match h.weekday() {
            Weekday::Sat => h - Duration::days(1),
            Weekday::Sun => h + Duration::days(1),
            _ => h,
        })
    };
    let new_year = NaiveDate::from_ymd_opt(y, 1, 1).and_then(|h| match h.weekday() {
        Weekday::Sat => None,
        Weekday::Sun => Some(h + Duration::days(1)),
        _ => Some(h),
    });
    let mut days = vec![
        new_year,
        nth(1, Weekday::Mon, 3),
        nth(2, Weekday::Mon, 3),
        easter_sunday(y).map(|e| e - Duration::days(2)),
        last_monday_may,
        observed(7, 4),
        nth(9, Weekday::Mon, 1),
        nth(11, Weekday::Thu, 4),
        observed(12, 25),
    ];
    if y >= 2022 {
        days.push(observed(6, 19));
    }
    days.into_iter().flatten().any(|h| h == d)
}

/// Western Easter (anonymous Gregorian algorithm).
fn easter_sunday(y: i32) -> Option<NaiveDate> {
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(y, month as u32, day as u32)
}

pub fn is_trading_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !is_nyse_holiday(d)
}

/// A daily window in New York local time, `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionWindow {
    /// `HH:MM`, New York time.
    pub start: String,
    pub end: String,
}

impl Default for SessionWindow {
    fn default() -> Self {
        Self {
            start: "09:30".into(),
            end: "16:00".into(),
        }
    }
}

impl SessionWindow {
    fn parse(raw: &str) -> Option<NaiveTime> {
        NaiveTime::parse_from_str(raw, "%H:%M").ok()
    }

    /// Checks both ends parse and start is before end.
    pub fn validate(&self) -> Result<(), String> {
        match (Self::parse(&self.start), Self::parse(&self.end)) {
            (Some(s), Some(e)) if s < e => Ok(()),
            _ => Err(format!(
                "window: expected HH:MM start before HH:MM end (New York time), got {:?}..{:?}",
                self.start, self.end
            )),
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&chrono_tz::America::New_York).time();
        matches!(
            (Self::parse(&self.start), Self::parse(&self.end)),
            (Some(s), Some(e)) if local >= s && local < e
        )
    }

    /// The New York date of an instant: the trading day it belongs to.
    pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&chrono_tz::America::New_York).date_naive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(ts: &str) -> TriggerSignal {
        TriggerSignal {
            symbol: "IBM".into(),
            kind: "macd_cross_up".into(),
            event_ts: ts.into(),
            source: "test".into(),
            features: BTreeMap::new(),
        }
    }

    #[test]
    fn the_same_signal_in_any_timestamp_spelling_is_one_request_id() {
        let a = request_id_for(&dedupe_key("s1", &sig("2013-10-08T14:30:00Z")));
        let b = request_id_for(&dedupe_key("s1", &sig("2013-10-08T10:30:00.000-04:00")));
        let c = request_id_for(&dedupe_key("s1", &sig("2013-10-08T14:31:00Z")));
        let d = request_id_for(&dedupe_key("s2", &sig("2013-10-08T14:30:00Z")));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_eq!(
            uuid::Uuid::parse_str(&a).map(|u| u.get_version_num()),
            Ok(5)
        );
    }

    #[test]
    fn nyse_holidays_and_weekends() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        for h in [
            d(2013, 1, 1),
            d(2013, 3, 29), // Good Friday
            d(2013, 5, 27),
            d(2013, 7, 4),
            d(2013, 11, 28),
            d(2013, 12, 25),
            d(2021, 12, 24), // Christmas on a Saturday, observed Friday
            d(2026, 6, 19),
            d(2026, 11, 26),
            d(2027, 7, 5), // July 4th on a Sunday, observed Monday
        ] {
            assert!(is_nyse_holiday(h), "{h}");
            assert!(!is_trading_day(h), "{h}");
        }
        assert!(
            !is_nyse_holiday(d(2022, 12, 31)),
            "New Year's on a Saturday is not observed"
        );
        assert!(is_trading_day(d(2013, 10, 8)));
        assert!(!is_trading_day(d(2013, 10, 12)), "Saturday");
        assert!(
            !is_nyse_holiday(d(2019, 6, 19)),
            "Juneteenth only from 2022"
        );
    }

    #[test]
    fn the_window_is_new_york_time_across_dst() {
        let w = SessionWindow::default();
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("ts")
                .with_timezone(&Utc)
        };
        assert!(w.contains(at("2013-10-08T13:30:00Z")), "09:30 EDT");
        assert!(!w.contains(at("2013-10-08T13:29:00Z")));
        assert!(!w.contains(at("2013-10-08T20:00:00Z")), "16:00 is the end");
        assert!(w.contains(at("2013-12-10T14:30:00Z")), "09:30 EST");
        assert!(!w.contains(at("2013-12-10T14:29:00Z")));
        assert!(
            SessionWindow {
                start: "16:00".into(),
                end: "09:30".into()
            }
            .validate()
            .is_err()
        );
    }
}
