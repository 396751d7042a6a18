//! `technicals-regime`: trend, momentum, volatility and liquidity from minute bars up to as-of,
//! cross-checked against the features the trigger arrived with.
//!
//! The trigger's features were computed upstream (torghut-ta); if our own reading of the same
//! bars disagrees, that is a data-quality problem worth a flag and a lower quality, not
//! something to average away.

use crate::indicators;
use crate::providers::bars::{BarError, BarProvider, MinuteBar};
use crate::skill::{OutputBuilder, SkillError};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use torghut_policy::skills::TECHNICALS_REGIME;
use torghut_proto::v1::SkillOutput;

/// Minutes of history read: one regular session.
const LOOKBACK_MINUTES: usize = 390;
/// Trading minutes in a year, to annualise one-minute volatility.
const MINUTES_PER_YEAR: u32 = 252 * 390;
const FRESHNESS_TARGET_SECONDS: u64 = torghut_policy::skills::TECHNICALS_FRESHNESS_TARGET_SECONDS;

pub fn technicals_regime(
    bars: &dyn BarProvider,
    symbol: &str,
    as_of: DateTime<Utc>,
    trigger_features: &BTreeMap<String, Decimal>,
) -> Result<SkillOutput, SkillError> {
    let out = OutputBuilder::new(TECHNICALS_REGIME, symbol, as_of, FRESHNESS_TARGET_SECONDS);
    let series = match bars.minute_bars(symbol, as_of, LOOKBACK_MINUTES) {
        Ok(series) => series,
        Err(BarError::UnknownSymbol(_)) => return Ok(out.missing("symbol_not_covered")),
        Err(e) => return Err(SkillError::Unavailable(e.to_string())),
    };
    let Some(last) = series.last() else {
        return Ok(out.missing("no_bars_before_as_of"));
    };
    Ok(analyse(out, &series, last, as_of, trigger_features))
}

/// Liquidity from the quoted spread, in `(0, 1]`: 1 at no spread, 0.5 at 10 bps, falling
/// towards 0 as the spread widens. The bars carry no quote sizes, so depth cannot enter it.
fn liquidity_score(relative_spread: Decimal) -> Decimal {
    let bps = (relative_spread * Decimal::new(10_000, 0)).max(Decimal::ZERO);
    Decimal::ONE / (Decimal::ONE + bps / Decimal::TEN)
}

fn analyse(
    mut out: OutputBuilder,
    series: &[MinuteBar],
    last: &MinuteBar,
    as_of: DateTime<Utc>,
    features: &BTreeMap<String, Decimal>,
) -> SkillOutput {
    let closes: Vec<Decimal> = series.iter().map(|b| b.close).collect();
    let bar_end = last.ts + chrono::Duration::seconds(60);
    let freshness = (as_of - bar_end).num_seconds().max(0) as u64;
    let mut quality = if closes.len() >= 60 {
        Decimal::new(9, 1)
    } else {
        out = out.flag("short_history");
        Decimal::new(9, 1) * Decimal::from(closes.len() as u64) / Decimal::from(60u64)
    };
    out = out
        .value("last_price", last.close)
        .value("volume", Decimal::from(last.volume))
        .value("bars_used", Decimal::from(closes.len() as u64));

    let mut signal = Decimal::ZERO;
    let macd = indicators::macd(&closes);
    if let Some((m, s, h)) = macd {
        out = out
            .value("macd", m)
            .value("macd_signal", s)
            .value("macd_hist", h);
        // Histogram relative to price, in bps, saturating at 5 bps.
        let rel = h / last.close * Decimal::new(10_000, 0) / Decimal::new(5, 0);
        signal += Decimal::new(4, 1) * rel.clamp(-Decimal::ONE, Decimal::ONE);
    } else {
        out = out.flag("macd_unavailable");
    }
    let rsi = indicators::rsi(&closes, 14);
    if let Some(r) = rsi {
        out = out.value("rsi14", r);
        signal += Decimal::new(3, 1) * ((r - Decimal::new(50, 0)) / Decimal::new(50, 0));
    }
    let sma30 = indicators::mean(&closes[closes.len().saturating_sub(30)..]);
    let trend = match sma30 {
        Some(sma) if last.close > sma => Decimal::ONE,
        Some(sma) if last.close < sma => -Decimal::ONE,
        _ => Decimal::ZERO,
    };
    if let Some(sma) = sma30 {
        out = out.value("sma30", sma);
    }
    out = out.label(
        "trend",
        match trend {
            t if t > Decimal::ZERO => "up",
            t if t < Decimal::ZERO => "down",
            _ => "flat",
        },
    );
    signal += Decimal::new(3, 1) * trend;

    let vol = indicators::realized_vol(&closes, MINUTES_PER_YEAR);
    if let Some(v) = vol {
        out = out.value("realized_vol_annual", v);
    }
    if let (Some(bid), Some(ask)) = (last.bid, last.ask) {
        let mid = (bid + ask) / Decimal::TWO;
        if mid > Decimal::ZERO && ask >= bid {
            out = out
                .value("bid", bid)
                .value("ask", ask)
                .value("spread_bps", (ask - bid) / mid * Decimal::new(10_000, 0))
                .value("liquidity_score", liquidity_score((ask - bid) / mid));
        }
    } else {
        out = out.flag("no_quote");
        quality -= Decimal::new(1, 1);
    }
    let volumes: Vec<Decimal> = series.iter().map(|b| Decimal::from(b.volume)).collect();
    if let (Some(recent), Some(avg)) = (
        indicators::mean(&volumes[volumes.len().saturating_sub(5)..]),
        indicators::mean(&volumes),
    ) && avg > Decimal::ZERO
    {
        out = out.value("volume_ratio", recent / avg);
    }

    let high_vol = vol.is_some_and(|v| v > Decimal::new(6, 1));
    let regime = match (high_vol, trend) {
        (true, _) => "high_volatility",
        (false, t) if t > Decimal::ZERO && signal > Decimal::new(2, 1) => "trending_up",
        (false, t) if t < Decimal::ZERO && signal < Decimal::new(-2, 1) => "trending_down",
        _ => "range",
    };
    out = out.label("regime", regime);

    // Cross-check with the trigger's own features.
    if let (Some(theirs), Some(ours)) = (features.get("rsi14"), rsi)
        && (theirs - ours).abs() > Decimal::new(10, 0)
    {
        out = out.flag(format!(
            "trigger_disagrees:rsi14:{}vs{}",
            theirs.round_dp(1),
            ours.round_dp(1)
        ));
        quality -= Decimal::new(2, 1);
    }
    if let (Some(their_m), Some(their_s), Some((m, s, _))) =
        (features.get("macd"), features.get("macd_signal"), macd)
        && ((their_m - their_s).is_sign_negative() != (m - s).is_sign_negative())
    {
        out = out.flag("trigger_disagrees:macd_cross");
        quality -= Decimal::new(2, 1);
    }

    out.value("signal", signal.clamp(-Decimal::ONE, Decimal::ONE))
        .sources(1)
        .finish(freshness, quality)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liquidity_halves_at_ten_basis_points_of_spread() {
        assert_eq!(liquidity_score(Decimal::ZERO), Decimal::ONE);
        assert_eq!(liquidity_score(Decimal::new(10, 4)), Decimal::new(5, 1));
        assert!(liquidity_score(Decimal::new(100, 4)) < Decimal::new(1, 1));
        assert_eq!(
            liquidity_score(Decimal::new(-1, 4)),
            Decimal::ONE,
            "a crossed quote is no spread"
        );
    }
}
