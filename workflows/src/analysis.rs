//! Analysis: from the four context domains to direction, score and confidence, and the quality
//! gate that turns weak context into a veto.
//!
//! Pure and deterministic. Each domain skill reports a `signal` in `[-1, 1]` and a quality in
//! `[0, 1]`; the score is the quality-weighted mean of the signals, so a low-quality domain moves
//! the decision little and a missing one (quality 0) not at all. Confidence can only fall with
//! worse data: it is the overall quality scaled by how much the domains agree.

use crate::skills::{self, STATUS_MISSING, STATUS_STALE};
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
    pub critical_domains: Vec<String>,
    /// |score| needed before the engine proposes a trade at all.
    pub min_abs_score: Decimal,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            min_context_quality: Decimal::new(5, 1),
            critical_domains: vec![skills::TECHNICALS_REGIME.to_owned()],
            min_abs_score: Decimal::new(15, 2),
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub direction: Direction,
    /// Quality-weighted signal in `[-1, 1]`.
    pub score: Decimal,
    /// `[0, 1]`; never above the overall quality.
    pub confidence: Decimal,
    /// Weighted mean of domain qualities, `[0, 1]`.
    pub overall_quality: Decimal,
    pub uncertainty_notes: Vec<String>,
    pub risk_flags: Vec<String>,
    /// Set when a gate forces hold; `veto_reasons` says which.
    pub vetoed: bool,
    pub veto_reasons: Vec<String>,
}

/// Relative weight of each domain in the score and the overall quality (they sum to 1).
fn weight(domain: &str) -> Decimal {
    match domain {
        skills::TECHNICALS_REGIME => Decimal::new(45, 2),
        skills::MARKET_CONTEXT => Decimal::new(20, 2),
        skills::NEWS_SENTIMENT => Decimal::new(20, 2),
        skills::FUNDAMENTALS => Decimal::new(15, 2),
        _ => Decimal::ZERO,
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
        let q = skills::quality(out);
        let w = weight(&out.domain);
        match out.status.as_str() {
            STATUS_MISSING => {
                notes.push(format!("{} unavailable: not used in the score", out.domain));
                if config.critical_domains.iter().any(|d| d == &out.domain) {
                    veto_reasons.push(format!("critical domain {} is missing", out.domain));
                }
                continue;
            }
            STATUS_STALE => notes.push(format!(
                "{} is stale ({} s old): weighted by its reduced quality",
                out.domain, out.freshness_seconds
            )),
            _ => {}
        }
        let Some(signal) = skills::payload_decimal(out, "signal") else {
            notes.push(format!("{} reported no signal", out.domain));
            continue;
        };
        let signal = signal.clamp(-Decimal::ONE, Decimal::ONE);
        weighted_signal += w * q * signal;
        weighted_quality += w * q;
        signals.push(signal);
    }
    for d in skills::CONTEXT_SKILLS {
        if !outputs.iter().any(|o| o.domain == d) {
            flags.push(format!("{d}:missing:not_run"));
            if config.critical_domains.iter().any(|c| c == d) {
                veto_reasons.push(format!("critical domain {d} is missing"));
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
    let confidence = (overall_quality * (Decimal::new(5, 1) + Decimal::new(5, 1) * agreement))
        .round_dp(4)
        .clamp(Decimal::ZERO, overall_quality);
    if agreement < Decimal::ONE && !signals.is_empty() {
        notes.push(format!(
            "domains disagree: {agreeing} of {} agree with the score's sign",
            signals.len()
        ));
    }

    if kill_switch {
        veto_reasons.push("kill switch is enabled".to_owned());
    }
    if overall_quality < config.min_context_quality {
        veto_reasons.push(format!(
            "context quality {} is below the threshold {}",
            overall_quality.round_dp(4).normalize(),
            config.min_context_quality.normalize()
        ));
    }
    let vetoed = !veto_reasons.is_empty();
    let direction = if vetoed || score.abs() < config.min_abs_score {
        Direction::Flat
    } else if score > Decimal::ZERO {
        Direction::Long
    } else {
        Direction::Short
    };
    flags.sort();
    flags.dedup();

    Analysis {
        direction,
        score: score.round_dp(4),
        confidence,
        overall_quality: overall_quality.round_dp(4),
        uncertainty_notes: notes,
        risk_flags: flags,
        vetoed,
        veto_reasons,
    }
}

/// Why a decision was vetoed, as a closed set: what metrics count, where the reasons themselves
/// are free text with numbers in them.
pub const VETO_KILL_SWITCH: &str = "kill_switch";
pub const VETO_LOW_CONTEXT_QUALITY: &str = "low_context_quality";
pub const VETO_CRITICAL_DOMAIN_MISSING: &str = "critical_domain_missing";

/// The kinds of veto that `text` (veto reasons as [`analyse`] words them, or an intent's rationale,
/// which quotes them) names, each once, in a fixed order. Kept next to the wording it reads;
/// `veto_kinds_name_every_gate` pins the two together.
pub fn veto_kinds(text: &str) -> Vec<&'static str> {
    [
        (VETO_KILL_SWITCH, "kill switch is enabled"),
        (VETO_LOW_CONTEXT_QUALITY, "is below the threshold"),
        (VETO_CRITICAL_DOMAIN_MISSING, "critical domain "),
    ]
    .into_iter()
    .filter(|(_, phrase)| text.contains(phrase))
    .map(|(kind, _)| kind)
    .collect()
}

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
        let cfg = PolicyConfig::default();
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
    fn veto_kinds_name_every_gate() {
        let cfg = PolicyConfig::default();
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
            assert_eq!(
                veto_kinds(&a.veto_reasons.join("; ")),
                kinds,
                "{name}: {a:?}"
            );
        }
    }

    #[test]
    fn a_missing_domain_is_flagged_and_lowers_quality() {
        let cfg = PolicyConfig::default();
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
        let cfg = PolicyConfig::default();
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
