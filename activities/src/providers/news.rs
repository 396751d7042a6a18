//! What `news-sentiment` reads: news items about a symbol, published by an as-of clock. The
//! sources are [`super::files::news`] (the embedded files) and [`super::alpaca_news`].

use crate::skill::SkillError;
use chrono::{DateTime, Duration, Utc};

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

impl NewsItem {
    /// Published in `(as_of - lookback, as_of]`: what a decision at `as_of` may see.
    pub fn visible(&self, as_of: DateTime<Utc>, lookback: Duration) -> bool {
        self.created_at <= as_of && self.created_at > as_of - lookback
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
