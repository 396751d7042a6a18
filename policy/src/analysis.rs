//! Analysis: from the four context domains to direction, score and confidence, the quality
//! gate that turns weak context into a veto, and the edge gate that turns a trade without a
//! positive expectancy into a hold.
//!
//! Pure and deterministic. Each domain skill reports a `signal` in `[-1, 1]` and a quality in
//! `[0, 1]`; the score is the quality-weighted mean of the signals, so a low-quality domain moves
//! the decision little and a missing one (quality 0) not at all.
//!
//! `confidence` is a probability: with a [`Calibration`] in the policy (every run started since
//! calibration shipped), it is the calibrated chance that the proposed trade pays net of costs
//! over the calibration's horizon, and a trade is proposed only when the calibrated expectancy is
//! positive. Runs recorded before that carry no calibration and keep the old reading (overall
//! quality scaled by agreement), so their histories replay unchanged.

use crate::calibration::{Calibration, EdgeEstimate};
use crate::skills::{self, Domain, DomainStatus};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::{Deserialize, Serialize};
use torghut_proto::v1::SkillOutput;

/// Policy knobs; part of the workflow input so a run's history records what it was judged by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyConfig {
    /// Below this overall context quality the decision is a veto (hold, qty 0).
    pub min_context_quality: Decimal,
    /// A missing domain from this list is a veto whatever the overall quality.
    pub critical_domains: Vec<Domain>,
    /// |score| needed before the engine proposes a trade at all.
    pub min_abs_score: Decimal,
    /// The calibration artifact that turns a score into a probability and an expectancy. Absent
    /// only in inputs recorded before it existed (those runs replay with the old confidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

impl Default for PolicyConfig {
    /// The shipped policy: its thresholds and the committed calibration artifact.
    fn default() -> Self {
        Self {
            calibration: Some(Calibration::embedded()),
            ..Self::uncalibrated()
        }
    }
}

impl PolicyConfig {
    /// The policy without a calibration: confidence is the context's quality scaled by agreement
    /// and every directional score above the threshold proposes a trade. What runs recorded
    /// before calibration used, and what `decisionctl evaluate` fits the calibration from.
    pub fn uncalibrated() -> Self {
        Self {
            min_context_quality: Decimal::new(5, 1),
            critical_domains: vec![Domain::TechnicalsRegime],
            min_abs_score: Decimal::new(15, 2),
            calibration: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Long,
    Short,
    Flat,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Long => "long",
            Direction::Short => "short",
            Direction::Flat => "flat",
        }
    }
}

/// Why a decision was vetoed: data, so metrics and reports count kinds without reading prose.
///
/// It reads either form: this one, and the sentence (its `Display`) that analyses recorded
/// before veto reasons were data carried, which runs started then still send to sizing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    try_from = "RecordedVetoReason"
)]
pub enum VetoReason {
    KillSwitch,
    LowContextQuality {
        quality: Decimal,
        threshold: Decimal,
    },
    CriticalDomainMissing {
        domain: Domain,
    },
}

/// The forms a [`VetoReason`] was recorded in.
#[derive(Deserialize)]
#[serde(untagged)]
enum RecordedVetoReason {
    Data(VetoReasonData),
    Sentence(String),
}

/// [`VetoReason`]'s own form, read without the sentence fallback.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum VetoReasonData {
    KillSwitch,
    LowContextQuality {
        quality: Decimal,
        threshold: Decimal,
    },
    CriticalDomainMissing {
        domain: Domain,
    },
}

impl TryFrom<RecordedVetoReason> for VetoReason {
    type Error = String;

    fn try_from(recorded: RecordedVetoReason) -> Result<Self, String> {
        match recorded {
            RecordedVetoReason::Data(VetoReasonData::KillSwitch) => Ok(VetoReason::KillSwitch),
            RecordedVetoReason::Data(VetoReasonData::LowContextQuality { quality, threshold }) => {
                Ok(VetoReason::LowContextQuality { quality, threshold })
            }
            RecordedVetoReason::Data(VetoReasonData::CriticalDomainMissing { domain }) => {
                Ok(VetoReason::CriticalDomainMissing { domain })
            }
            RecordedVetoReason::Sentence(text) => VetoReason::from_sentence(&text)
                .ok_or_else(|| format!("not a veto reason: {text:?}")),
        }
    }
}

