//! `news-sentiment`: recency-weighted headline sentiment with sources and citations.
//!
//! The scorer is VADER's lexicon with a finance layer on top (general-purpose lexicons miss
//! "beats", "downgrade", "guidance cut"), negation, intensifiers and VADER's "but" rule.

use crate::skill::{OutputBuilder, SkillError};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use torghut_proto::v1::SkillOutput;
use torghut_workflows::skills::NEWS_SENTIMENT;

const FRESHNESS_TARGET_SECONDS: u64 = 300;
const LOOKBACK_HOURS: i64 = 24;
const HALF_LIFE_MINUTES: f64 = 120.0;

#[derive(Debug, Clone, PartialEq)]
pub struct NewsItem {
    pub id: String,
    pub headline: String,
    pub summary: String,
    pub source: String,
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub symbols: Vec<String>,
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

pub trait NewsProvider: Send + Sync {
    /// Items about `symbol` published in `(as_of - lookback, as_of]`.
    fn headlines(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: Duration,
    ) -> Result<Vec<NewsItem>, SkillError>;
}

pub fn embedded_news_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/news"))
}

/// Reads `<dir>/<SYMBOL>.json` in the Alpaca wire format; no file means no news.
pub struct FileNewsProvider {
    dir: PathBuf,
}

impl FileNewsProvider {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl NewsProvider for FileNewsProvider {
    fn headlines(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: Duration,
    ) -> Result<Vec<NewsItem>, SkillError> {
        let path = self.dir.join(format!("{symbol}.json"));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(SkillError::Unavailable(format!("{}: {e}", path.display()))),
        };
        let parsed: AlpacaNewsResponse = serde_json::from_str(&text).map_err(|e| {
            SkillError::Unavailable(format!("{}: not Alpaca news JSON: {e}", path.display()))
        })?;
        Ok(parsed
            .news
            .into_iter()
            .map(NewsItem::from)
            .filter(|n| n.created_at <= as_of && n.created_at > as_of - lookback)
            .collect())
    }
}

/// Finance terms and their valence on VADER's -4..4 scale.
const FINANCE_TERMS: &[(&str, f64)] = &[
    ("beat", 2.0),
    ("beats", 2.0),
    ("miss", -2.0),
    ("misses", -2.0),
    ("missed", -2.0),
    ("upgrade", 2.2),
    ("upgrades", 2.2),
    ("upgraded", 2.2),
    ("downgrade", -2.2),
    ("downgrades", -2.2),
    ("downgraded", -2.2),
    ("outperform", 1.8),
    ("underperform", -1.8),
    ("bankruptcy", -3.5),
    ("bankrupt", -3.5),
    ("default", -2.5),
    ("lawsuit", -1.8),
    ("probe", -1.6),
    ("investigation", -1.6),
    ("fraud", -3.2),
    ("layoffs", -1.8),
    ("recall", -1.8),
    ("dividend", 1.2),
    ("buyback", 1.5),
    ("repurchase", 1.2),
    ("record", 1.2),
    ("surge", 2.0),
    ("surges", 2.0),
    ("soar", 2.2),
    ("soars", 2.2),
    ("plunge", -2.5),
    ("plunges", -2.5),
    ("slump", -2.0),
    ("tumbles", -2.2),
    ("rally", 1.8),
    ("rallies", 1.8),
    ("selloff", -2.0),
    ("bullish", 2.0),
    ("bearish", -2.0),
    ("raises", 1.0),
    ("cuts", -1.2),
    ("shortfall", -2.0),
    ("writedown", -2.0),
    ("impairment", -1.8),
];
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "without", "isn't", "wasn't", "don't", "doesn't", "didn't", "won't",
    "can't",
];
const BOOSTERS: &[&str] = &[
    "very",
    "sharply",
    "significantly",
    "strongly",
    "hugely",
    "deeply",
    "extremely",
];

pub struct SentimentScorer {
    valence: HashMap<String, f64>,
}

