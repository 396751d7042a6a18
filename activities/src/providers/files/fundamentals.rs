//! The embedded fundamentals source: one EDGAR company-facts JSON file per symbol (AAPL, cut to
//! the concepts the skill reads by `examples/edgar_subset.rs`).

use crate::providers::fundamentals::{CompanyFacts, FundamentalsProvider};
use crate::skill::SkillError;
use std::path::PathBuf;

pub fn embedded_fundamentals_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/fundamentals"))
}

/// Reads `<dir>/<SYMBOL>.json` (EDGAR company-facts format); no file means no facts.
pub struct FileFundamentalsProvider {
    dir: PathBuf,
}

impl FileFundamentalsProvider {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl FundamentalsProvider for FileFundamentalsProvider {
    fn company_facts(&self, symbol: &str) -> Result<Option<CompanyFacts>, SkillError> {
        let path = self.dir.join(format!("{symbol}.json"));
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
                SkillError::Unavailable(format!("{}: not EDGAR company facts: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SkillError::Unavailable(format!("{}: {e}", path.display()))),
        }
    }
}
