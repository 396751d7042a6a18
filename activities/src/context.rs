//! The data sources the skills read, built once per worker from its environment.
//!
//! A decision's skill activities and the market-context workflow's `context-domain` activity both
//! go through [`Providers::run_skill`], so the context the API serves is the context a decision
//! would have seen.

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
use torghut_config::keys::{self, Key};
use torghut_config::{SettingError, Settings};
use torghut_policy::skills::{FUNDAMENTALS, MARKET_CONTEXT, NEWS_SENTIMENT, TECHNICALS_REGIME};
use torghut_proto::v1::SkillOutput;

/// Why the providers could not be built at start.
#[derive(Debug, thiserror::Error)]
pub enum ProviderSetupError {
    #[error(transparent)]
    Config(#[from] SettingError),
    #[error(transparent)]
    ClickHouse(#[from] crate::providers::clickhouse::ConfigError),
    /// The compiled-in sentiment model does not parse: a build defect, reported at start.
    #[error("embedded news-sentiment model: {0}")]
    SentimentModel(#[from] crate::sentiment::model::ModelFormatError),
}

/// `TORGHUT_NEWS_SCORER`: `model` (the table's default) or `lexicon`.
fn news_scorer(settings: &Settings) -> Result<SentimentScorer, ProviderSetupError> {
    let lexicon_only = settings.get(&keys::TORGHUT_NEWS_SCORER, |v| match v {
        "model" => Ok(false),
        "lexicon" => Ok(true),
        other => Err(format!("expected `model` or `lexicon`, got {other:?}")),
    })?;
    Ok(if lexicon_only {
        SentimentScorer::embedded_lexicon()
    } else {
        SentimentScorer::embedded()?
    })
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

/// A data directory: the one set, else the embedded data (the table's `BuiltIn` default).
fn dir(settings: &Settings, key: &'static Key, embedded: fn() -> PathBuf) -> PathBuf {
    settings.value(key).map_or_else(embedded, PathBuf::from)
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
        Self::from_settings(&Settings::from_env())
    }

    /// [`Self::from_env`] over any source of settings (a lookup closure in tests).
    pub fn from_settings(settings: &Settings) -> Result<Self, ProviderSetupError> {
        let news: Arc<dyn NewsProvider> = match AlpacaNewsConfig::from_settings(settings)? {
            Some(c) => Arc::new(AlpacaNewsProvider::new(c)),
            None => Arc::new(FileNewsProvider::new(dir(
                settings,
                &keys::TORGHUT_NEWS_DIR,
                embedded_news_dir,
            ))),
        };
        let fundamentals: Arc<dyn FundamentalsProvider> =
            match EdgarConfig::from_settings(settings)? {
                Some(c) => Arc::new(EdgarProvider::new(c)),
                None => Arc::new(FileFundamentalsProvider::new(dir(
                    settings,
                    &keys::TORGHUT_FUNDAMENTALS_DIR,
                    embedded_fundamentals_dir,
                ))),
            };
        let bars: Arc<dyn BarProvider> = match ClickHouseConfig::from_settings(settings)? {
            Some(c) => Arc::new(ClickHouseBarProvider::new(c)?),
            None => Arc::new(FileBarProvider::new(dir(
                settings,
                &keys::TORGHUT_BARS_DIR,
                embedded_dir,
            ))),
        };
        Ok(Self {
            triggers: Arc::new(MacdCrossScanner::new(bars.clone())),
            bars,
            news,
            scorer: Arc::new(news_scorer(settings)?),
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
