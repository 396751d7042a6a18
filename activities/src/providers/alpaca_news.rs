//! News from Alpaca's market-data REST API (`GET /v1beta1/news`), the production news source.
//!
//! Alpaca filters by symbol and time window server-side; we still cut every item at as-of
//! ourselves, because a replay must never see a headline published after its clock, whatever the
//! server's inclusive/exclusive window rules are.

use crate::providers::http::{base_url, block_on_io, required_secret, seconds};
use crate::providers::news::{NewsItem, NewsProvider};
use crate::secret::Secret;
use crate::skill::SkillError;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;
use std::time::Duration as StdDuration;
use torghut_config::{SettingError, Settings, keys};
use url::Url;

/// Alpaca's page-size ceiling for the news endpoint.
const PAGE_LIMIT: u32 = 50;
/// More pages than this in one lookback window is a flood, not context; the newest items win.
const MAX_PAGES: u32 = 4;

#[derive(Debug, Clone)]
pub struct AlpacaNewsConfig {
    /// `https://data.alpaca.markets` in production; a local server in tests.
    pub base_url: Url,
    pub key_id: Secret,
    pub secret_key: Secret,
    pub timeout: StdDuration,
}

impl AlpacaNewsConfig {
    /// `None` when `TORGHUT_ALPACA_NEWS_URL` is unset: the file provider stays in charge.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, SettingError> {
        let Some(base_url) = base_url(settings, &keys::TORGHUT_ALPACA_NEWS_URL)? else {
            return Ok(None);
        };
        Ok(Some(Self {
            base_url,
            key_id: required_secret(
                settings,
                &keys::TORGHUT_ALPACA_KEY_ID,
                &keys::TORGHUT_ALPACA_KEY_ID_FILE,
            )?,
            secret_key: required_secret(
                settings,
                &keys::TORGHUT_ALPACA_SECRET_KEY,
                &keys::TORGHUT_ALPACA_SECRET_KEY_FILE,
            )?,
            timeout: seconds(settings, &keys::TORGHUT_ALPACA_NEWS_TIMEOUT_SECONDS)?,
        }))
    }
}

pub struct AlpacaNewsProvider {
    config: AlpacaNewsConfig,
    client: reqwest::Client,
}

impl AlpacaNewsProvider {
    pub fn new(config: AlpacaNewsConfig) -> Self {
        Self {
            config,
            client: reqwest::Client::new(),
        }
    }

    fn page_url(
        &self,
        symbol: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        token: Option<&str>,
    ) -> Result<Url, SkillError> {
        let mut url = self
            .config
            .base_url
            .join("v1beta1/news")
            .map_err(|e| SkillError::Unavailable(format!("alpaca news url: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("symbols", symbol)
                .append_pair("start", &start.to_rfc3339_opts(SecondsFormat::Secs, true))
                .append_pair("end", &end.to_rfc3339_opts(SecondsFormat::Secs, true))
                .append_pair("limit", &PAGE_LIMIT.to_string())
                .append_pair("sort", "desc")
                .append_pair("include_content", "false");
            if let Some(t) = token {
                q.append_pair("page_token", t);
            }
        }
        Ok(url)
    }

    async fn fetch(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: Duration,
    ) -> Result<Vec<NewsItem>, SkillError> {
        let start = as_of - lookback;
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let url = self.page_url(symbol, start, as_of, token.as_deref())?;
            let resp = self
                .client
                .get(url)
                .header("APCA-API-KEY-ID", self.config.key_id.expose())
                .header("APCA-API-SECRET-KEY", self.config.secret_key.expose())
                .timeout(self.config.timeout)
                .send()
                .await
                .map_err(|e| {
                    SkillError::Unavailable(format!("alpaca news: {}", e.without_url()))
                })?;
            let status = resp.status();
            if !status.is_success() {
                // Alpaca's error body is `{"code": ..., "message": "..."}`; keep its message.
                let body = resp.text().await.unwrap_or_default();
                let message = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                    .unwrap_or_else(|| body.chars().take(200).collect());
                return Err(SkillError::Unavailable(format!(
                    "alpaca news: HTTP {status}: {message}"
                )));
            }
            let page: AlpacaNewsResponse = resp.json().await.map_err(|e| {
                SkillError::Unavailable(format!(
                    "alpaca news: not the news response format: {}",
                    e.without_url()
                ))
            })?;
            items.extend(page.news.into_iter().map(NewsItem::from));
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        items.retain(|n| n.visible(as_of, lookback));
        Ok(items)
    }
}

impl NewsProvider for AlpacaNewsProvider {
    fn headlines(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: Duration,
    ) -> Result<Vec<NewsItem>, SkillError> {
        block_on_io(self.fetch(symbol, as_of, lookback))
    }
}

/// Alpaca's `GET /v1beta1/news` response, as it comes over the wire.
#[derive(Debug, Deserialize)]
pub struct AlpacaNewsResponse {
    pub news: Vec<AlpacaNewsItem>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AlpacaNewsItem {
    pub id: i64,
    pub headline: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub url: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub symbols: Vec<String>,
}

impl From<AlpacaNewsItem> for NewsItem {
    fn from(a: AlpacaNewsItem) -> Self {
        NewsItem {
            id: a.id.to_string(),
            headline: a.headline,
            summary: a.summary,
            source: a.source,
            url: a.url,
            created_at: a.created_at,
            symbols: a.symbols,
        }
    }
}