impl SentimentScorer {
    const EMBEDDED_LEXICON: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/lexicons/vader_lexicon.txt"
    );

    pub fn from_lexicon_text(text: &str) -> Self {
        let mut scorer = Self::vader_only(text);
        for (term, v) in FINANCE_TERMS {
            scorer.valence.insert((*term).to_owned(), *v);
        }
        scorer
    }

    /// The lexicon alone, without the finance layer. Not for the skill: it is the baseline that
    /// `sentiment_eval` measures the finance layer against, so its value is shown, not assumed.
    pub fn vader_only(text: &str) -> Self {
        let valence = text
            .lines()
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let token = cols.next()?;
                let v = cols.next()?.parse::<f64>().ok()?;
                Some((token.to_owned(), v))
            })
            .collect();
        Self { valence }
    }

    pub fn embedded() -> std::io::Result<Self> {
        Ok(Self::from_lexicon_text(&std::fs::read_to_string(
            Self::EMBEDDED_LEXICON,
        )?))
    }

    /// [`Self::vader_only`] over the lexicon shipped in the crate.
    pub fn embedded_vader_only() -> std::io::Result<Self> {
        Ok(Self::vader_only(&std::fs::read_to_string(
            Self::EMBEDDED_LEXICON,
        )?))
    }

    /// Sentiment of one text in `[-1, 1]` (VADER's `x / sqrt(x^2 + 15)` normalisation).
    pub fn score(&self, text: &str) -> f64 {
        let tokens: Vec<String> = text
            .split_whitespace()
            .map(|t| {
                t.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                    .to_lowercase()
            })
            .filter(|t| !t.is_empty())
            .collect();
        let but = tokens.iter().position(|t| t == "but");
        let mut sum = 0.0;
        for (i, t) in tokens.iter().enumerate() {
            let Some(mut v) = self.valence.get(t).copied() else {
                continue;
            };
            let window = &tokens[i.saturating_sub(3)..i];
            if window.iter().any(|w| BOOSTERS.contains(&w.as_str())) {
                v += 0.293 * v.signum();
            }
            if window
                .iter()
                .any(|w| NEGATIONS.contains(&w.as_str()) || w.ends_with("n't"))
            {
                v *= -0.74;
            }
            if let Some(b) = but {
                v *= if i < b {
                    0.5
                } else if i > b {
                    1.5
                } else {
                    1.0
                };
            }
            sum += v;
        }
        sum / (sum * sum + 15.0).sqrt()
    }
}

