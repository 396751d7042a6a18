//! Names and helpers for the skill bundle, shared by the workflow and the activities.
//!
//! On the wire (proto `SkillOutput`, activity names, metric labels) a domain and its status are
//! strings; inside the policy they are [`Domain`] and [`DomainStatus`], parsed once, so a typo is
//! a compile error here and an explicit "unknown" there, never a silent zero weight.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;
use torghut_proto::v1::SkillOutput;

/// A context domain: one skill each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Domain {
    #[serde(rename = "market-context")]
    MarketContext,
    #[serde(rename = "news-sentiment")]
    NewsSentiment,
    #[serde(rename = "fundamentals")]
    Fundamentals,
    #[serde(rename = "technicals-regime")]
    TechnicalsRegime,
}

impl Domain {
    /// In the order their summaries are reported.
    pub const ALL: [Domain; 4] = [
        Domain::MarketContext,
        Domain::NewsSentiment,
        Domain::Fundamentals,
        Domain::TechnicalsRegime,
    ];

    /// The skill's activity name, which is also the domain's name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Domain::MarketContext => "market-context",
            Domain::NewsSentiment => "news-sentiment",
            Domain::Fundamentals => "fundamentals",
            Domain::TechnicalsRegime => "technicals-regime",
        }
    }

    /// `None` for a name that is not a context domain.
    pub fn parse(name: &str) -> Option<Domain> {
        Domain::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// Freshness target of the design: technicals and market context within a minute, news
    /// within five minutes, fundamentals within a day (judged against the filing calendar by the
    /// skill).
    pub const fn freshness_target_seconds(self) -> u64 {
        match self {
            Domain::TechnicalsRegime | Domain::MarketContext => 60,
            Domain::NewsSentiment => 300,
            Domain::Fundamentals => 24 * 3600,
        }
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A domain's status in the skill output contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainStatus {
    Ok,
    Stale,
    Missing,
}

impl DomainStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            DomainStatus::Ok => "ok",
            DomainStatus::Stale => "stale",
            DomainStatus::Missing => "missing",
        }
    }

    /// An unknown status reads as missing: data the policy cannot vouch for is not used.
    pub fn parse(raw: &str) -> DomainStatus {
        match raw {
            "ok" => DomainStatus::Ok,
            "stale" => DomainStatus::Stale,
            _ => DomainStatus::Missing,
        }
    }
}

pub const MARKET_CONTEXT: &str = Domain::MarketContext.as_str();
pub const NEWS_SENTIMENT: &str = Domain::NewsSentiment.as_str();
pub const FUNDAMENTALS: &str = Domain::Fundamentals.as_str();
pub const TECHNICALS_REGIME: &str = Domain::TechnicalsRegime.as_str();
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
pub const TECHNICALS_FRESHNESS_TARGET_SECONDS: u64 =
    Domain::TechnicalsRegime.freshness_target_seconds();
pub const MARKET_CONTEXT_FRESHNESS_TARGET_SECONDS: u64 =
    Domain::MarketContext.freshness_target_seconds();
pub const NEWS_FRESHNESS_TARGET_SECONDS: u64 = Domain::NewsSentiment.freshness_target_seconds();
pub const FUNDAMENTALS_FRESHNESS_TARGET_SECONDS: u64 =
    Domain::Fundamentals.freshness_target_seconds();

/// The freshness target of a context domain, in seconds (0 for an unknown domain).
pub fn freshness_target_seconds(domain: &str) -> u64 {
    Domain::parse(domain).map_or(0, Domain::freshness_target_seconds)
}

/// Version of the skill bundle; recorded in every intent so a replay report can tell them apart.
pub const BUNDLE_VERSION: &str = "skills-2026.11.1";

/// Domain status values of the skill output contract.
pub const STATUS_OK: &str = DomainStatus::Ok.as_str();
pub const STATUS_STALE: &str = DomainStatus::Stale.as_str();
pub const STATUS_MISSING: &str = DomainStatus::Missing.as_str();

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
