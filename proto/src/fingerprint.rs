//! The request fingerprint: what makes a second request under the same `request_id` "the same".
//!
//! Torghut retries with the same `request_id` and a fresh `trigger.event_ts`; such a retry must
//! join the existing run. Any other difference (symbol, sizes, limits, features, messages) is a
//! genuinely different request and is refused with 409. So the fingerprint is a SHA-256 over the
//! canonical JSON of the wire request with `trigger.event_ts` blanked. Canonical because the wire
//! types use ordered maps and a fixed field order, and lenient numbers were already turned into
//! their exact text at parse time.

use crate::v1::DecisionRequest;
use sha2::{Digest, Sha256};

/// Fields left out of the fingerprint, for the docs and the error message of a 409.
pub const IGNORED_FIELDS: &[&str] = &["trigger.event_ts"];

pub fn fingerprint(request: &DecisionRequest) -> String {
    let mut canonical = request.clone();
    if let Some(trigger) = canonical.trigger.as_mut() {
        trigger.event_ts.clear();
    }
    // Serialising plain data with string keys cannot fail; fall back to Debug to stay total.
    let bytes =
        serde_json::to_vec(&canonical).unwrap_or_else(|_| format!("{canonical:?}").into_bytes());
    hex::encode(Sha256::digest(bytes))
}