fn normalise(headline: &str) -> String {
    headline
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn news_sentiment(
    provider: &dyn NewsProvider,
    scorer: &SentimentScorer,
    symbol: &str,
    as_of: DateTime<Utc>,
) -> Result<SkillOutput, SkillError> {
    let mut out = OutputBuilder::new(NEWS_SENTIMENT, symbol, as_of, FRESHNESS_TARGET_SECONDS);
    let mut items = provider.headlines(symbol, as_of, Duration::hours(LOOKBACK_HOURS))?;
    items.sort_by_key(|n| std::cmp::Reverse(n.created_at));
    let mut seen = BTreeSet::new();
    let total = items.len();
    items.retain(|n| seen.insert(normalise(&n.headline)));
    let removed = total - items.len();
    let Some(newest) = items.first().map(|n| n.created_at) else {
        return Ok(out.missing("no_recent_news"));
    };
    let (mut weighted, mut weights, mut positive, mut negative) = (0.0, 0.0, 0u32, 0u32);
    let mut sources = BTreeSet::new();
    for n in &items {
        let s = scorer.score(&format!("{}. {}", n.headline, n.summary));
        let age_min = (as_of - n.created_at).num_seconds() as f64 / 60.0;
        let w = 0.5f64.powf(age_min / HALF_LIFE_MINUTES);
        weighted += s * w;
        weights += w;
        if s > 0.05 {
            positive += 1;
        } else if s < -0.05 {
            negative += 1;
        }
        sources.insert(n.source.clone());
        out = out.citation(
            n.url.clone(),
            Some(n.created_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
            n.source.clone(),
        );
    }
    let signal = if weights > 0.0 {
        weighted / weights
    } else {
        0.0
    };
    let freshness = (as_of - newest).num_seconds().max(0) as u64;
    let recent = freshness <= 3600;
    let quality = (0.4 + 0.15 * items.len() as f64).min(1.0) * if recent { 1.0 } else { 0.7 };
    let dec = |f: f64| Decimal::from_f64(f).unwrap_or_default().round_dp(4);
    out = out
        .value("signal", dec(signal.clamp(-1.0, 1.0)))
        .value("item_count", Decimal::from(items.len() as u64))
        .value("dedup_removed", Decimal::from(removed as u64))
        .value("positive_count", Decimal::from(positive))
        .value("negative_count", Decimal::from(negative))
        .sources(sources.len() as u32);
    Ok(out.finish(freshness, dec(quality)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn scorer() -> SentimentScorer {
        SentimentScorer::embedded().expect("lexicon")
    }

    #[test]
    fn finance_terms_negation_and_but_clauses() {
        let s = scorer();
        assert!(s.score("Acme beats estimates and raises guidance") > 0.3);
        assert!(s.score("Acme downgraded after revenue shortfall") < -0.3);
        assert!(s.score("Acme did not beat estimates") < 0.0);
        let but = s.score("Results were good but the outlook is terrible");
        assert!(but < 0.0, "the clause after 'but' dominates: {but}");
        assert!(s.score("Acme reports very strong demand") > s.score("Acme reports strong demand"));
    }

    fn write_feed(json: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("news-test-{}-{}", std::process::id(), json.len()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("TEST.json"), json).expect("write");
        dir
    }

    #[test]
    fn the_alpaca_wire_format_is_read_deduplicated_and_cut_at_as_of() {
        // Synthetic items for a made-up ticker; not market data.
        let feed = r#"{"news":[
          {"id":1,"headline":"TEST Corp beats estimates","author":"x","created_at":"2013-10-08T14:00:00Z","updated_at":"2013-10-08T14:00:00Z","summary":"","content":"","url":"https://example.test/1","images":[],"symbols":["TEST"],"source":"benzinga"},
          {"id":2,"headline":"TEST corp BEATS estimates!","author":"x","created_at":"2013-10-08T14:05:00Z","updated_at":"2013-10-08T14:05:00Z","summary":"","content":"","url":"https://example.test/2","images":[],"symbols":["TEST"],"source":"reuters"},
          {"id":3,"headline":"TEST Corp faces fraud probe","author":"x","created_at":"2013-10-08T16:00:00Z","updated_at":"2013-10-08T16:00:00Z","summary":"","content":"","url":"https://example.test/3","images":[],"symbols":["TEST"],"source":"benzinga"}
        ],"next_page_token":null}"#;
        let provider = FileNewsProvider::new(write_feed(feed));
        let as_of = Utc
            .with_ymd_and_hms(2013, 10, 8, 14, 30, 0)
            .single()
            .expect("time");
        let out = news_sentiment(&provider, &scorer(), "TEST", as_of).expect("skill");
        assert_eq!(out.payload["item_count"], "1", "{out:?}");
        assert_eq!(out.payload["dedup_removed"], "1");
        assert!(
            out.payload["signal"].parse::<f64>().expect("signal") > 0.0,
            "the future fraud probe is invisible"
        );
        assert_eq!(out.citations.len(), 1);
        assert_eq!(out.status, "stale", "newest item is 25 min old");
    }

    #[test]
    fn no_news_is_an_explicit_missing_domain() {
        let provider = FileNewsProvider::new(embedded_news_dir());
        let as_of = Utc
            .with_ymd_and_hms(2013, 10, 8, 14, 30, 0)
            .single()
            .expect("time");
        let out = news_sentiment(&provider, &scorer(), "IBM", as_of).expect("skill");
        assert_eq!(out.status, "missing");
        assert_eq!(
            out.risk_flags,
            vec!["news-sentiment:missing:no_recent_news".to_owned()]
        );
    }
}