/// The closed set of veto kinds, for metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VetoKind {
    KillSwitch,
    LowContextQuality,
    CriticalDomainMissing,
}

impl VetoKind {
    pub const ALL: [VetoKind; 3] = [
        VetoKind::KillSwitch,
        VetoKind::LowContextQuality,
        VetoKind::CriticalDomainMissing,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            VetoKind::KillSwitch => VETO_KILL_SWITCH,
            VetoKind::LowContextQuality => VETO_LOW_CONTEXT_QUALITY,
            VetoKind::CriticalDomainMissing => VETO_CRITICAL_DOMAIN_MISSING,
        }
    }

    /// The kind an intent's `veto_reasons` names; `None` for a word outside the set.
    pub fn parse(raw: &str) -> Option<VetoKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

impl VetoReason {
    /// The reason a sentence of [`Display`](std::fmt::Display) words: the inverse of it.
    pub fn from_sentence(text: &str) -> Option<VetoReason> {
        if text == "kill switch is enabled" {
            return Some(VetoReason::KillSwitch);
        }
        if let Some(rest) = text.strip_prefix("context quality ") {
            let (quality, threshold) = rest.split_once(" is below the threshold ")?;
            return Some(VetoReason::LowContextQuality {
                quality: quality.parse().ok()?,
                threshold: threshold.parse().ok()?,
            });
        }
        let domain = text
            .strip_prefix("critical domain ")?
            .strip_suffix(" is missing")?;
        Domain::parse(domain).map(|domain| VetoReason::CriticalDomainMissing { domain })
    }

    pub fn kind(&self) -> VetoKind {
        match self {
            VetoReason::KillSwitch => VetoKind::KillSwitch,
            VetoReason::LowContextQuality { .. } => VetoKind::LowContextQuality,
            VetoReason::CriticalDomainMissing { .. } => VetoKind::CriticalDomainMissing,
        }
    }
}

/// The wording intents have always carried in their rationale.
impl std::fmt::Display for VetoReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VetoReason::KillSwitch => f.write_str("kill switch is enabled"),
            VetoReason::LowContextQuality { quality, threshold } => write!(
                f,
                "context quality {} is below the threshold {}",
                quality.round_dp(4).normalize(),
                threshold.normalize()
            ),
            VetoReason::CriticalDomainMissing { domain } => {
                write!(f, "critical domain {domain} is missing")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// What the engine proposes: `Flat` when vetoed, when the score is too weak, or when the
    /// calibrated expectancy of the trade is not positive.
    pub direction: Direction,
    /// Quality-weighted signal in `[-1, 1]`.
    pub score: Decimal,
    /// `[0, 1]`. Calibrated: the estimated probability that the trade in the score's direction
    /// pays net of costs over the calibration's horizon (`0` when the score proposes no trade).
    /// Uncalibrated (old runs): the overall quality scaled by agreement.
    pub confidence: Decimal,
    /// Weighted mean of domain qualities, `[0, 1]`.
    pub overall_quality: Decimal,
    pub uncertainty_notes: Vec<String>,
    pub risk_flags: Vec<String>,
    /// Set when a gate forces hold; `veto_reasons` says which.
    pub vetoed: bool,
    pub veto_reasons: Vec<VetoReason>,
    /// The calibration's reading of the candidate trade, when there was one to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeEstimate>,
}

impl Analysis {
    /// The kinds of this analysis' vetoes, each once, in [`VetoKind::ALL`]'s order: what an
    /// intent's `veto_reasons` carries.
    pub fn veto_kinds(&self) -> Vec<VetoKind> {
        VetoKind::ALL
            .into_iter()
            .filter(|k| self.veto_reasons.iter().any(|r| r.kind() == *k))
            .collect()
    }

