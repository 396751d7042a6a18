//! What every skill shares: its error type and the builder of the output contract.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use torghut_policy::skills::{BUNDLE_VERSION, STATUS_MISSING, STATUS_OK, STATUS_STALE};
use torghut_proto::v1::{Citation, SkillOutput};

/// Why a skill could not produce an output. `InvalidInput` is not retried (it never gets
/// better); `Unavailable` is, and after the retries the workflow records the domain as missing.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("provider unavailable: {0}")]
    Unavailable(String),
}

/// Builds a [`SkillOutput`] that follows the contract: status from freshness against the
/// domain's target, quality reduced when stale, flags for every gap.
pub struct OutputBuilder {
    out: SkillOutput,
    freshness_target_seconds: u64,
}

impl OutputBuilder {
    pub fn new(
        domain: &str,
        symbol: &str,
        as_of: DateTime<Utc>,
        freshness_target_seconds: u64,
    ) -> Self {
        Self {
            out: SkillOutput {
                domain: domain.to_owned(),
                context_version: BUNDLE_VERSION.to_owned(),
                as_of_utc: as_of.to_rfc3339_opts(SecondsFormat::Secs, true),
                symbol: symbol.to_owned(),
                freshness_seconds: 0,
                source_count: 0,
                quality_score: "0".to_owned(),
                payload: BTreeMap::new(),
                citations: Vec::new(),
                status: STATUS_OK.to_owned(),
                risk_flags: Vec::new(),
            },
            freshness_target_seconds,
        }
    }

    pub fn value(mut self, key: &str, value: Decimal) -> Self {
        self.out
            .payload
            .insert(key.to_owned(), value.round_dp(6).normalize().to_string());
        self
    }

    pub fn label(mut self, key: &str, value: impl Into<String>) -> Self {
        self.out.payload.insert(key.to_owned(), value.into());
        self
    }

    pub fn flag(mut self, flag: impl Into<String>) -> Self {
        let flag = format!("{}:{}", self.out.domain, flag.into());
        if !self.out.risk_flags.contains(&flag) {
            self.out.risk_flags.push(flag);
        }
        self
    }

    pub fn citation(
        mut self,
        url: impl Into<String>,
        published_at: Option<String>,
        source: impl Into<String>,
    ) -> Self {
        self.out.citations.push(Citation {
            url: url.into(),
            published_at,
            source: source.into(),
        });
        self
    }

    pub fn sources(mut self, count: u32) -> Self {
        self.out.source_count = count;
        self
    }

    /// Finishes with the data's age and the skill's own quality estimate in `[0, 1]`.
    /// A stale domain keeps its data but is flagged and its quality halved.
    pub fn finish(mut self, freshness_seconds: u64, quality: Decimal) -> SkillOutput {
        let mut quality = quality.clamp(Decimal::ZERO, Decimal::ONE);
        self.out.freshness_seconds = freshness_seconds;
        if freshness_seconds > self.freshness_target_seconds {
            self.out.status = STATUS_STALE.to_owned();
            quality /= Decimal::TWO;
            let flag = format!(
                "{}:stale:{}s_over_{}s_target",
                self.out.domain, freshness_seconds, self.freshness_target_seconds
            );
            self.out.risk_flags.push(flag);
        }
        self.out.quality_score = quality.round_dp(4).normalize().to_string();
        self.out
    }

    /// Finishes as an explicit `missing` domain with the reason as a flag.
    pub fn missing(mut self, reason: &str) -> SkillOutput {
        self.out.status = STATUS_MISSING.to_owned();
        self.out.quality_score = "0".to_owned();
        self.out.payload.clear();
        let flag = format!("{}:missing:{reason}", self.out.domain);
        self.out.risk_flags.push(flag);
        self.out
    }
}
