//! Fault injection for chaos and recovery tests, off unless `TORGHUT_FAULTS` is set.
//!
//! Recovery paths (retries, missing domains, a worker killed mid-step, a missed deadline) are
//! only trustworthy if tests drive them through the real worker on a real Temporal server; this
//! is how a test asks the worker to misbehave. A plan is `;`-separated rules
//! `activity[@SYMBOL]=kind`, where kind is:
//! - `fail:N`: the first N attempts fail (retryably) before doing any work;
//! - `fail:always`: every attempt fails;
//! - `hang:S:N`: the first N attempts do their work, then sleep S seconds before answering
//!   (`hang:S:always` for every attempt) — the window in which a test kills the worker.

use crate::skill::SkillError;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Fail { attempts: Option<u32> },
    Hang { seconds: u64, attempts: Option<u32> },
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    activity: String,
    symbol: Option<String>,
    kind: Kind,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    rules: Vec<Rule>,
}

fn attempts(raw: &str) -> Result<Option<u32>, String> {
    if raw == "always" {
        Ok(None)
    } else {
        raw.parse()
            .map(Some)
            .map_err(|_| format!("expected a count or `always`, got {raw:?}"))
    }
}

impl FaultPlan {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (target, kind) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected activity=kind"))?;
            let (activity, symbol) = match target.split_once('@') {
                Some((a, s)) => (a.to_owned(), Some(s.to_owned())),
                None => (target.to_owned(), None),
            };
            let fields: Vec<&str> = kind.split(':').collect();
            let kind = match fields.as_slice() {
                ["fail", n] => Kind::Fail {
                    attempts: attempts(n)?,
                },
                ["hang", s, n] => Kind::Hang {
                    seconds: s
                        .parse()
                        .map_err(|_| format!("{part:?}: hang seconds {s:?}"))?,
                    attempts: attempts(n)?,
                },
                _ => {
                    return Err(format!(
                        "{part:?}: kind must be fail:N, fail:always or hang:S:N"
                    ));
                }
            };
            rules.push(Rule {
                activity,
                symbol,
                kind,
            });
        }
        Ok(Self { rules })
    }

    fn matching<'a>(
        &'a self,
        activity: &'a str,
        symbol: &'a str,
    ) -> impl Iterator<Item = &'a Kind> + 'a {
        self.rules
            .iter()
            .filter(move |r| {
                r.activity == activity && r.symbol.as_deref().is_none_or(|s| s == symbol)
            })
            .map(|r| &r.kind)
    }

    /// Fails this attempt if a `fail` rule covers it.
    pub async fn before(
        &self,
        activity: &str,
        symbol: &str,
        attempt: u32,
    ) -> Result<(), SkillError> {
        for kind in self.matching(activity, symbol) {
            if let Kind::Fail { attempts } = kind
                && attempts.is_none_or(|n| attempt <= n)
            {
                return Err(SkillError::Unavailable(format!(
                    "injected fault: {activity} attempt {attempt} fails"
                )));
            }
        }
        Ok(())
    }

    /// Sleeps after the work if a `hang` rule covers this attempt.
    pub async fn after(&self, activity: &str, symbol: &str, attempt: u32) {
        for kind in self.matching(activity, symbol) {
            if let Kind::Hang { seconds, attempts } = kind
                && attempts.is_none_or(|n| attempt <= n)
            {
                tracing::warn!(activity, attempt, seconds, "injected fault: hanging");
                tokio::time::sleep(Duration::from_secs(*seconds)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rules_match_by_activity_symbol_and_attempt() {
        let plan = FaultPlan::parse("technicals-regime@AIG=fail:2; fundamentals=fail:always")
            .expect("valid");
        assert!(plan.before("technicals-regime", "AIG", 2).await.is_err());
        assert!(plan.before("technicals-regime", "AIG", 3).await.is_ok());
        assert!(plan.before("technicals-regime", "IBM", 1).await.is_ok());
        assert!(plan.before("fundamentals", "IBM", 99).await.is_err());
        assert!(FaultPlan::parse("x=explode").is_err());
        assert_eq!(FaultPlan::parse("").expect("empty"), FaultPlan::default());
    }
}