    /// The veto reasons as the rationale words them.
    pub fn veto_text(&self) -> String {
        self.veto_reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Held for want of a positive expectancy (not a veto: the data was good enough to judge).
    pub fn no_edge(&self) -> bool {
        !self.vetoed
            && self.direction == Direction::Flat
            && self.edge.as_ref().is_some_and(|e| !e.tradeable)
    }
}

/// Relative weight of each domain in the score and the overall quality (they sum to 1).
fn weight(domain: Domain) -> Decimal {
    match domain {
        Domain::TechnicalsRegime => Decimal::new(45, 2),
        Domain::MarketContext => Decimal::new(20, 2),
        Domain::NewsSentiment => Decimal::new(20, 2),
        Domain::Fundamentals => Decimal::new(15, 2),
    }
}

/// Analyses the context. `kill_switch` is the request's `risk_policy.kill_switch_enabled`.
pub fn analyse(outputs: &[SkillOutput], kill_switch: bool, config: &PolicyConfig) -> Analysis {
    let mut weighted_signal = Decimal::ZERO;
    let mut weighted_quality = Decimal::ZERO;
    let mut notes = Vec::new();
    let mut flags = Vec::new();
    let mut veto_reasons = Vec::new();
    let mut signals = Vec::new();

    for out in outputs {
        flags.extend(out.risk_flags.iter().cloned());
        let Some(domain) = Domain::parse(&out.domain) else {
            notes.push(format!("{} is not a context domain: not used", out.domain));
            continue;
        };
        let q = skills::quality(out);
        let w = weight(domain);
        match DomainStatus::parse(&out.status) {
            DomainStatus::Missing => {
                notes.push(format!("{domain} unavailable: not used in the score"));
                if config.critical_domains.contains(&domain) {
                    veto_reasons.push(VetoReason::CriticalDomainMissing { domain });
                }
                continue;
            }
            DomainStatus::Stale => notes.push(format!(
                "{domain} is stale ({} s old): weighted by its reduced quality",
                out.freshness_seconds
            )),
            DomainStatus::Ok => {}
        }
        let Some(signal) = skills::payload_decimal(out, "signal") else {
            notes.push(format!("{domain} reported no signal"));
            continue;
        };
        let signal = signal.clamp(-Decimal::ONE, Decimal::ONE);
        weighted_signal += w * q * signal;
        weighted_quality += w * q;
        signals.push(signal);
    }
    for d in Domain::ALL {
        if !outputs.iter().any(|o| o.domain == d.as_str()) {
            flags.push(format!("{d}:missing:not_run"));
            if config.critical_domains.contains(&d) {
                veto_reasons.push(VetoReason::CriticalDomainMissing { domain: d });
            }
        }
    }

    let score = if weighted_quality > Decimal::ZERO {
        (weighted_signal / weighted_quality).clamp(-Decimal::ONE, Decimal::ONE)
    } else {
        Decimal::ZERO
    };
    let overall_quality = weighted_quality.clamp(Decimal::ZERO, Decimal::ONE);
    let agreeing = signals
        .iter()
        .filter(|s| !s.is_zero() && s.is_sign_negative() == score.is_sign_negative())
        .count();
    let agreement = if signals.is_empty() {
        Decimal::ZERO
    } else {
        Decimal::from_usize(agreeing).unwrap_or_default()
            / Decimal::from_usize(signals.len()).unwrap_or(Decimal::ONE)
    };
    let uncalibrated_confidence = (overall_quality
        * (Decimal::new(5, 1) + Decimal::new(5, 1) * agreement))
        .round_dp(4)
        .clamp(Decimal::ZERO, overall_quality);
    if agreement < Decimal::ONE && !signals.is_empty() {
        notes.push(format!(
            "domains disagree: {agreeing} of {} agree with the score's sign",
            signals.len()
        ));
    }

    if kill_switch {
        veto_reasons.push(VetoReason::KillSwitch);
    }
    if overall_quality < config.min_context_quality {
        veto_reasons.push(VetoReason::LowContextQuality {
            quality: overall_quality,
            threshold: config.min_context_quality,
        });
    }
    let vetoed = !veto_reasons.is_empty();
    let candidate = if vetoed || score.abs() < config.min_abs_score {
        Direction::Flat
    } else if score > Decimal::ZERO {
        Direction::Long
    } else {
        Direction::Short
    };
    let (direction, confidence, edge) = match (&config.calibration, candidate) {
        (None, _) => (candidate, uncalibrated_confidence, None),
        (Some(_), Direction::Flat) => (Direction::Flat, Decimal::ZERO, None),
        (Some(cal), _) => {
            let edge = cal.estimate(score, overall_quality);
            notes.push(edge.note());
            let direction = if edge.tradeable {
                candidate
            } else {
                Direction::Flat
            };
            (direction, edge.p_win, Some(edge))
        }
    };
    flags.sort();
    flags.dedup();

    Analysis {
        direction,
        score: score.round_dp(4),
        confidence: confidence.round_dp(4),
        overall_quality: overall_quality.round_dp(4),
        uncertainty_notes: notes,
        risk_flags: flags,
        vetoed,
        veto_reasons,
        edge,
    }
}

/// Why a decision was vetoed, as a closed set: what metrics count, where the reasons themselves
/// are free text with numbers in them.
pub const VETO_KILL_SWITCH: &str = "kill_switch";
pub const VETO_LOW_CONTEXT_QUALITY: &str = "low_context_quality";
pub const VETO_CRITICAL_DOMAIN_MISSING: &str = "critical_domain_missing";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skills::missing_output;
    use rust_decimal_macros::dec;
    use std::collections::BTreeMap;

