//! Scoring one trade by what happened next, net of costs.
//!
//! The execution model, stated once (docs/evaluation.md repeats it):
//! - A decision at `as_of` sees the quote of the last closed bar. A buy pays the ask and a sell
//!   receives the bid: the quoted half-spread going in. Without a quote, the close plus or minus
//!   [`CostModel::default_half_spread_bps`] stands in, and the outcome says so.
//! - A limit order at or through that quote fills at the quote at once. A limit short of it fills
//!   only if a later bar within the horizon trades through the limit (low below a buy limit, high
//!   above a sell limit), at the limit; otherwise it is unfilled: no trade, reported.
//! - The position is closed at the horizon's last closed bar, at the bid (long) or the ask
//!   (short): the half-spread going out. With `flat_at_close`, the horizon ends at 16:00 New York
//!   at the latest: an intraday engine does not carry a position overnight.
//!
//! The scorer reads bars from the decision's last closed bar to the horizon's end, no others.

use crate::market::SessionBars;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

const BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Long,
    Short,
}

/// What an intent (or a baseline) asks the market for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub side: Side,
    /// `None`: a market order.
    pub limit: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Half-spread assumed where a bar carries no quote, bps.
    pub default_half_spread_bps: Decimal,
    /// End every horizon at the regular session's close.
    pub flat_at_close: bool,
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            default_half_spread_bps: Decimal::new(5, 0),
            flat_at_close: true,
        }
    }
}

