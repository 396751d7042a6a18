//! Company facts from SEC EDGAR's XBRL API, the production fundamentals source.
//!
//! Two documents: the ticker → CIK map (`company_tickers.json`) and one company-facts document
//! per CIK (`/api/xbrl/companyfacts/CIK##########.json`). Both change at most a few times a
//! day and the SEC asks clients to stay under 10 requests a second, so both are cached; the
//! skill still judges freshness from the filing dates inside the facts, never from the cache.

use crate::providers::fundamentals::{CompanyFacts, FundamentalsProvider};
use crate::providers::http::{base_url, block_on_io, seconds};
use crate::skill::SkillError;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use torghut_config::{SettingError, Settings, keys};
use url::Url;

#[derive(Debug, Clone)]
pub struct EdgarConfig {
    /// `https://data.sec.gov/` in production; a local server in tests.
    pub base_url: Url,
    pub tickers_url: Url,
    /// The SEC refuses anonymous clients: a name and a contact address, e.g. `Torghut ops@firm.com`.
    pub user_agent: String,
    pub timeout: Duration,
    pub cache_ttl: Duration,
}

impl EdgarConfig {
    /// `None` when `TORGHUT_EDGAR_URL` is unset: the file provider stays in charge.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, SettingError> {
        let Some(base_url) = base_url(settings, &keys::TORGHUT_EDGAR_URL)? else {
            return Ok(None);
        };
        let tickers_url = settings.get(&keys::TORGHUT_EDGAR_TICKERS_URL, |raw| {
            Url::parse(raw).map_err(|e| format!("expected a URL, got {raw:?}: {e}"))
        })?;
        let user_agent = settings
            .value(&keys::TORGHUT_EDGAR_USER_AGENT)
            .ok_or_else(|| {
                SettingError::new(
                    &keys::TORGHUT_EDGAR_USER_AGENT,
                    "required when TORGHUT_EDGAR_URL is set: the SEC asks for a name and a \
                 contact address, e.g. \"Torghut ops@example.com\"",
                )
            })?;
        Ok(Some(Self {
            base_url,
            tickers_url,
            user_agent,
            timeout: seconds(settings, &keys::TORGHUT_EDGAR_TIMEOUT_SECONDS)?,
            cache_ttl: seconds(settings, &keys::TORGHUT_EDGAR_CACHE_SECONDS)?,
        }))
    }
}

/// One row of `company_tickers.json` (an object keyed by row number).
#[derive(Debug, Deserialize)]
struct TickerRow {
    cik_str: u64,
    ticker: String,
}

type Cached<T> = Mutex<Option<(Instant, T)>>;
/// By CIK; `None` remembers a 404 so an unknown company is not asked for again and again.
type FactsCache = Mutex<HashMap<u64, (Instant, Option<Arc<CompanyFacts>>)>>;

pub struct EdgarProvider {
    config: EdgarConfig,
    client: reqwest::Client,
    tickers: Cached<Arc<HashMap<String, u64>>>,
    facts: FactsCache,
}

impl EdgarProvider {
    pub fn new(config: EdgarConfig) -> Self {
        Self {
            config,
            client: reqwest::Client::new(),
            tickers: Mutex::new(None),
            facts: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, at: Instant) -> bool {
        at.elapsed() < self.config.cache_ttl
    }

    /// GETs a JSON document; `Ok(None)` on 404 (EDGAR's answer for a CIK without XBRL facts).
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        what: &str,
    ) -> Result<Option<T>, SkillError> {
        let resp = self
            .client
            .get(url)
            .header(reqwest::header::USER_AGENT, &self.config.user_agent)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.config.timeout)
            .send()
            .await
            .map_err(|e| SkillError::Unavailable(format!("edgar {what}: {}", e.without_url())))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(SkillError::Unavailable(format!(
                "edgar {what}: HTTP {status}"
            )));
        }
        resp.json::<T>().await.map(Some).map_err(|e| {
            SkillError::Unavailable(format!(
                "edgar {what}: not the expected JSON: {}",
                e.without_url()
            ))
        })
    }

    async fn cik(&self, symbol: &str) -> Result<Option<u64>, SkillError> {
        let cached = match self.tickers.lock() {
            Ok(g) => g
                .as_ref()
                .filter(|(at, _)| self.fresh(*at))
                .map(|(_, m)| m.clone()),
            Err(_) => None,
        };
        let map = match cached {
            Some(m) => m,
            None => {
                let rows: HashMap<String, TickerRow> = self
                    .get_json(self.config.tickers_url.clone(), "company tickers")
                    .await?
                    .ok_or_else(|| {
                        SkillError::Unavailable("edgar company tickers: HTTP 404".to_owned())
                    })?;
                let map: Arc<HashMap<String, u64>> = Arc::new(
                    rows.into_values()
                        .map(|r| (r.ticker.to_uppercase(), r.cik_str))
                        .collect(),
                );
                if let Ok(mut g) = self.tickers.lock() {
                    *g = Some((Instant::now(), map.clone()));
                }
                map
            }
        };
        // EDGAR writes class shares with a dash (BRK-B) where brokers use a dot (BRK.B).
        Ok(map
            .get(&symbol.to_uppercase())
            .or_else(|| map.get(&symbol.to_uppercase().replace('.', "-")))
            .copied())
    }

    async fn fetch(&self, symbol: &str) -> Result<Option<CompanyFacts>, SkillError> {
        let Some(cik) = self.cik(symbol).await? else {
            return Ok(None);
        };
        if let Ok(g) = self.facts.lock()
            && let Some((at, facts)) = g.get(&cik)
            && self.fresh(*at)
        {
            return Ok(facts.as_deref().cloned());
        }
        let url = self
            .config
            .base_url
            .join(&format!("api/xbrl/companyfacts/CIK{cik:010}.json"))
            .map_err(|e| SkillError::Unavailable(format!("edgar url: {e}")))?;
        let facts: Option<CompanyFacts> = self.get_json(url, "company facts").await?;
        let facts = facts.map(Arc::new);
        if let Ok(mut g) = self.facts.lock() {
            g.insert(cik, (Instant::now(), facts.clone()));
        }
        Ok(facts.as_deref().cloned())
    }
}

impl FundamentalsProvider for EdgarProvider {
    fn company_facts(&self, symbol: &str) -> Result<Option<CompanyFacts>, SkillError> {
        block_on_io(self.fetch(symbol))
    }
}
