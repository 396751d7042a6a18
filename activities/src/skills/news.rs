//! `news-sentiment`: recency-weighted headline sentiment with sources and citations. Headlines
//! come through [`NewsProvider`]; each is read by the [`SentimentScorer`] (model, lexicon as
//! fallback; see [`crate::sentiment`]).

use crate::providers::news::NewsProvider;
use crate::sentiment::{Polarity, SentimentScorer};
use crate::skill::{OutputBuilder, SkillError};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use std::collections::BTreeSet;
use torghut_policy::skills::NEWS_SENTIMENT;
use torghut_proto::v1::SkillOutput;

const FRESHNESS_TARGET_SECONDS: u64 = torghut_policy::skills::NEWS_FRESHNESS_TARGET_SECONDS;
const LOOKBACK_HOURS: i64 = 24;
const HALF_LIFE_MINUTES: f64 = 120.0;
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
        let r = scorer.read(&format!("{}. {}", n.headline, n.summary));
        let age_min = (as_of - n.created_at).num_seconds() as f64 / 60.0;
        let w = 0.5f64.powf(age_min / HALF_LIFE_MINUTES);
        weighted += r.score * w;
        weights += w;
        match r.polarity {
            Polarity::Positive => positive += 1,
            Polarity::Negative => negative += 1,
            Polarity::Neutral => {}
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
    use crate::providers::files::news::{FileNewsProvider, embedded_news_dir};
    use chrono::TimeZone;
    use std::path::PathBuf;

    /// The skill's tests read the lexicon alone, so they do not move with the model's weights.
    fn scorer() -> SentimentScorer {
        SentimentScorer::embedded_lexicon()
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