impl CostModel {
    pub fn describe(&self) -> String {
        format!(
            "buy at the ask, sell at the bid (the quoted half-spread each way; {} bps each way where a bar has no quote); limit orders fill only when the price trades through the limit within the horizon{}",
            self.default_half_spread_bps.normalize(),
            if self.flat_at_close {
                "; positions are closed by 16:00 New York"
            } else {
                ""
            }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum TradeOutcome {
    Filled {
        entry: Decimal,
        exit: Decimal,
        /// Minutes from the decision to the fill.
        fill_delay_minutes: i64,
        /// Net of the half-spreads, bps of the entry price; positive pays.
        net_bps: Decimal,
        /// Mid to mid over the same span, bps, signed by the side.
        gross_bps: Decimal,
        /// True when a bar without a quote was priced with the default half-spread.
        quotes_assumed: bool,
    },
    /// The limit was never traded through within the horizon.
    Unfilled,
    /// No bar closed between the decision and the horizon's end (e.g. a decision at the close).
    NoHorizon,
}

impl TradeOutcome {
    pub fn net_bps(&self) -> Option<Decimal> {
        match self {
            TradeOutcome::Filled { net_bps, .. } => Some(*net_bps),
            _ => None,
        }
    }
}

/// Bid and ask of bar `i`, or the close plus or minus the default half-spread.
fn quote(bars: &SessionBars, i: usize, costs: &CostModel) -> (Decimal, Decimal, bool) {
    let b = &bars.bars[i];
    match (b.bid, b.ask) {
        (Some(bid), Some(ask)) if bid > Decimal::ZERO && ask >= bid => (bid, ask, false),
        _ => {
            let half = b.close * costs.default_half_spread_bps / BPS;
            (b.close - half, b.close + half, true)
        }
    }
}

fn bps(num: Decimal, den: Decimal) -> Decimal {
    num.checked_mul(BPS)
        .and_then(|n| n.checked_div(den))
        .unwrap_or_default()
        .round_dp(4)
}

/// Scores `order` placed at `as_of` and closed `horizon_minutes` later.
pub fn score(
    bars: &SessionBars,
    as_of: DateTime<Utc>,
    order: Order,
    horizon_minutes: u32,
    costs: &CostModel,
) -> TradeOutcome {
    let Some(start) = bars.last_closed(as_of) else {
        return TradeOutcome::NoHorizon;
    };
    let mut end_at = as_of + Duration::minutes(i64::from(horizon_minutes));
    if costs.flat_at_close
        && let Some(close) = bars.close()
    {
        end_at = end_at.min(close);
    }
    let Some(end) = bars.last_closed(end_at).filter(|&e| e > start) else {
        return TradeOutcome::NoHorizon;
    };
    let (bid0, ask0, assumed0) = quote(bars, start, costs);
    let mid0 = (bid0 + ask0) / Decimal::TWO;
    // The entry: at the decision's quote when the limit reaches it, else the first later bar
    // that trades through the limit.
    let (entry, fill_index) = match order.side {
        Side::Long => match order.limit {
            None => (ask0, start),
            Some(l) if l >= ask0 => (ask0, start),
            Some(l) => match (start + 1..=end).find(|&j| bars.bars[j].low < l) {
                Some(j) => (l, j),
                None => return TradeOutcome::Unfilled,
            },
        },
        Side::Short => match order.limit {
            None => (bid0, start),
            Some(l) if l <= bid0 => (bid0, start),
            Some(l) => match (start + 1..=end).find(|&j| bars.bars[j].high > l) {
                Some(j) => (l, j),
                None => return TradeOutcome::Unfilled,
            },
        },
    };
    if fill_index >= end {
        // Filled on the horizon's last bar: nothing left to hold.
        return TradeOutcome::Unfilled;
    }
    let (bid1, ask1, assumed1) = quote(bars, end, costs);
    let mid1 = (bid1 + ask1) / Decimal::TWO;
    let (exit, net, gross) = match order.side {
        Side::Long => (bid1, bps(bid1 - entry, entry), bps(mid1 - mid0, mid0)),
        Side::Short => (ask1, bps(entry - ask1, entry), bps(mid0 - mid1, mid0)),
    };
    let fill_delay = bars.bars[fill_index].end() - bars.bars[start].end();
    TradeOutcome::Filled {
        entry,
        exit,
        fill_delay_minutes: fill_delay.num_minutes(),
        net_bps: net,
        gross_bps: gross,
        quotes_assumed: assumed0 || assumed1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rust_decimal_macros::dec;
    use torghut_activities::providers::bars::MinuteBar;

    /// Bars from 14:30 UTC (10:30 New York), one a minute, close = the given mids, 2-cent spread.
    fn session(mids: &[Decimal]) -> SessionBars {
        let t0 =
            crate::market::ny_time(NaiveDate::from_ymd_opt(2013, 10, 8).unwrap(), 10, 30).unwrap();
        SessionBars {
            symbol: "TEST".into(),
            day: NaiveDate::from_ymd_opt(2013, 10, 8).unwrap(),
            bars: mids
                .iter()
                .enumerate()
                .map(|(i, &m)| MinuteBar {
                    ts: t0 + Duration::minutes(i as i64),
                    open: m,
                    high: m + dec!(0.05),
                    low: m - dec!(0.05),
                    close: m,
                    volume: 100,
                    bid: Some(m - dec!(0.01)),
                    ask: Some(m + dec!(0.01)),
                })
                .collect(),
        }
    }

    fn at(bars: &SessionBars, i: usize) -> DateTime<Utc> {
        bars.bars[i].end()
    }

    #[test]
    fn a_flat_market_costs_the_full_spread() {
        let s = session(&[dec!(100); 10]);
        let o = score(
            &s,
            at(&s, 0),
            Order {
                side: Side::Long,
                limit: None,
            },
            5,
            &CostModel::default(),
        );
        // Buy 100.01, sell 99.99: -2 bps of 100.01.
        assert_eq!(o.net_bps(), Some(dec!(-1.9998)), "{o:?}");
        let o = score(
            &s,
            at(&s, 0),
            Order {
                side: Side::Short,
                limit: None,
            },
            5,
            &CostModel::default(),
        );
        assert_eq!(o.net_bps(), Some(dec!(-2.0002)), "{o:?}");
    }

    #[test]
    fn a_rise_pays_a_long_and_costs_a_short() {
        let mids: Vec<Decimal> = (0..10).map(|i| dec!(100) + Decimal::from(i)).collect();
        let s = session(&mids);
        let long = score(
            &s,
            at(&s, 0),
            Order {
                side: Side::Long,
                limit: Some(dec!(100.5)),
            },
            5,
            &CostModel::default(),
        );
        let short = score(
            &s,
            at(&s, 0),
            Order {
                side: Side::Short,
                limit: Some(dec!(99)),
            },
            5,
            &CostModel::default(),
        );
        // Exit at bar 5: mid 105.
        assert_eq!(
            long.net_bps(),
            Some(bps(dec!(104.99) - dec!(100.01), dec!(100.01)))
        );
        assert_eq!(
            short.net_bps(),
            Some(bps(dec!(99.99) - dec!(105.01), dec!(99.99)))
        );
    }

    #[test]
    fn a_limit_short_of_the_quote_fills_only_when_traded_through() {
        let mids: Vec<Decimal> = (0..10).map(|i| dec!(100) - Decimal::new(i, 1)).collect();
        let s = session(&mids);
        // Falling 10 cents a minute: a buy limit at 99.80 is traded through at bar 3 (low 99.65).
        let o = score(
            &s,
            at(&s, 0),
            Order {
                side: Side::Long,
                limit: Some(dec!(99.80)),
            },
            8,
            &CostModel::default(),
        );
        match o {
            TradeOutcome::Filled {
                entry,
                fill_delay_minutes,
                ..
            } => {
                assert_eq!(entry, dec!(99.80));
                assert_eq!(fill_delay_minutes, 2);
            }
            other => panic!("{other:?}"),
        }
        // A limit far below never fills.
        let o = score(
            &s,
            at(&s, 0),
            Order {
                side: Side::Long,
                limit: Some(dec!(90)),
            },
            8,
            &CostModel::default(),
        );
        assert_eq!(o, TradeOutcome::Unfilled);
    }

    #[test]
    fn the_horizon_stops_at_the_close_and_a_decision_at_the_last_bar_has_none() {
        let s = session(&[dec!(100); 5]);
        let o = score(
            &s,
            at(&s, 4),
            Order {
                side: Side::Long,
                limit: None,
            },
            30,
            &CostModel::default(),
        );
        assert_eq!(o, TradeOutcome::NoHorizon);
    }

    #[test]
    fn the_score_ignores_bars_outside_the_decision_and_its_horizon() {
        let mut s = session(
            &(0..20)
                .map(|i| dec!(100) + Decimal::from(i))
                .collect::<Vec<_>>(),
        );
        let order = Order {
            side: Side::Long,
            limit: None,
        };
        let before = score(&s, at(&s, 5), order, 5, &CostModel::default());
        // Rewrite the past before the decision's bar and the future after the horizon.
        for i in (0..5).chain(11..20) {
            s.bars[i].close = dec!(1);
            s.bars[i].low = dec!(0.5);
            s.bars[i].high = dec!(5000);
            s.bars[i].bid = Some(dec!(1));
            s.bars[i].ask = Some(dec!(2));
        }
        assert_eq!(
            score(&s, at(&s, 5), order, 5, &CostModel::default()),
            before
        );
    }
}
