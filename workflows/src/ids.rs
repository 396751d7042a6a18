//! Every workflow id rule: how a run's id derives from what names it, and back.
//!
//! Ids are how duplicates collide (one decision per `request_id`, one ledger per account, one
//! context run per symbol and instant), so each is derived from its key alone and built only
//! here; the gateway, decisionctl, the activities and the tests call these.

const DECISION_PREFIX: &str = "decision-";

/// The workflow id of a decision request: derived from `request_id` alone (lower-cased: request
/// ids are UUIDs, whose case carries nothing), so duplicates collide.
pub fn decision(request_id: &str) -> String {
    format!("{DECISION_PREFIX}{}", request_id.to_ascii_lowercase())
}

/// A run named either way (its workflow id or its request id), as its workflow id.
pub fn decision_from_either(raw: &str) -> String {
    if raw.starts_with(DECISION_PREFIX) {
        raw.to_ascii_lowercase()
    } else {
        decision(raw)
    }
}

/// The request id a decision's workflow id was derived from (lower-cased, as the id keeps it).
pub fn request_id_of(workflow_id: &str) -> &str {
    workflow_id
        .strip_prefix(DECISION_PREFIX)
        .unwrap_or(workflow_id)
}

/// The exposure ledger of an account: one long-lived workflow per account.
pub fn ledger(account_id: &str) -> String {
    format!("exposure-ledger-{account_id}")
}

/// The market-context run for one symbol at one instant (RFC 3339), shared by concurrent readers.
pub fn market_context(symbol: &str, as_of_utc: &str) -> String {
    format!("market-context-{symbol}-{as_of_utc}")
}

/// The intraday loop of a schedule.
pub fn intraday_loop(schedule_id: &str) -> String {
    format!("intraday-loop-{schedule_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_id_round_trips_and_either_name_finds_the_run() {
        let id = decision("9F0C-AB");
        assert_eq!(id, "decision-9f0c-ab");
        assert_eq!(request_id_of(&id), "9f0c-ab");
        assert_eq!(decision_from_either("9F0C-AB"), id);
        assert_eq!(decision_from_either(&id), id);
    }
}