    fn out(domain: &str, status: &str, quality: &str, signal: &str) -> SkillOutput {
        SkillOutput {
            domain: domain.into(),
            context_version: "t".into(),
            as_of_utc: "2013-10-08T14:30:00Z".into(),
            symbol: "SPY".into(),
            freshness_seconds: 0,
            source_count: 1,
            quality_score: quality.into(),
            payload: BTreeMap::from([("signal".to_owned(), signal.to_owned())]),
            citations: vec![],
            status: status.into(),
            risk_flags: vec![],
        }
    }

    fn all(signal: &str, quality: &str) -> Vec<SkillOutput> {
        skills::CONTEXT_SKILLS
            .iter()
            .map(|d| out(d, "ok", quality, signal))
            .collect()
    }

    #[test]
    fn table_of_contexts_and_their_verdicts() {
        let cfg = PolicyConfig::uncalibrated();
        // (name, outputs, kill switch, direction, vetoed)
        let mut missing_tech = all("0.8", "0.9");
        missing_tech[3] = missing_output(skills::TECHNICALS_REGIME, "SPY", "t", "provider_down");
        let mut one_missing = all("0.8", "0.9");
        one_missing[1] = missing_output(skills::NEWS_SENTIMENT, "SPY", "t", "provider_down");
        let cases: Vec<(&str, Vec<SkillOutput>, bool, Direction, bool)> = vec![
            (
                "strong agreeing long",
                all("0.8", "0.9"),
                false,
                Direction::Long,
                false,
            ),
            (
                "strong agreeing short",
                all("-0.8", "0.9"),
                false,
                Direction::Short,
                false,
            ),
            (
                "weak signal is flat",
                all("0.05", "0.9"),
                false,
                Direction::Flat,
                false,
            ),
            (
                "low quality vetoes",
                all("0.9", "0.3"),
                false,
                Direction::Flat,
                true,
            ),
            (
                "kill switch vetoes",
                all("0.9", "0.9"),
                true,
                Direction::Flat,
                true,
            ),
            (
                "critical domain missing vetoes",
                missing_tech,
                false,
                Direction::Flat,
                true,
            ),
            (
                "a non-critical missing domain still trades",
                one_missing,
                false,
                Direction::Long,
                false,
            ),
            (
                "nothing at all vetoes",
                vec![],
                false,
                Direction::Flat,
                true,
            ),
        ];
        for (name, outputs, kill, direction, vetoed) in cases {
            let a = analyse(&outputs, kill, &cfg);
            assert_eq!(a.direction, direction, "{name}: {a:?}");
            assert_eq!(a.vetoed, vetoed, "{name}: {a:?}");
            assert!(a.confidence <= a.overall_quality, "{name}");
        }
    }

