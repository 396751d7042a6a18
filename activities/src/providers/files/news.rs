//! The embedded news source: one Alpaca-format JSON file per symbol (empty by default).

use crate::providers::alpaca_news::AlpacaNewsResponse;
use crate::providers::news::{NewsItem, NewsProvider};
use crate::skill::SkillError;
use chrono::{DateTime, Duration, Utc};
use std::path::PathBuf;

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
            .filter(|n| n.visible(as_of, lookback))
            .collect())
    }
}
