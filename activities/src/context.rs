//! The data sources the skills read, built once per worker from its environment.
//!
//! A decision's skill activities and the market-context workflow's `context-domain` activity both
//! go through [`Providers::run_skill`], so the context the API serves is the context a decision
//! would have seen.

use crate::providers::ConfigError;
use crate::providers::alpaca_news::{AlpacaNewsConfig, AlpacaNewsProvider};
use crate::providers::bars::BarProvider;
use crate::providers::clickhouse::{ClickHouseBarProvider, ClickHouseConfig};
use crate::providers::edgar::{EdgarConfig, EdgarProvider};
use crate::providers::files::bars::{FileBarProvider, embedded_dir};
use crate::providers::files::fundamentals::{FileFundamentalsProvider, embedded_fundamentals_dir};
use crate::providers::files::news::{FileNewsProvider, embedded_news_dir};
use crate::providers::fundamentals::FundamentalsProvider;
use crate::providers::news::NewsProvider;
use crate::providers::signals::{MacdCrossScanner, TriggerSource};
use crate::sentiment::SentimentScorer;
use crate::skill::SkillError;
use crate::skills;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use torghut_policy::skills::{FUNDAMENTALS, MARKET_CONTEXT, NEWS_SENTIMENT, TECHNICALS_REGIME};
use torghut_proto::v1::SkillOutput;

/// Why the providers could not be built at start.
#[derive(Debug, thiserror::Error)]
pub enum ProviderSetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    ClickHouse(#[from] crate::providers::clickhouse::ConfigError),
    /// The compiled-in sentiment model does not parse: a build defect, reported at start.
    #[error("embedded news-sentiment model: {0}")]
    SentimentModel(#[from] crate::sentiment::model::ModelFormatError),
}

/// `TORGHUT_NEWS_SCORER`: `model` (default) or `lexicon`.
fn news_scorer_from_env() -> Result<SentimentScorer, ProviderSetupError> {
    match std::env::var("TORGHUT_NEWS_SCORER").ok().as_deref() {
        None | Some("") | Some("model") => Ok(SentimentScorer::embedded()?),
        Some("lexicon") => Ok(SentimentScorer::embedded_lexicon()),
        Some(other) => Err(ConfigError {
            var: "TORGHUT_NEWS_SCORER",
            reason: format!("expected `model` or `lexicon`, got {other:?}"),
        }
        .into()),
    }
}

/// Everything the context skills read from; one per process, shared by every call.
pub struct Providers {
    pub bars: Arc<dyn BarProvider>,
    pub news: Arc<dyn NewsProvider>,
    pub scorer: Arc<SentimentScorer>,
    pub fundamentals: Arc<dyn FundamentalsProvider>,
    /// Signals for the intraday loop, scanned from the same bars the skills read.
    pub triggers: Arc<dyn TriggerSource>,
}

fn dir(var: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or(default)
}

impl Providers {
    /// The embedded dataset only: what tests and the demo read.
    pub fn embedded() -> Result<Self, ProviderSetupError> {
        let bars: Arc<dyn BarProvider> = Arc::new(FileBarProvider::new(embedded_dir()));
        Ok(Self {
            triggers: Arc::new(MacdCrossScanner::new(bars.clone())),
            bars,
            news: Arc::new(FileNewsProvider::new(embedded_news_dir())),
            scorer: Arc::new(SentimentScorer::embedded()?),
            fundamentals: Arc::new(FileFundamentalsProvider::new(embedded_fundamentals_dir())),
        })
    }

    /// File providers by default (directories overridable); a production provider (ClickHouse
    /// bars, Alpaca news, EDGAR facts) replaces a domain's files when its URL variable is set.
    /// See docs/configuration.md.
    pub fn from_env() -> Result<Self, ProviderSetupError> {
        let news: Arc<dyn NewsProvider> = match AlpacaNewsConfig::from_env()? {
            Some(c) => Arc::new(AlpacaNewsProvider::new(c)),
            None => Arc::new(FileNewsProvider::new(dir(
                "TORGHUT_NEWS_DIR",
                embedded_news_dir(),
            ))),
        };
        let fundamentals: Arc<dyn FundamentalsProvider> = match EdgarConfig::from_env()? {
            Some(c) => Arc::new(EdgarProvider::new(c)),
            None => Arc::new(FileFundamentalsProvider::new(dir(
                "TORGHUT_FUNDAMENTALS_DIR",
                embedded_fundamentals_dir(),
            ))),
        };
        let bars: Arc<dyn BarProvider> = match ClickHouseConfig::from_env()? {
            Some(c) => Arc::new(ClickHouseBarProvider::new(c)?),
            None => Arc::new(FileBarProvider::new(dir(
                "TORGHUT_BARS_DIR",
                embedded_dir(),
            ))),
        };
        Ok(Self {
            triggers: Arc::new(MacdCrossScanner::new(bars.clone())),
            bars,
            news,
            scorer: Arc::new(news_scorer_from_env()?),
            fundamentals,
        })
    }

    /// Runs one context skill by its domain name. Blocking: call it off the async workers.
    pub fn run_skill(
        &self,
        domain: &str,
        symbol: &str,
        as_of: DateTime<Utc>,
        features: &BTreeMap<String, Decimal>,
    ) -> Result<SkillOutput, SkillError> {
        match domain {
            MARKET_CONTEXT => skills::market_state::market_context(&*self.bars, symbol, as_of),
            TECHNICALS_REGIME => {
                skills::technicals::technicals_regime(&*self.bars, symbol, as_of, features)
            }
            NEWS_SENTIMENT => {
                skills::news::news_sentiment(&*self.news, &self.scorer, symbol, as_of)
            }
            FUNDAMENTALS => {
                skills::fundamentals::fundamentals(&*self.fundamentals, &*self.bars, symbol, as_of)
            }
            other => Err(SkillError::InvalidInput(format!(
                "unknown context domain {other:?}"
            ))),
        }
    }
}
