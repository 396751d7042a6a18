//! Position sizing: a bounded quantity from signal strength, confidence and volatility.
//!
//! The invariant that matters: the notional of the result never exceeds *any* cap — the
//! per-trade limit, the position limit as a share of equity (counting what is already held),
//! buying power, and the account's remaining budget. Uncertainty only ever shrinks the size.
//! A `null` caller limit falls back to the engine's own conservative default, never to "no limit".
//!
//! The arithmetic is checked: a product that would overflow `Decimal` (a position of 10^27
//! shares, say) is not a panic but the most conservative reading — a held value too large to
//! add to, a trade too large to size — so the answer is a hold with a flag saying why.

use crate::analysis::Direction;
use crate::quote::Quote;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use torghut_proto::model::{Portfolio, RiskPolicy, ValidatedRequest};

/// Engine default for `max_position_pct_equity` when the caller sends `null`.
pub const DEFAULT_MAX_POSITION_PCT_EQUITY: Decimal = Decimal::from_parts(5, 0, 0, false, 2);
/// Annualised volatility at which the size is not scaled down.
pub const TARGET_ANNUAL_VOL: Decimal = Decimal::from_parts(20, 0, 0, false, 2);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizingLimits {
    pub equity: Decimal,
    pub buying_power: Decimal,
    pub max_notional_per_trade: Option<Decimal>,
    pub max_position_pct_equity: Option<Decimal>,
    /// Signed shares currently held.
    pub position_qty: Decimal,
    /// Remaining notional budget of the account (the exposure ledger's answer); `None` = no ledger.
    pub remaining_budget: Option<Decimal>,
    pub kill_switch: bool,
    pub allow_fractional: bool,
    pub allow_short: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizingSignal {
    pub direction: Direction,
    /// |score| in `[0, 1]`.
    pub strength: Decimal,
    pub confidence: Decimal,
    pub realized_vol: Option<Decimal>,
    pub price: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Buy,
    Sell,
    Hold,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Buy => "buy",
            Action::Sell => "sell",
            Action::Hold => "hold",
        }
    }

    pub fn parse(raw: &str) -> Option<Action> {
        [Action::Buy, Action::Sell, Action::Hold]
            .into_iter()
            .find(|a| a.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sized {
    pub action: Action,
    pub qty: Decimal,
    pub notional: Decimal,
    pub binding_cap: String,
    pub risk_flags: Vec<String>,
}

impl Sized {
    fn hold(reason: &str) -> Self {
        Sized {
            action: Action::Hold,
            qty: Decimal::ZERO,
            notional: Decimal::ZERO,
            binding_cap: reason.to_owned(),
            risk_flags: vec![format!("sizing:{reason}")],
        }
    }
}

/// The caps that apply to a trade in `direction`, each with its name; the smallest binds.
pub fn caps(signal: &SizingSignal, limits: &SizingLimits) -> Vec<(&'static str, Decimal)> {
    let pct = limits
        .max_position_pct_equity
        .unwrap_or(DEFAULT_MAX_POSITION_PCT_EQUITY)
        .clamp(Decimal::ZERO, Decimal::ONE);
    // Unrepresentable means "more than any cap": no room to add.
    let held_value = limits
        .position_qty
        .checked_mul(signal.price)
        .map_or(Decimal::MAX, |v| v.abs());
    let mut caps = vec![("buying_power", limits.buying_power.max(Decimal::ZERO))];
    if let Some(m) = limits.max_notional_per_trade {
        caps.push(("max_notional_per_trade", m.max(Decimal::ZERO)));
    }
    if let Some(b) = limits.remaining_budget {
        caps.push(("remaining_budget", b.max(Decimal::ZERO)));
    }
    // Adding to a position in the trade's direction counts what is held; reducing does not.
    let adds = match signal.direction {
        Direction::Long => limits.position_qty >= Decimal::ZERO,
        Direction::Short => limits.position_qty <= Decimal::ZERO,
        Direction::Flat => true,
    };
    let limit_value = limits
        .equity
        .max(Decimal::ZERO)
        .checked_mul(pct)
        .unwrap_or(Decimal::ZERO);
    let room = limit_value
        .checked_sub(if adds { held_value } else { Decimal::ZERO })
        .unwrap_or(Decimal::ZERO);
    caps.push(("max_position_pct_equity", room.max(Decimal::ZERO)));
    if signal.direction == Direction::Short && !limits.allow_short {
        let long_value = limits
            .position_qty
            .max(Decimal::ZERO)
            .checked_mul(signal.price)
            .unwrap_or(Decimal::ZERO)
            .max(Decimal::ZERO);
        caps.push(("held_position", long_value));
    }
    caps
}

/// Sizes a trade. Total: any input gives a result within every cap.
pub fn size(signal: &SizingSignal, limits: &SizingLimits) -> Sized {
    if limits.kill_switch {
        return Sized::hold("kill_switch");
    }
    let action = match signal.direction {
        Direction::Flat => return Sized::hold("no_direction"),
        Direction::Long => Action::Buy,
        Direction::Short => Action::Sell,
    };
    if signal.price <= Decimal::ZERO {
        return Sized::hold("no_reference_price");
    }
    if action == Action::Sell && !limits.allow_short && limits.position_qty <= Decimal::ZERO {
        return Sized::hold("no_position_to_sell");
    }

    let pct = limits
        .max_position_pct_equity
        .unwrap_or(DEFAULT_MAX_POSITION_PCT_EQUITY)
        .clamp(Decimal::ZERO, Decimal::ONE);
    let vol_scale = match signal.realized_vol {
        Some(v) if v > TARGET_ANNUAL_VOL => (TARGET_ANNUAL_VOL / v).max(Decimal::new(25, 2)),
        _ => Decimal::ONE,
    };
    let strength = signal.strength.clamp(Decimal::ZERO, Decimal::ONE);
    let confidence = signal.confidence.clamp(Decimal::ZERO, Decimal::ONE);
    let Some(desired) = [pct, strength, confidence, vol_scale]
        .into_iter()
        .try_fold(limits.equity.max(Decimal::ZERO), Decimal::checked_mul)
    else {
        return Sized::hold("arithmetic_overflow");
    };

    let mut binding = ("signal", desired);
    for (name, cap) in caps(signal, limits) {
        if cap < binding.1 {
            binding = (name, cap);
        }
    }
    let Some(raw_qty) = binding.1.checked_div(signal.price) else {
        return Sized::hold("arithmetic_overflow");
    };
    let qty = if limits.allow_fractional {
        raw_qty.round_dp_with_strategy(4, RoundingStrategy::ToZero)
    } else {
        raw_qty.trunc()
    };
    if qty <= Decimal::ZERO {
        let mut h = Sized::hold("size_below_minimum");
        h.binding_cap = binding.0.to_owned();
        return h;
    }
    let mut flags = Vec::new();
    if vol_scale < Decimal::ONE {
        flags.push("sizing:scaled_down_for_volatility".to_owned());
    }
    Sized {
        action,
        qty: qty.normalize(),
        // qty <= cap / price, so this product is at most the cap and cannot overflow.
        notional: qty
            .checked_mul(signal.price)
            .unwrap_or(binding.1)
            .normalize(),
        binding_cap: binding.0.to_owned(),
        risk_flags: flags,
    }
}

/// What sizing reads of a request: the account it trades in and the caller's limits. The
/// `risk-exposure-sizing` activity gets this, not the whole request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountLimits {
    /// The exposure ledger's account.
    pub account_id: String,
    pub portfolio: Portfolio,
    pub risk_policy: RiskPolicy,
    pub allow_fractional: bool,
}

impl AccountLimits {
    pub fn of(request: &ValidatedRequest) -> Self {
        Self {
            account_id: request.account_id.clone(),
            portfolio: request.portfolio.clone(),
            risk_policy: request.risk_policy.clone(),
            allow_fractional: request.execution.allow_fractional,
        }
    }
}

/// Maps an account's limits and the analysis onto [`size`]: the one place that decides which
/// request fields are caps, so the live step and historical replays size alike. The price is the
/// quote's last trade; without one, the held position's own mark is used.
pub fn size_for_account(
    account: &AccountLimits,
    analysis: &crate::analysis::Analysis,
    quote: &Quote,
    remaining_budget: Option<Decimal>,
) -> Sized {
    let position = account.portfolio.position.as_ref();
    let price = quote.last_price.or_else(|| {
        position
            .filter(|p| !p.qty.is_zero())
            .and_then(|p| p.market_value.checked_div(p.qty))
            .map(|p| p.abs())
    });
    let signal = SizingSignal {
        direction: if analysis.vetoed {
            Direction::Flat
        } else {
            analysis.direction
        },
        strength: analysis.score.abs(),
        confidence: analysis.confidence,
        realized_vol: quote.realized_vol,
        price: price.unwrap_or_default(),
    };
    let risk = &account.risk_policy;
    let limits = SizingLimits {
        equity: account.portfolio.equity.get(),
        buying_power: account.portfolio.buying_power.get(),
        max_notional_per_trade: risk.max_notional_per_trade.map(|m| m.get()),
        max_position_pct_equity: risk.max_position_pct_equity.map(|f| f.get()),
        position_qty: position.map(|p| p.qty).unwrap_or_default(),
        remaining_budget,
        kill_switch: risk.kill_switch_enabled,
        allow_fractional: account.allow_fractional,
        allow_short: risk.allow_short,
    };
    let mut sized = size(&signal, &limits);
    if quote.last_price.is_none() && price.is_some() {
        sized
            .risk_flags
            .insert(0, "sizing:price_from_position_mark".to_owned());
    }
    sized
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn limits() -> SizingLimits {
        SizingLimits {
            equity: dec!(100000),
            buying_power: dec!(250000),
            max_notional_per_trade: Some(dec!(7000)),
            max_position_pct_equity: Some(dec!(0.08)),
            position_qty: dec!(10),
            remaining_budget: None,
            kill_switch: false,
            allow_fractional: false,
            allow_short: false,
        }
    }

    fn long(price: Decimal) -> SizingSignal {
        SizingSignal {
            direction: Direction::Long,
            strength: dec!(1),
            confidence: dec!(1),
            realized_vol: None,
            price,
        }
    }

    #[test]
    fn per_trade_cap_binds_a_strong_signal() {
        let mut flat_book = limits();
        flat_book.position_qty = Decimal::ZERO; // 8000 of room, more than the 7000 per trade
        let s = size(&long(dec!(168)), &flat_book);
        assert_eq!(s.action, Action::Buy);
        assert_eq!(s.binding_cap, "max_notional_per_trade");
        assert_eq!(s.qty, dec!(41)); // floor(7000 / 168)
    }

    #[test]
    fn the_held_position_counts_against_the_equity_cap() {
        let mut l = limits();
        l.max_notional_per_trade = None;
        l.position_qty = dec!(40); // 40 * 168 = 6720 of an 8000 cap
        let s = size(&long(dec!(168)), &l);
        assert_eq!(s.binding_cap, "max_position_pct_equity");
        assert_eq!(s.qty, dec!(7)); // floor(1280 / 168)
    }

    #[test]
    fn kill_switch_and_flat_hold_with_zero() {
        let mut l = limits();
        l.kill_switch = true;
        assert_eq!(size(&long(dec!(10)), &l).qty, Decimal::ZERO);
        let mut flat = long(dec!(10));
        flat.direction = Direction::Flat;
        assert_eq!(size(&flat, &limits()).action, Action::Hold);
    }

    #[test]
    fn a_sell_never_exceeds_the_held_position_without_shorting() {
        let mut sig = long(dec!(100));
        sig.direction = Direction::Short;
        let s = size(&sig, &limits());
        assert_eq!(s.action, Action::Sell);
        assert_eq!(s.qty, dec!(10));
        let mut flat_book = limits();
        flat_book.position_qty = Decimal::ZERO;
        assert_eq!(size(&sig, &flat_book).binding_cap, "no_position_to_sell");
    }

    #[test]
    fn high_volatility_scales_the_size_down() {
        let mut l = limits();
        l.max_notional_per_trade = None;
        l.position_qty = Decimal::ZERO;
        let calm = size(&long(dec!(10)), &l);
        let mut wild = long(dec!(10));
        wild.realized_vol = Some(dec!(0.8));
        let s = size(&wild, &l);
        assert!(s.qty < calm.qty);
        assert!(s.risk_flags.iter().any(|f| f.contains("volatility")));
    }

    fn money() -> impl Strategy<Value = Decimal> {
        (0i64..1_000_000_000, 0u32..3).prop_map(|(m, s)| Decimal::new(m, s))
    }

    /// Values from the smallest to the largest `Decimal`, of either sign.
    fn extreme() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            Just(Decimal::MAX),
            Just(Decimal::MIN),
            Just(Decimal::from_scientific("-5e27").unwrap_or(Decimal::MIN)),
            Just(Decimal::new(1, 28)),
            (any::<i64>(), 0u32..=28).prop_map(|(m, e)| Decimal::new(m, e)),
            any::<[u32; 3]>().prop_map(|[a, b, c]| Decimal::from_parts(a, b, c, a % 2 == 0, 0)),
        ]
    }

    proptest! {
        #[test]
        fn no_cap_is_ever_exceeded(
            equity in money(), bp in money(), per_trade in proptest::option::of(money()),
            pct in proptest::option::of(0i64..=100), held in -10_000i64..10_000,
            budget in proptest::option::of(money()), price in 1i64..1_000_000,
            strength in 0i64..=100, confidence in 0i64..=100, vol in proptest::option::of(0i64..300),
            short in any::<bool>(), fractional in any::<bool>(), allow_short in any::<bool>(),
        ) {
            let limits = SizingLimits {
                equity, buying_power: bp, max_notional_per_trade: per_trade,
                max_position_pct_equity: pct.map(|p| Decimal::new(p, 2)),
                position_qty: Decimal::from(held), remaining_budget: budget, kill_switch: false,
                allow_fractional: fractional, allow_short,
            };
            let signal = SizingSignal {
                direction: if short { Direction::Short } else { Direction::Long },
                strength: Decimal::new(strength, 2), confidence: Decimal::new(confidence, 2),
                realized_vol: vol.map(|v| Decimal::new(v, 2)), price: Decimal::new(price, 2),
            };
            let s = size(&signal, &limits);
            prop_assert!(s.qty >= Decimal::ZERO);
            prop_assert_eq!(s.notional, (s.qty * signal.price).normalize());
            for (name, cap) in caps(&signal, &limits) {
                prop_assert!(s.notional <= cap, "{} {} > {}", name, s.notional, cap);
            }
            if !fractional { prop_assert_eq!(s.qty, s.qty.trunc()); }
            if s.action == Action::Sell && !allow_short {
                prop_assert!(s.qty <= Decimal::from(held.max(0)));
            }
        }

        /// Magnitudes at the edge of `Decimal` (the adversarial run's `-5e27` shares and
        /// `Decimal::MAX` among them) never panic, and still respect every cap.
        #[test]
        fn extreme_magnitudes_never_panic_and_stay_within_every_cap(
            equity in extreme(), bp in extreme(), held in extreme(), price in extreme(),
            per_trade in proptest::option::of(extreme()), budget in proptest::option::of(extreme()),
            strength in 0i64..=100, confidence in 0i64..=100, short in any::<bool>(),
            fractional in any::<bool>(), allow_short in any::<bool>(),
        ) {
            let limits = SizingLimits {
                equity, buying_power: bp, max_notional_per_trade: per_trade,
                max_position_pct_equity: None, position_qty: held, remaining_budget: budget,
                kill_switch: false, allow_fractional: fractional, allow_short,
            };
            let signal = SizingSignal {
                direction: if short { Direction::Short } else { Direction::Long },
                strength: Decimal::new(strength, 2), confidence: Decimal::new(confidence, 2),
                realized_vol: None, price,
            };
            let s = size(&signal, &limits);
            prop_assert!(s.qty >= Decimal::ZERO);
            for (name, cap) in caps(&signal, &limits) {
                prop_assert!(s.notional <= cap, "{} {} > {}", name, s.notional, cap);
            }
        }
    }
}
