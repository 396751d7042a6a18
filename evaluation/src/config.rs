//! The evaluation's configuration file (JSON): what to trade, how to cost it, how to fit.

use crate::EvalError;
use crate::score::CostModel;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use torghut_policy::skills::Domain;
use torghut_proto::v1::DecisionRequest;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    pub strategy_id: String,
    pub watchlist: Vec<String>,
    /// Portfolio, risk policy, execution context of every decision (as the intraday loop's
    /// template); request id, symbol and trigger come from each signal.
    pub template: DecisionRequest,
    #[serde(default = "default_horizons")]
    pub horizons_minutes: Vec<u32>,
    /// The horizon the headline table, the calibration and the fit use; one of the horizons.
    #[serde(default = "default_primary")]
    pub primary_horizon_minutes: u32,
    #[serde(default)]
    pub costs: CostModel,
    /// Thresholds of the evaluated policy; the engine's defaults where absent.
    #[serde(default)]
    pub policy: PolicyThresholds,
    #[serde(default)]
    pub calibration_fit: FitSettings,
    /// Seed of the random baseline and the bootstrap.
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_resamples")]
    pub bootstrap_resamples: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyThresholds {
    pub min_context_quality: Option<Decimal>,
    pub min_abs_score: Option<Decimal>,
    pub critical_domains: Option<Vec<Domain>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitSettings {
    pub buckets: usize,
    pub min_trades: u32,
    pub prior_strength: Decimal,
}

impl Default for FitSettings {
    fn default() -> Self {
        Self {
            buckets: 3,
            min_trades: 30,
            prior_strength: Decimal::new(20, 0),
        }
    }
}

fn default_horizons() -> Vec<u32> {
    vec![5, 15, 30, 60]
}
fn default_primary() -> u32 {
    30
}
fn default_seed() -> u64 {
    20_131_004
}
fn default_resamples() -> usize {
    2000
}

impl EvalConfig {
    pub fn parse(text: &str) -> Result<EvalConfig, EvalError> {
        let cfg: EvalConfig =
            serde_json::from_str(text).map_err(|e| EvalError::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), EvalError> {
        let bad = |m: String| Err(EvalError::Config(m));
        if self.watchlist.is_empty() {
            return bad("watchlist: must name at least one symbol".into());
        }
        if self.horizons_minutes.is_empty()
            || self.horizons_minutes.iter().any(|h| !(1..=390).contains(h))
        {
            return bad(format!(
                "horizons_minutes: expected 1..=390 minutes each, got {:?}",
                self.horizons_minutes
            ));
        }
        if !self
            .horizons_minutes
            .contains(&self.primary_horizon_minutes)
        {
            return bad(format!(
                "primary_horizon_minutes: {} is not one of horizons_minutes {:?}",
                self.primary_horizon_minutes, self.horizons_minutes
            ));
        }
        if self.calibration_fit.buckets == 0 || self.calibration_fit.buckets > 20 {
            return bad("calibration_fit.buckets: expected 1..=20".into());
        }
        if !(1..=100_000).contains(&self.bootstrap_resamples) {
            return bad("bootstrap_resamples: expected 1..=100000".into());
        }
        Ok(())
    }
}

/// An inclusive range of New York session dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<DateRange, EvalError> {
        if from > to {
            return Err(EvalError::Config(format!(
                "date range {from}..{to}: from is after to"
            )));
        }
        Ok(DateRange { from, to })
    }

    /// `FROM..TO` (both `YYYY-MM-DD`).
    pub fn parse(raw: &str) -> Result<DateRange, EvalError> {
        let (a, b) = raw.split_once("..").ok_or_else(|| {
            EvalError::Config(format!(
                "date range {raw:?}: expected FROM..TO (YYYY-MM-DD)"
            ))
        })?;
        DateRange::new(parse_date(a)?, parse_date(b)?)
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        let to = self.to;
        self.from.iter_days().take_while(move |d| *d <= to)
    }

    pub fn overlaps(&self, other: &DateRange) -> bool {
        self.from <= other.to && other.from <= self.to
    }
}

impl std::fmt::Display for DateRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.from, self.to)
    }
}

pub fn parse_date(raw: &str) -> Result<NaiveDate, EvalError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|e| EvalError::Config(format!("date {raw:?}: expected YYYY-MM-DD ({e})")))
}
