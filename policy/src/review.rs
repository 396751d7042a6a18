//! Historical-decision replay: re-run recorded decisions through the current policy and report
//! what would change, before a policy change ships.
//!
//! A record holds the request, the skill outputs the decision saw and the intent it produced.
//! Re-running is the pure part of the workflow (analysis, then sizing) over the recorded outputs,
//! so the comparison isolates the policy: data and providers are held fixed. The exposure ledger
//! is not replayed (its state depended on other decisions at the time): sizing runs without a
//! remaining-budget cap, and the report says so.

use crate::analysis::{self, PolicyConfig};
use crate::quote::Quote;
use crate::sizing;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;
use torghut_proto::FieldError;
use torghut_proto::model::validate;
use torghut_proto::v1::{DecisionRequest, SkillOutput};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedIntent {
    pub action: String,
    pub qty: String,
    pub confidence: String,
    pub vetoed: bool,
    pub risk_flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedDecision {
    pub request: DecisionRequest,
    pub skill_outputs: Vec<SkillOutput>,
    pub intent: RecordedIntent,
}

/// The current policy's answer for a recorded decision.
pub fn rerun(
    record: &RecordedDecision,
    policy: &PolicyConfig,
) -> Result<RecordedIntent, FieldError> {
    let req = validate(&record.request)?;
    let analysis = analysis::analyse(
        &record.skill_outputs,
        req.risk_policy.kill_switch_enabled,
        policy,
    );
    let sized = sizing::size_for_account(
        &sizing::AccountLimits::of(&req),
        &analysis,
        &Quote::of_outputs(&record.skill_outputs),
        None,
    );
    let mut flags = analysis.risk_flags.clone();
    flags.extend(sized.risk_flags);
    flags.sort();
    flags.dedup();
    Ok(RecordedIntent {
        action: sized.action.as_str().to_owned(),
        qty: sized.qty.normalize().to_string(),
        confidence: analysis.confidence.normalize().to_string(),
        vetoed: analysis.vetoed,
        risk_flags: flags,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub request_id: String,
    pub symbol: String,
    pub before: RecordedIntent,
    pub after: RecordedIntent,
    /// Ordering key: an action change outranks any size change, which outranks confidence.
    pub magnitude: Decimal,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub total: usize,
    pub unchanged: usize,
    pub invalid: Vec<String>,
    pub action_changes: BTreeMap<String, usize>,
    pub qty_changes: usize,
    pub confidence_changes: usize,
    pub flag_changes: usize,
    pub changes: Vec<Change>,
}

fn dec(raw: &str) -> Decimal {
    Decimal::from_str(raw).unwrap_or_default()
}

pub fn compare(records: &[RecordedDecision], policy: &PolicyConfig) -> Report {
    let mut report = Report {
        total: records.len(),
        ..Report::default()
    };
    for rec in records {
        let after = match rerun(rec, policy) {
            Ok(a) => a,
            Err(e) => {
                report
                    .invalid
                    .push(format!("{}: {e}", rec.request.request_id));
                continue;
            }
        };
        let before = &rec.intent;
        if &after == before {
            report.unchanged += 1;
            continue;
        }
        let action_changed = after.action != before.action;
        if action_changed {
            *report
                .action_changes
                .entry(format!("{} -> {}", before.action, after.action))
                .or_default() += 1;
        }
        let dqty = (dec(&after.qty) - dec(&before.qty)).abs();
        let dconf = (dec(&after.confidence) - dec(&before.confidence)).abs();
        report.qty_changes += usize::from(!dqty.is_zero());
        report.confidence_changes += usize::from(!dconf.is_zero());
        report.flag_changes += usize::from(after.risk_flags != before.risk_flags);
        let magnitude = if action_changed {
            Decimal::new(1_000_000, 0)
        } else {
            Decimal::ZERO
        } + dqty * Decimal::new(100, 0)
            + dconf;
        report.changes.push(Change {
            request_id: rec.request.request_id.clone(),
            symbol: rec.request.symbol.clone(),
            before: before.clone(),
            after,
            magnitude,
        });
    }
    report.changes.sort_by(|a, b| {
        b.magnitude
            .cmp(&a.magnitude)
            .then_with(|| a.request_id.cmp(&b.request_id))
    });
    report
}

impl Report {
    pub fn to_markdown(&self, policy: &PolicyConfig) -> String {
        let mut out = String::new();
        out.push_str("# Historical-decision replay\n\n");
        out.push_str(&format!(
            "Policy: min_context_quality {}, critical domains {:?}, min |score| {}, calibration {}. Skill \
             outputs are the recorded ones; the exposure ledger is not replayed (no remaining-budget cap).\n\n",
            policy.min_context_quality.normalize(),
            policy
                .critical_domains
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>(),
            policy.min_abs_score.normalize(),
            policy
                .calibration
                .as_ref()
                .map_or("none (uncalibrated)", |c| c.version.as_str())
        ));
        out.push_str(&format!(
            "| decisions | unchanged | changed | action changes | qty changes | confidence changes | flag changes | invalid |\n\
             |---|---|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} | {} | {} |\n\n",
            self.total,
            self.unchanged,
            self.changes.len(),
            self.action_changes.values().sum::<usize>(),
            self.qty_changes,
            self.confidence_changes,
            self.flag_changes,
            self.invalid.len()
        ));
        if !self.action_changes.is_empty() {
            out.push_str("Action changes:\n\n");
            for (k, v) in &self.action_changes {
                out.push_str(&format!("- {k}: {v}\n"));
            }
            out.push('\n');
        }
        if !self.changes.is_empty() {
            out.push_str("Largest changes first:\n\n| request | symbol | action | qty | confidence | vetoed | flags added | flags removed |\n|---|---|---|---|---|---|---|---|\n");
            for c in &self.changes {
                let added: Vec<&String> = c
                    .after
                    .risk_flags
                    .iter()
                    .filter(|f| !c.before.risk_flags.contains(f))
                    .collect();
                let removed: Vec<&String> = c
                    .before
                    .risk_flags
                    .iter()
                    .filter(|f| !c.after.risk_flags.contains(f))
                    .collect();
                out.push_str(&format!(
                    "| {} | {} | {} → {} | {} → {} | {} → {} | {} → {} | {:?} | {:?} |\n",
                    c.request_id,
                    c.symbol,
                    c.before.action,
                    c.after.action,
                    c.before.qty,
                    c.after.qty,
                    c.before.confidence,
                    c.after.confidence,
                    c.before.vetoed,
                    c.after.vetoed,
                    added,
                    removed
                ));
            }
        }
        for i in &self.invalid {
            out.push_str(&format!("\ninvalid record: {i}\n"));
        }
        out
    }
}