    #[test]
    fn a_veto_reason_reads_as_data_and_as_the_sentence_older_runs_recorded() {
        let reasons = [
            VetoReason::KillSwitch,
            VetoReason::LowContextQuality {
                quality: Decimal::new(31, 2),
                threshold: Decimal::new(5, 1),
            },
            VetoReason::CriticalDomainMissing {
                domain: Domain::TechnicalsRegime,
            },
        ];
        for reason in reasons {
            let data = serde_json::to_value(&reason).expect("encode");
            assert_eq!(
                serde_json::from_value::<VetoReason>(data).expect("data"),
                reason
            );
            let sentence = serde_json::Value::String(reason.to_string());
            assert_eq!(
                serde_json::from_value::<VetoReason>(sentence).expect("sentence"),
                reason
            );
        }
        assert!(serde_json::from_value::<VetoReason>(serde_json::json!("who knows")).is_err());
    }

    #[test]
    fn veto_kinds_name_every_gate() {
        let cfg = PolicyConfig::uncalibrated();
        // Full quality elsewhere, so the missing domain alone does not sink the overall quality.
        let mut missing_tech = all("0.8", "1");
        missing_tech[3] = missing_output(skills::TECHNICALS_REGIME, "SPY", "t", "provider_down");
        let cases: Vec<(&str, Vec<SkillOutput>, bool, Vec<&str>)> = vec![
            ("no veto", all("0.8", "0.9"), false, vec![]),
            (
                "kill switch",
                all("0.8", "0.9"),
                true,
                vec![VETO_KILL_SWITCH],
            ),
            (
                "low quality",
                all("0.9", "0.3"),
                false,
                vec![VETO_LOW_CONTEXT_QUALITY],
            ),
            (
                "critical domain missing",
                missing_tech,
                false,
                vec![VETO_CRITICAL_DOMAIN_MISSING],
            ),
            (
                "everything at once",
                vec![],
                true,
                vec![
                    VETO_KILL_SWITCH,
                    VETO_LOW_CONTEXT_QUALITY,
                    VETO_CRITICAL_DOMAIN_MISSING,
                ],
            ),
        ];
        for (name, outputs, kill, kinds) in cases {
            let a = analyse(&outputs, kill, &cfg);
            let typed: Vec<&str> = a.veto_kinds().into_iter().map(VetoKind::as_str).collect();
            assert_eq!(typed, kinds, "{name}: {a:?}");
            for kind in a.veto_kinds() {
                assert_eq!(VetoKind::parse(kind.as_str()), Some(kind));
            }
        }
    }

    #[test]
    fn a_missing_domain_is_flagged_and_lowers_quality() {
        let cfg = PolicyConfig::uncalibrated();
        let full = analyse(&all("0.8", "0.9"), false, &cfg);
        let mut partial = all("0.8", "0.9");
        partial[0] = missing_output(skills::MARKET_CONTEXT, "SPY", "t", "timeout");
        let a = analyse(&partial, false, &cfg);
        assert!(a.overall_quality < full.overall_quality);
        assert!(a.confidence < full.confidence);
        assert!(
            a.risk_flags
                .iter()
                .any(|f| f == "market-context:missing:timeout")
        );
    }

    #[test]
    fn disagreement_lowers_confidence() {
        let cfg = PolicyConfig::uncalibrated();
        let agree = analyse(&all("0.6", "0.9"), false, &cfg);
        let mut mixed = all("0.6", "0.9");
        mixed[1] = out(skills::NEWS_SENTIMENT, "ok", "0.9", "-0.6");
        let a = analyse(&mixed, false, &cfg);
        assert!(
            a.confidence < agree.confidence,
            "{} !< {}",
            a.confidence,
            agree.confidence
        );
        assert_eq!(agree.confidence, dec!(0.9));
    }
}
