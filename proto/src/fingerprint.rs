//! The request fingerprint: what makes a second request under the same `request_id` "the same".
//!
//! Torghut retries with the same `request_id` and a fresh `trigger.event_ts`; such a retry must
//! join the existing run. Any other difference (symbol, sizes, limits, features, messages) is a
//! genuinely different request and is refused with 409. So the fingerprint is a SHA-256 over the
//! canonical JSON of the wire request with `trigger.event_ts` blanked.
//!
//! Canonical means *normalised the way validation reads it*: two bodies that validation turns
//! into the same request have the same fingerprint. So the request id is lower-cased, labels are
//! trimmed, an omitted `deadline_seconds`, `account_id`, risk policy or execution context is the
//! default it stands for, and each decimal is its value (`"10"`, `10`, `"10.0"` and `"1e1"` are
//! one quantity). The wire types use ordered maps and a fixed field order, so the JSON is stable.

use crate::model::{DEFAULT_DEADLINE_SECONDS, canonical_decimal};
use crate::v1::{DecisionRequest, ExecutionContext, RiskPolicy};
use sha2::{Digest, Sha256};

/// Fields left out of the fingerprint, for the docs and the error message of a 409.
pub const IGNORED_FIELDS: &[&str] = &["trigger.event_ts"];

/// The request as validation reads it, for comparing: see the module doc.
pub fn normalised(request: &DecisionRequest) -> DecisionRequest {
    let mut c = request.clone();
    let text = |s: &mut String| *s = s.trim().to_owned();
    let dec = |s: &mut String| *s = canonical_decimal(s);
    c.request_id = c.request_id.to_ascii_lowercase();
    text(&mut c.strategy_id);
    c.account_id = Some(
        c.account_id
            .as_deref()
            .map_or("default", str::trim)
            .to_owned(),
    );
    c.deadline_seconds = Some(c.deadline_seconds.unwrap_or(DEFAULT_DEADLINE_SECONDS));
    if let Some(t) = c.trigger.as_mut() {
        t.event_ts.clear();
        text(&mut t.r#type);
        text(&mut t.source);
        t.features.values_mut().for_each(dec);
    }
    if let Some(p) = c.portfolio.as_mut() {
        dec(&mut p.equity);
        dec(&mut p.buying_power);
        dec(&mut p.current_exposure);
        if let Some(pos) = p.position.as_mut() {
            dec(&mut pos.qty);
            dec(&mut pos.market_value);
        }
    }
    let mut r = c.risk_policy.take().unwrap_or_default();
    r.max_notional_per_trade.as_mut().map(dec);
    r.max_position_pct_equity.as_mut().map(dec);
    c.risk_policy = Some(RiskPolicy {
        kill_switch_enabled: Some(r.kill_switch_enabled.unwrap_or(false)),
        allow_short: Some(r.allow_short.unwrap_or(false)),
        ..r
    });
    let mut e = c
        .execution_context
        .take()
        .unwrap_or_else(|| ExecutionContext {
            mode: "paper".into(),
            ..Default::default()
        });
    if e.primary_adapter.is_empty() {
        e.primary_adapter = "alpaca".into();
    }
    e.allow_fractional = Some(e.allow_fractional.unwrap_or(false));
    c.execution_context = Some(e);
    if let Some(l) = c.llm_review.as_mut() {
        text(&mut l.model);
        l.temperature.as_mut().map(dec);
    }
    c
}

pub fn fingerprint(request: &DecisionRequest) -> String {
    let canonical = normalised(request);
    // Serialising plain data with string keys cannot fail; fall back to Debug to stay total.
    let bytes =
        serde_json::to_vec(&canonical).unwrap_or_else(|_| format!("{canonical:?}").into_bytes());
    hex::encode(Sha256::digest(bytes))
}
