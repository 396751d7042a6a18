//! The exposure ledger's state: what a reservation is and the rules that grant and release it.
//!
//! Pure: the `exposure-ledger` entity workflow in `torghut-workflows` holds one [`LedgerState`]
//! per account and applies [`LedgerState::reserve`] and [`LedgerState::release`] to it, one Update
//! at a time; the clock is the workflow's, passed in as `now_ms`.
//!
//! Invariants (see [`LedgerState`]): a grant never takes the account's active reservations above
//! the budget the request brought; a reservation id is granted at most once (retries of the same
//! reservation return the same grant); release is idempotent and leaves a tombstone so a
//! reservation that arrives after its own release (a timed-out step completing late) gets nothing;
//! everything expires after its TTL.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const DEFAULT_TTL_SECONDS: u32 = 900;
pub const MAX_TTL_SECONDS: u32 = 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    pub notional: Decimal,
    pub expires_at_ms: i64,
    /// Released reservations stay as tombstones until they expire.
    pub released: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerState {
    pub account_id: String,
    pub reservations: BTreeMap<String, Reservation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReserveRequest {
    /// The decision's workflow id: one reservation per decision.
    pub reservation_id: String,
    pub requested: Decimal,
    /// The account's budget as the request sees it (its buying power, capped by configuration).
    pub budget: Decimal,
    pub ttl_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReserveResult {
    pub granted: Decimal,
    /// Active reservations of other decisions when this one was granted.
    pub reserved_by_others: Decimal,
    pub already_held: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRequest {
    pub reservation_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseResult {
    pub released: Decimal,
    pub existed: bool,
}

impl LedgerState {
    /// Drops reservations and tombstones past their expiry.
    pub fn prune(&mut self, now_ms: i64) {
        self.reservations.retain(|_, r| r.expires_at_ms > now_ms);
    }

    pub fn active_total(&self, except: Option<&str>) -> Decimal {
        self.reservations
            .iter()
            .filter(|(id, r)| !r.released && Some(id.as_str()) != except)
            .map(|(_, r)| r.notional)
            .sum()
    }

    /// Grants `min(requested, budget - others)`; a repeat of the same id keeps what it holds,
    /// shrinking it if asked for less (so a step can hand back what rounding did not use).
    pub fn reserve(&mut self, req: &ReserveRequest, now_ms: i64) -> ReserveResult {
        self.prune(now_ms);
        let others = self.active_total(Some(&req.reservation_id));
        let requested = req.requested.max(Decimal::ZERO);
        if let Some(existing) = self.reservations.get_mut(&req.reservation_id) {
            if existing.released {
                return ReserveResult {
                    granted: Decimal::ZERO,
                    reserved_by_others: others,
                    already_held: true,
                };
            }
            existing.notional = existing.notional.min(requested);
            return ReserveResult {
                granted: existing.notional,
                reserved_by_others: others,
                already_held: true,
            };
        }
        let room = (req.budget - others).max(Decimal::ZERO);
        let granted = requested.min(room);
        let ttl_ms = i64::from(req.ttl_seconds.clamp(1, MAX_TTL_SECONDS)) * 1000;
        if granted > Decimal::ZERO {
            self.reservations.insert(
                req.reservation_id.clone(),
                Reservation {
                    notional: granted,
                    expires_at_ms: now_ms + ttl_ms,
                    released: false,
                },
            );
        }
        ReserveResult {
            granted,
            reserved_by_others: others,
            already_held: false,
        }
    }

    /// Releases a reservation (idempotent); leaves a tombstone that refuses a late reserve.
    pub fn release(&mut self, req: &ReleaseRequest, now_ms: i64) -> ReleaseResult {
        self.prune(now_ms);
        let tombstone = Reservation {
            notional: Decimal::ZERO,
            expires_at_ms: now_ms + i64::from(MAX_TTL_SECONDS) * 1000,
            released: true,
        };
        match self
            .reservations
            .insert(req.reservation_id.clone(), tombstone)
        {
            Some(r) if !r.released => ReleaseResult {
                released: r.notional,
                existed: true,
            },
            _ => ReleaseResult {
                released: Decimal::ZERO,
                existed: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn req(id: &str, requested: Decimal, budget: Decimal) -> ReserveRequest {
        ReserveRequest {
            reservation_id: id.into(),
            requested,
            budget,
            ttl_seconds: 60,
        }
    }

    #[test]
    fn grants_up_to_the_budget_and_repeats_are_idempotent() {
        let mut l = LedgerState::default();
        assert_eq!(
            l.reserve(&req("a", dec!(600), dec!(1000)), 0).granted,
            dec!(600)
        );
        assert_eq!(
            l.reserve(&req("b", dec!(600), dec!(1000)), 0).granted,
            dec!(400)
        );
        let again = l.reserve(&req("a", dec!(600), dec!(1000)), 1);
        assert_eq!((again.granted, again.already_held), (dec!(600), true));
        assert_eq!(l.active_total(None), dec!(1000));
        // Shrinking hands back what is not needed.
        assert_eq!(
            l.reserve(&req("a", dec!(500), dec!(1000)), 2).granted,
            dec!(500)
        );
        assert_eq!(l.active_total(None), dec!(900));
    }

    #[test]
    fn release_is_idempotent_and_refuses_a_late_reserve() {
        let mut l = LedgerState::default();
        l.reserve(&req("a", dec!(600), dec!(1000)), 0);
        assert_eq!(
            l.release(
                &ReleaseRequest {
                    reservation_id: "a".into()
                },
                1
            )
            .released,
            dec!(600)
        );
        assert!(
            !l.release(
                &ReleaseRequest {
                    reservation_id: "a".into()
                },
                2
            )
            .existed
        );
        assert_eq!(
            l.reserve(&req("a", dec!(600), dec!(1000)), 3).granted,
            Decimal::ZERO
        );
        // Release before the reserve ever arrived (a step that completed after its deadline).
        assert!(
            !l.release(
                &ReleaseRequest {
                    reservation_id: "late".into()
                },
                4
            )
            .existed
        );
        assert_eq!(
            l.reserve(&req("late", dec!(100), dec!(1000)), 5).granted,
            Decimal::ZERO
        );
        assert_eq!(l.active_total(None), Decimal::ZERO);
    }

    #[test]
    fn reservations_expire_after_their_ttl() {
        let mut l = LedgerState::default();
        l.reserve(&req("a", dec!(1000), dec!(1000)), 0);
        assert_eq!(
            l.reserve(&req("b", dec!(1), dec!(1000)), 59_999).granted,
            Decimal::ZERO
        );
        assert_eq!(
            l.reserve(&req("c", dec!(1), dec!(1000)), 60_000).granted,
            dec!(1)
        );
    }

    proptest! {
        #[test]
        fn concurrent_reservations_never_exceed_the_budget(
            ops in proptest::collection::vec((0u8..12, 0i64..5_000, any::<bool>()), 1..80),
            budget in 0i64..10_000,
        ) {
            let budget = Decimal::from(budget);
            let mut l = LedgerState::default();
            for (t, (id, amount, release)) in ops.into_iter().enumerate() {
                let id = format!("r{id}");
                if release {
                    l.release(&ReleaseRequest { reservation_id: id }, t as i64);
                } else {
                    let r = l.reserve(&req(&id, Decimal::from(amount), budget), t as i64);
                    prop_assert!(r.granted <= Decimal::from(amount));
                }
                prop_assert!(l.active_total(None) <= budget, "{} > {}", l.active_total(None), budget);
            }
        }
    }
}
