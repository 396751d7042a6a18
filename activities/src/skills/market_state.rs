//! `market-context`: where the market is at as-of — index moves and volatility, session phase,
//! the symbol's overnight gap and its strength relative to SPY.

use crate::indicators;
use crate::providers::bars::{BarError, BarProvider, MinuteBar};
use crate::skill::{OutputBuilder, SkillError};
use chrono::{DateTime, NaiveTime, Timelike, Utc};
use chrono_tz::America::New_York;
use rust_decimal::Decimal;
use torghut_policy::skills::MARKET_CONTEXT;
use torghut_proto::v1::SkillOutput;

const FRESHNESS_TARGET_SECONDS: u64 =
    torghut_policy::skills::MARKET_CONTEXT_FRESHNESS_TARGET_SECONDS;
const MINUTES_PER_YEAR: u32 = 252 * 390;
/// Indices whose daily moves describe breadth: large caps, tech, small caps.
const DAILY_INDICES: [&str; 3] = ["SPY", "QQQ", "IWM"];

/// The phase of the US equity session at an instant, in exchange time.
pub fn session_phase(at: DateTime<Utc>) -> &'static str {
    let local = at.with_timezone(&New_York);
    let minutes = local.hour() * 60 + local.minute();
    match minutes {
        m if m < 4 * 60 => "closed",
        m if m < 9 * 60 + 30 => "pre_market",
        m if m < 10 * 60 + 30 => "open",
        m if m < 15 * 60 => "midday",
        m if m < 16 * 60 => "close",
        m if m < 20 * 60 => "after_hours",
        _ => "closed",
    }
}

/// Bars of today's regular session (from 09:30 exchange time).
fn regular_session(bars: &[MinuteBar], as_of: DateTime<Utc>) -> Vec<&MinuteBar> {
    let day = as_of.with_timezone(&New_York).date_naive();
    let open = NaiveTime::from_hms_opt(9, 30, 0);
    bars.iter()
        .filter(|b| {
            let local = b.ts.with_timezone(&New_York);
            local.date_naive() == day && open.is_some_and(|o| local.time() >= o)
        })
        .collect()
}

fn intraday_return(session: &[&MinuteBar]) -> Option<Decimal> {
    let first = session.first()?;
    let last = session.last()?;
    (!first.open.is_zero()).then(|| last.close / first.open - Decimal::ONE)
}

