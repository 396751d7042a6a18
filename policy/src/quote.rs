//! The quote a decision is sized and routed on, typed once.
//!
//! The `technicals-regime` skill records the last price, the quote and the realised volatility
//! in its output's payload, the evidence every event and artifact shows. Sizing and routing need
//! those numbers as decimals: [`Quote::from_technicals`] is the one reader of those payload keys,
//! and [`keys`] the one spelling of them, shared with the skill that writes them.

use crate::skills::{TECHNICALS_REGIME, payload_decimal};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use torghut_proto::v1::SkillOutput;

/// Payload keys of the `technicals-regime` output that make up a [`Quote`].
pub mod keys {
    pub const LAST_PRICE: &str = "last_price";
    pub const BID: &str = "bid";
    pub const ASK: &str = "ask";
    pub const SPREAD_BPS: &str = "spread_bps";
    pub const REALIZED_VOL_ANNUAL: &str = "realized_vol_annual";
}

/// Last trade, top of book and realised volatility at as-of; each absent when the data was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub last_price: Option<Decimal>,
    pub bid: Option<Decimal>,
    pub ask: Option<Decimal>,
    pub spread_bps: Option<Decimal>,
    /// Annualised realised volatility, a fraction.
    pub realized_vol: Option<Decimal>,
}

impl Quote {
    /// The quote in a `technicals-regime` output; empty for another domain's output or none.
    /// A value that does not parse is absent (sizing and routing then flag the gap).
    pub fn from_technicals(technicals: Option<&SkillOutput>) -> Self {
        let Some(t) = technicals.filter(|t| t.domain == TECHNICALS_REGIME) else {
            return Self::default();
        };
        let value = |key: &str| payload_decimal(t, key);
        Self {
            last_price: value(keys::LAST_PRICE),
            bid: value(keys::BID),
            ask: value(keys::ASK),
            spread_bps: value(keys::SPREAD_BPS),
            realized_vol: value(keys::REALIZED_VOL_ANNUAL),
        }
    }

    /// The quote among a decision's context outputs (found by domain, not by position).
    pub fn of_outputs(outputs: &[SkillOutput]) -> Self {
        Self::from_technicals(outputs.iter().find(|o| o.domain == TECHNICALS_REGIME))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_technicals_payload_and_nothing_else() {
        let mut t = SkillOutput {
            domain: TECHNICALS_REGIME.to_owned(),
            ..Default::default()
        };
        t.payload.insert(keys::LAST_PRICE.into(), "101.25".into());
        t.payload
            .insert(keys::SPREAD_BPS.into(), "not a number".into());
        let q = Quote::from_technicals(Some(&t));
        assert_eq!(q.last_price, Some(Decimal::new(10125, 2)));
        assert_eq!(q.spread_bps, None);
        let mut other = t.clone();
        other.domain = "fundamentals".into();
        assert_eq!(Quote::of_outputs(&[other]), Quote::default());
        assert_eq!(Quote::of_outputs(&[t]), q);
    }
}
