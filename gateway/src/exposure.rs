//! Exposure held right now, for `/metrics`.
//!
//! Only the exposure ledgers know which reservations are active: a reservation lapses at its TTL
//! inside its ledger workflow, where no metric can be recorded, and it may be granted by one
//! worker and released by another. So at scrape time the gateway lists the running ledgers and
//! sums their `snapshot` queries. The answer is cached for [`MAX_AGE`], so several scrapers (or
//! gateways) cost one round of queries, and bounded by [`TIMEOUT`], so a slow Temporal never
//! stalls a scrape: the previous figures stay, and the failure is counted.

use futures::StreamExt;
use rust_decimal::Decimal;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use temporalio_client::{Client, WorkflowListOptions, WorkflowQueryOptions};
use torghut_policy::ledger::LedgerState;
use torghut_workflows::ExposureLedger;
use torghut_workflows::ledger::LEDGER_WORKFLOW_TYPE;

/// How long one sample is served before the ledgers are asked again.
pub const MAX_AGE: Duration = Duration::from_secs(10);
/// The whole sample (list and queries) must finish within this, well inside a scrape's timeout.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Active reservations of all accounts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Held {
    pub reservations: usize,
    pub notional: Decimal,
}

/// The reservations of one ledger still holding exposure at `now_ms`: not released and not
/// expired (a lapsed one may linger in the snapshot until the ledger's next event).
pub fn held(state: &LedgerState, now_ms: i64) -> Held {
    state
        .reservations
        .values()
        .filter(|r| !r.released && r.expires_at_ms > now_ms)
        .fold(Held::default(), |acc, r| Held {
            reservations: acc.reservations + 1,
            notional: acc.notional + r.notional,
        })
}

pub struct ExposureSampler {
    client: Client,
    last: Mutex<Option<(Instant, Held)>>,
}

impl ExposureSampler {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            last: Mutex::new(None),
        }
    }

    /// The held exposure, from the cache while it is fresh; `Err` when asking the ledgers failed
    /// or took too long (the caller keeps its previous figures).
    pub async fn sample(&self) -> Result<Held, String> {
        if let Some((at, held)) = *self.last.lock().unwrap_or_else(|p| p.into_inner())
            && at.elapsed() < MAX_AGE
        {
            return Ok(held);
        }
        let held = tokio::time::timeout(TIMEOUT, self.ask_ledgers())
            .await
            .map_err(|_| format!("the ledgers did not answer within {TIMEOUT:?}"))??;
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), held));
        Ok(held)
    }

    async fn ask_ledgers(&self) -> Result<Held, String> {
        let query =
            format!("WorkflowType = '{LEDGER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'");
        let mut ledgers = self
            .client
            .list_workflows(query, WorkflowListOptions::default());
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut total = Held::default();
        while let Some(execution) = ledgers.next().await {
            let id = execution
                .map_err(|e| format!("listing ledgers: {e}"))?
                .id()
                .to_owned();
            let state = self
                .client
                .get_workflow_handle::<ExposureLedger>(id.clone())
                .query(
                    ExposureLedger::snapshot,
                    (),
                    WorkflowQueryOptions::default(),
                )
                .await;
            match state {
                Ok(state) => {
                    let h = held(&state, now_ms);
                    total.reservations += h.reservations;
                    total.notional += h.notional;
                }
                // Closed between the list and the query (continued as new): it holds nothing
                // under this id any more, and its successor is listed or will be next time.
                Err(e) => tracing::debug!(ledger = %id, error = %e, "ledger snapshot failed"),
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use torghut_policy::ledger::Reservation;

    #[test]
    fn only_unreleased_unexpired_reservations_are_held() {
        let r = |notional, expires_at_ms, released| Reservation {
            notional,
            expires_at_ms,
            released,
        };
        let state = LedgerState {
            account_id: "a".into(),
            reservations: [
                ("live".to_owned(), r(dec!(700), 2_000, false)),
                ("live2".to_owned(), r(dec!(300.5), 5_000, false)),
                ("released".to_owned(), r(dec!(900), 5_000, true)),
                ("lapsed".to_owned(), r(dec!(400), 1_000, false)),
            ]
            .into(),
        };
        assert_eq!(
            held(&state, 1_000),
            Held {
                reservations: 2,
                notional: dec!(1000.5)
            }
        );
        assert_eq!(held(&state, 5_000), Held::default());
    }
}
