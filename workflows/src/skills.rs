//! Names and helpers for the skill bundle, shared by the workflow and the activities.

use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;
use torghut_proto::v1::SkillOutput;

pub const MARKET_CONTEXT: &str = "market-context";
pub const NEWS_SENTIMENT: &str = "news-sentiment";
pub const FUNDAMENTALS: &str = "fundamentals";
pub const TECHNICALS_REGIME: &str = "technicals-regime";
pub const RISK_EXPOSURE_SIZING: &str = "risk-exposure-sizing";
pub const EXECUTION_ROUTING: &str = "execution-routing";
pub const RELEASE_EXPOSURE: &str = "release-exposure";

/// The context skills, in the order their summaries are reported.
pub const CONTEXT_SKILLS: [&str; 4] = [
    MARKET_CONTEXT,
    NEWS_SENTIMENT,
    FUNDAMENTALS,
    TECHNICALS_REGIME,
];

/// Every activity a decision that ends with an intent runs, once each: the context skills,
/// then sizing and routing.
pub const DECISION_SKILLS: [&str; 6] = [
    MARKET_CONTEXT,
    NEWS_SENTIMENT,
    FUNDAMENTALS,
    TECHNICALS_REGIME,
    RISK_EXPOSURE_SIZING,
    EXECUTION_ROUTING,
];

/// Freshness targets of the design: technicals and market context within a minute, news within
/// five minutes, fundamentals within a day (judged against the filing calendar by the skill).
pub const TECHNICALS_FRESHNESS_TARGET_SECONDS: u64 = 60;
pub const MARKET_CONTEXT_FRESHNESS_TARGET_SECONDS: u64 = 60;
pub const NEWS_FRESHNESS_TARGET_SECONDS: u64 = 300;
pub const FUNDAMENTALS_FRESHNESS_TARGET_SECONDS: u64 = 24 * 3600;

/// The freshness target of a context domain, in seconds (0 for an unknown domain).
pub fn freshness_target_seconds(domain: &str) -> u64 {
    match domain {
        TECHNICALS_REGIME => TECHNICALS_FRESHNESS_TARGET_SECONDS,
        MARKET_CONTEXT => MARKET_CONTEXT_FRESHNESS_TARGET_SECONDS,
        NEWS_SENTIMENT => NEWS_FRESHNESS_TARGET_SECONDS,
        FUNDAMENTALS => FUNDAMENTALS_FRESHNESS_TARGET_SECONDS,
        _ => 0,
    }
}

/// Version of the skill bundle; recorded in every intent so a replay report can tell them apart.
pub const BUNDLE_VERSION: &str = "skills-2026.11.1";

/// Domain status values of the skill output contract.
pub const STATUS_OK: &str = "ok";
pub const STATUS_STALE: &str = "stale";
pub const STATUS_MISSING: &str = "missing";

/// The output recorded for a domain whose skill failed after its retries: explicit, flagged,
/// zero quality, so the policy can never mistake it for a neutral reading.
pub fn missing_output(domain: &str, symbol: &str, as_of_utc: &str, reason: &str) -> SkillOutput {
    SkillOutput {
        domain: domain.to_owned(),
        context_version: BUNDLE_VERSION.to_owned(),
        as_of_utc: as_of_utc.to_owned(),
        symbol: symbol.to_owned(),
        freshness_seconds: 0,
        source_count: 0,
        quality_score: "0".to_owned(),
        payload: BTreeMap::new(),
        citations: Vec::new(),
        status: STATUS_MISSING.to_owned(),
        risk_flags: vec![format!("{domain}:missing:{reason}")],
    }
}

/// A decimal from a skill payload key, if present and well-formed.
pub fn payload_decimal(output: &SkillOutput, key: &str) -> Option<Decimal> {
    output
        .payload
        .get(key)
        .and_then(|raw| Decimal::from_str(raw).ok())
}

/// The skill's quality score; malformed or out-of-range counts as zero quality.
pub fn quality(output: &SkillOutput) -> Decimal {
    Decimal::from_str(&output.quality_score)
        .ok()
        .filter(|q| *q >= Decimal::ZERO && *q <= Decimal::ONE)
        .unwrap_or(Decimal::ZERO)
}
