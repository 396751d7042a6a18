//! Execution routing: which adapter to hint, and the order constraints of the intent.
//!
//! LEAN is hinted only when the execution policy allows it, the request enables it, the LEAN
//! adapter is healthy, and Alpaca is there as a fallback; otherwise Alpaca, and the reason says
//! which condition decided. Torghut resolves the final adapter; this is a hint with its reasons.

use crate::sizing::Action;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use torghut_proto::model::{Adapter, Mode};
use torghut_proto::v1::{AdapterHint, OrderConstraints};

/// Mirrors Torghut's `TRADING_EXECUTION_ADAPTER_POLICY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterPolicy {
    /// Never hint LEAN.
    AlpacaOnly,
    /// LEAN allowed in paper mode only.
    LeanPaperOnly,
    /// LEAN allowed in paper and live.
    LeanAllowed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterHealth {
    pub alpaca_healthy: bool,
    pub lean_healthy: bool,
}

pub fn choose_adapter(
    primary: Adapter,
    lean_enabled: bool,
    mode: Mode,
    policy: AdapterPolicy,
    health: AdapterHealth,
) -> AdapterHint {
    let hint = |adapter: Adapter, reason: String| AdapterHint {
        adapter: adapter.as_str().to_owned(),
        reason,
    };
    if primary != Adapter::Lean {
        return hint(Adapter::Alpaca, "primary adapter is alpaca".to_owned());
    }
    let policy_allows = match policy {
        AdapterPolicy::AlpacaOnly => false,
        AdapterPolicy::LeanPaperOnly => mode == Mode::Paper,
        AdapterPolicy::LeanAllowed => true,
    };
    let blocker = if !policy_allows {
        Some(format!(
            "execution policy {policy:?} does not allow lean in {mode:?} mode"
        ))
    } else if !lean_enabled {
        Some("lean_enabled is false".to_owned())
    } else if !health.lean_healthy {
        Some("lean adapter is unhealthy".to_owned())
    } else if !health.alpaca_healthy {
        Some("no alpaca fallback available (alpaca unhealthy)".to_owned())
    } else {
        None
    };
    match blocker {
        Some(why) => hint(Adapter::Alpaca, format!("lean requested but {why}")),
        None => hint(
            Adapter::Lean,
            "lean requested, allowed by policy, healthy, with alpaca as fallback".to_owned(),
        ),
    }
}

/// Slippage budget in bps: half the spread plus a volatility allowance, within [2, 50].
pub fn max_slippage_bps(spread_bps: Option<Decimal>, annual_vol: Option<Decimal>) -> Decimal {
    let half_spread = spread_bps.unwrap_or(Decimal::new(10, 0)) / Decimal::TWO;
    // One minute of annualised vol, in bps: vol / sqrt(252 * 390) ~= vol / 313.5.
    let vol_bps =
        annual_vol.unwrap_or(Decimal::new(3, 1)) * Decimal::new(10_000, 0) / Decimal::new(3135, 1);
    (half_spread + vol_bps)
        .clamp(Decimal::TWO, Decimal::new(50, 0))
        .round_dp(2)
}

/// Limit orders priced off the quote when one is known, else a market order; `none` for hold.
pub fn order_constraints(
    action: Action,
    price: Option<Decimal>,
    bid: Option<Decimal>,
    ask: Option<Decimal>,
    slippage_bps: Decimal,
) -> OrderConstraints {
    let slip = slippage_bps / Decimal::new(10_000, 0);
    let limit = match action {
        Action::Buy => ask.or(price).map(|p| p * (Decimal::ONE + slip)),
        Action::Sell => bid.or(price).map(|p| p * (Decimal::ONE - slip)),
        Action::Hold => None,
    };
    let order_type = match (action, limit) {
        (Action::Hold, _) => "none",
        (_, Some(_)) => "limit",
        (_, None) => "market",
    };
    OrderConstraints {
        order_type: order_type.to_owned(),
        limit_price: limit.map(|p| p.round_dp(2).normalize().to_string()),
        time_in_force: "day".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const HEALTHY: AdapterHealth = AdapterHealth {
        alpaca_healthy: true,
        lean_healthy: true,
    };

    #[test]
    fn lean_only_when_every_condition_holds() {
        use AdapterPolicy::*;
        let cases = [
            (
                Adapter::Lean,
                true,
                Mode::Paper,
                LeanPaperOnly,
                HEALTHY,
                "lean",
            ),
            (
                Adapter::Lean,
                true,
                Mode::Live,
                LeanPaperOnly,
                HEALTHY,
                "alpaca",
            ),
            (
                Adapter::Lean,
                true,
                Mode::Live,
                LeanAllowed,
                HEALTHY,
                "lean",
            ),
            (
                Adapter::Lean,
                false,
                Mode::Paper,
                LeanAllowed,
                HEALTHY,
                "alpaca",
            ),
            (
                Adapter::Lean,
                true,
                Mode::Paper,
                AlpacaOnly,
                HEALTHY,
                "alpaca",
            ),
            (
                Adapter::Lean,
                true,
                Mode::Paper,
                LeanAllowed,
                AdapterHealth {
                    alpaca_healthy: false,
                    lean_healthy: true,
                },
                "alpaca",
            ),
            (
                Adapter::Lean,
                true,
                Mode::Paper,
                LeanAllowed,
                AdapterHealth {
                    alpaca_healthy: true,
                    lean_healthy: false,
                },
                "alpaca",
            ),
            (
                Adapter::Alpaca,
                true,
                Mode::Paper,
                LeanAllowed,
                HEALTHY,
                "alpaca",
            ),
        ];
        for (primary, enabled, mode, policy, health, want) in cases {
            let h = choose_adapter(primary, enabled, mode, policy, health);
            assert_eq!(
                h.adapter, want,
                "{primary:?} {enabled} {mode:?} {policy:?} {health:?}: {}",
                h.reason
            );
            assert!(!h.reason.is_empty());
        }
    }

    #[test]
    fn buy_limits_above_the_ask_and_sell_below_the_bid() {
        let buy = order_constraints(
            Action::Buy,
            Some(dec!(100)),
            Some(dec!(99.9)),
            Some(dec!(100.1)),
            dec!(10),
        );
        assert_eq!(buy.limit_price.as_deref(), Some("100.2"));
        let sell = order_constraints(
            Action::Sell,
            Some(dec!(100)),
            Some(dec!(99.9)),
            Some(dec!(100.1)),
            dec!(10),
        );
        assert_eq!(sell.limit_price.as_deref(), Some("99.8"));
        assert_eq!(
            order_constraints(Action::Buy, None, None, None, dec!(5)).order_type,
            "market"
        );
    }

    #[test]
    fn slippage_is_bounded() {
        assert_eq!(max_slippage_bps(Some(dec!(0)), Some(dec!(0))), dec!(2));
        assert_eq!(max_slippage_bps(Some(dec!(500)), Some(dec!(5))), dec!(50));
        let mid = max_slippage_bps(Some(dec!(4)), Some(dec!(0.2)));
        assert!(mid > dec!(2) && mid < dec!(50));
    }
}