pub fn market_context(
    bars: &dyn BarProvider,
    symbol: &str,
    as_of: DateTime<Utc>,
) -> Result<SkillOutput, SkillError> {
    let mut out = OutputBuilder::new(MARKET_CONTEXT, symbol, as_of, FRESHNESS_TARGET_SECONDS);
    let phase = session_phase(as_of);
    out = out.label("session_phase", phase);
    let load = |sym: &str| match bars.minute_bars(sym, as_of, 960) {
        Ok(v) => Ok(Some(v)),
        Err(BarError::UnknownSymbol(_)) => Ok(None),
        Err(e) => Err(SkillError::Unavailable(e.to_string())),
    };
    let spy = load("SPY")?.unwrap_or_default();
    let spy_session = regular_session(&spy, as_of);
    let mut quality = Decimal::ZERO;
    let mut sources = 0u32;
    let mut freshness = u64::MAX;
    let mut signal = Decimal::ZERO;

    if let Some(spy_ret) = intraday_return(&spy_session) {
        quality += Decimal::new(5, 1);
        sources += 1;
        out = out.value("spy_intraday_return", spy_ret);
        let closes: Vec<Decimal> = spy_session.iter().map(|b| b.close).collect();
        if let Some(v) = indicators::realized_vol(&closes, MINUTES_PER_YEAR) {
            out = out.value("spy_realized_vol_annual", v);
        }
        // A 1% index move saturates the market half of the signal.
        signal += Decimal::new(5, 1)
            * (spy_ret * Decimal::ONE_HUNDRED).clamp(-Decimal::ONE, Decimal::ONE);
        if let Some(last) = spy_session.last() {
            freshness = freshness.min(
                (as_of - (last.ts + chrono::Duration::seconds(60)))
                    .num_seconds()
                    .max(0) as u64,
            );
        }
    } else {
        out = out.flag("index_intraday_unavailable");
    }

    let sym_bars = if symbol == "SPY" {
        Some(spy.clone())
    } else {
        load(symbol)?
    };
    if let Some(sym_bars) = sym_bars {
        let session = regular_session(&sym_bars, as_of);
        if let Some(ret) = intraday_return(&session) {
            quality += Decimal::new(3, 1);
            sources += 1;
            out = out.value("symbol_intraday_return", ret);
            if let Some(last) = session.last() {
                freshness = freshness.min(
                    (as_of - (last.ts + chrono::Duration::seconds(60)))
                        .num_seconds()
                        .max(0) as u64,
                );
            }
            if let Some(spy_ret) = intraday_return(&spy_session) {
                let rel = ret - spy_ret;
                out = out.value("relative_strength_vs_spy", rel);
                signal += Decimal::new(5, 1)
                    * (rel * Decimal::ONE_HUNDRED).clamp(-Decimal::ONE, Decimal::ONE);
            }
            if let (Some(first), Ok(daily)) = (session.first(), bars.daily_bars(symbol, as_of, 1))
                && let Some(prev) = daily.last()
                && !prev.close.is_zero()
            {
                out = out.value("overnight_gap", first.open / prev.close - Decimal::ONE);
            }
        } else {
            out = out.flag("symbol_intraday_unavailable");
        }
    } else {
        out = out.flag("symbol_not_covered");
    }

    let mut daily_seen = 0u32;
    for index in DAILY_INDICES {
        if let Ok(daily) = bars.daily_bars(index, as_of, 21)
            && daily.len() >= 2
        {
            let closes: Vec<Decimal> = daily.iter().map(|d| d.close).collect();
            // Breadth from daily closes is only as fresh as the last close it saw.
            if let Some(bar) = daily.last() {
                freshness = freshness.min((as_of - bar.visible_at()).num_seconds().max(0) as u64);
            }
            if let (Some(last), Some(prev)) = (closes.last(), closes.get(closes.len() - 2))
                && !prev.is_zero()
            {
                out = out.value(
                    &format!("{}_prev_day_return", index.to_ascii_lowercase()),
                    *last / *prev - Decimal::ONE,
                );
                daily_seen += 1;
            }
            if let Some(v) = indicators::realized_vol(&closes, 252) {
                out = out.value(
                    &format!("{}_realized_vol_20d", index.to_ascii_lowercase()),
                    v,
                );
            }
        }
    }
    if daily_seen > 0 {
        quality += Decimal::new(2, 1) * Decimal::from(daily_seen)
            / Decimal::from(DAILY_INDICES.len() as u64);
        sources += daily_seen;
    } else {
        out = out.flag("daily_breadth_unavailable");
    }
    if matches!(phase, "closed" | "pre_market" | "after_hours") {
        out = out.flag(format!("outside_regular_session:{phase}"));
    }
    if sources == 0 {
        return Ok(out.missing("no_market_data_before_as_of"));
    }
    Ok(out
        .value("signal", signal.clamp(-Decimal::ONE, Decimal::ONE))
        .sources(sources)
        .finish(freshness, quality))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn session_phases_follow_new_york_time_across_dst() {
        // 2013-10-08 is EDT (UTC-4): 13:35Z = 09:35 local.
        let at = |h, m| {
            Utc.with_ymd_and_hms(2013, 10, 8, h, m, 0)
                .single()
                .expect("valid")
        };
        assert_eq!(session_phase(at(13, 0)), "pre_market");
        assert_eq!(session_phase(at(13, 35)), "open");
        assert_eq!(session_phase(at(16, 0)), "midday");
        assert_eq!(session_phase(at(19, 30)), "close");
        assert_eq!(session_phase(at(21, 0)), "after_hours");
        // 2013-12-10 is EST (UTC-5): 14:35Z = 09:35 local.
        let winter = Utc
            .with_ymd_and_hms(2013, 12, 10, 14, 35, 0)
            .single()
            .expect("valid");
        assert_eq!(session_phase(winter), "open");
    }
}
