//! Minute and daily bars, read through an explicit as-of clock.
//!
//! Replays and tests must see the market exactly as it was at the decision's instant, so every
//! read takes `as_of` and returns only bars that had *closed* by then: a minute bar starting at
//! 14:29 closes at 14:30 and is visible to a decision at 14:30:00, not at 14:29:59.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

#[derive(Debug, Clone, PartialEq)]
pub struct MinuteBar {
    /// Start of the minute, UTC.
    pub ts: DateTime<Utc>,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: u64,
    pub bid: Option<Decimal>,
    pub ask: Option<Decimal>,
}

impl MinuteBar {
    pub fn end(&self) -> DateTime<Utc> {
        self.ts + chrono::Duration::seconds(60)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DailyBar {
    pub date: NaiveDate,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: u64,
}

impl DailyBar {
    /// When the bar becomes known: 20:00 UTC, at or after the 16:00 New York close all year.
    pub fn visible_at(&self) -> DateTime<Utc> {
        self.date
            .and_time(NaiveTime::from_hms_opt(20, 0, 0).unwrap_or_default())
            .and_utc()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BarError {
    #[error("no bars for symbol {0}")]
    UnknownSymbol(String),
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A source of bars. `lookback` bounds how many of the most recent visible bars come back,
/// oldest first.
pub trait BarProvider: Send + Sync {
    fn minute_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<MinuteBar>, BarError>;
    fn daily_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<DailyBar>, BarError>;
}

/// The committed LEAN sample data.
pub fn embedded_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/bars"))
}

type Cache<T> = RwLock<HashMap<String, Arc<Vec<T>>>>;

/// Reads `minute/<SYMBOL>.csv` and `daily/<SYMBOL>.csv` under a directory, once per symbol.
pub struct FileBarProvider {
    dir: PathBuf,
    minute: Cache<MinuteBar>,
    daily: Cache<DailyBar>,
}

impl FileBarProvider {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            minute: RwLock::new(HashMap::new()),
            daily: RwLock::new(HashMap::new()),
        }
    }

    fn load<T>(
        &self,
        cache: &Cache<T>,
        kind: &str,
        symbol: &str,
        parse: fn(&[&str]) -> Result<T, String>,
    ) -> Result<Arc<Vec<T>>, BarError> {
        if let Some(v) = cache.read().ok().and_then(|c| c.get(symbol).cloned()) {
            return Ok(v);
        }
        if !symbol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(BarError::UnknownSymbol(symbol.to_owned()));
        }
        let path = self.dir.join(kind).join(format!("{symbol}.csv"));
        let rows = read_csv(&path, symbol, parse)?;
        let rows = Arc::new(rows);
        if let Ok(mut c) = cache.write() {
            c.insert(symbol.to_owned(), rows.clone());
        }
        Ok(rows)
    }
}

fn read_csv<T>(
    path: &Path,
    symbol: &str,
    parse: fn(&[&str]) -> Result<T, String>,
) -> Result<Vec<T>, BarError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BarError::UnknownSymbol(symbol.to_owned()));
        }
        Err(source) => {
            return Err(BarError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let cols: Vec<&str> = line.split(',').collect();
            parse(&cols).map_err(|reason| BarError::Parse {
                path: path.display().to_string(),
                line: i + 1,
                reason,
            })
        })
        .collect()
}

fn dec(cols: &[&str], i: usize, name: &str) -> Result<Decimal, String> {
    let raw = cols
        .get(i)
        .ok_or_else(|| format!("missing column {name}"))?;
    Decimal::from_str(raw).map_err(|e| format!("column {name}: {raw:?}: {e}"))
}

fn opt_dec(cols: &[&str], i: usize, name: &str) -> Result<Option<Decimal>, String> {
    match cols.get(i) {
        None | Some(&"") => Ok(None),
        Some(_) => dec(cols, i, name).map(Some),
    }
}

fn volume(cols: &[&str], i: usize) -> Result<u64, String> {
    let raw = cols.get(i).ok_or("missing column volume")?;
    raw.parse()
        .map_err(|e| format!("column volume: {raw:?}: {e}"))
}

fn parse_minute(cols: &[&str]) -> Result<MinuteBar, String> {
    let ts_raw = cols.first().ok_or("missing column ts_utc")?;
    let ts = DateTime::parse_from_rfc3339(ts_raw)
        .map_err(|e| format!("column ts_utc: {ts_raw:?}: {e}"))?
        .with_timezone(&Utc);
    Ok(MinuteBar {
        ts,
        open: dec(cols, 1, "open")?,
        high: dec(cols, 2, "high")?,
        low: dec(cols, 3, "low")?,
        close: dec(cols, 4, "close")?,
        volume: volume(cols, 5)?,
        bid: opt_dec(cols, 6, "bid_close")?,
        ask: opt_dec(cols, 7, "ask_close")?,
    })
}

fn parse_daily(cols: &[&str]) -> Result<DailyBar, String> {
    let raw = cols.first().ok_or("missing column date")?;
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|e| format!("column date: {raw:?}: {e}"))?;
    Ok(DailyBar {
        date,
        open: dec(cols, 1, "open")?,
        high: dec(cols, 2, "high")?,
        low: dec(cols, 3, "low")?,
        close: dec(cols, 4, "close")?,
        volume: volume(cols, 5)?,
    })
}

/// The last `lookback` items before the first one not yet visible (the rows are time-sorted).
fn visible_tail<T: Clone>(rows: &[T], lookback: usize, visible: impl Fn(&T) -> bool) -> Vec<T> {
    let end = rows.partition_point(visible);
    rows[end.saturating_sub(lookback)..end].to_vec()
}

impl BarProvider for FileBarProvider {
    fn minute_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<MinuteBar>, BarError> {
        let rows = self.load(&self.minute, "minute", symbol, parse_minute)?;
        Ok(visible_tail(&rows, lookback, |b| b.end() <= as_of))
    }

    fn daily_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<DailyBar>, BarError> {
        let rows = self.load(&self.daily, "daily", symbol, parse_daily)?;
        Ok(visible_tail(&rows, lookback, |b| b.visible_at() <= as_of))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn at(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2013, 10, d, h, m, s)
            .single()
            .expect("valid time")
    }

    #[test]
    fn the_as_of_clock_hides_bars_that_had_not_closed() {
        let p = FileBarProvider::new(embedded_dir());
        let bars = p.minute_bars("IBM", at(8, 14, 30, 0), 5).expect("IBM bars");
        assert_eq!(bars.len(), 5);
        let last = bars.last().expect("a bar");
        assert_eq!(last.ts, at(8, 14, 29, 0));
        // From the raw LEAN file 20131008_ibm_minute_trade.csv: ms 37740000 (10:29 EDT) closes
        // at 1804700 (1/10000 $); the quote file's bid/ask closes are 1804500 / 1804800.
        assert_eq!(last.close, dec!(180.47));
        assert_eq!(
            (last.bid, last.ask),
            (Some(dec!(180.45)), Some(dec!(180.48)))
        );
        let earlier = p
            .minute_bars("IBM", at(8, 14, 29, 59), 5)
            .expect("IBM bars");
        assert_eq!(earlier.last().map(|b| b.ts), Some(at(8, 14, 28, 0)));
        assert!(earlier.iter().all(|b| b.end() <= at(8, 14, 29, 59)));
    }

    #[test]
    fn daily_bars_appear_only_after_the_session() {
        let p = FileBarProvider::new(embedded_dir());
        let midday = p.daily_bars("QQQ", at(8, 15, 0, 0), 2).expect("QQQ");
        assert_eq!(
            midday.last().map(|b| b.date.to_string()),
            Some("2013-10-07".to_owned())
        );
        let evening = p.daily_bars("QQQ", at(8, 20, 0, 0), 2).expect("QQQ");
        assert_eq!(
            evening.last().map(|b| b.date.to_string()),
            Some("2013-10-08".to_owned())
        );
    }

    #[test]
    fn unknown_symbols_and_bad_rows_are_specific_errors() {
        let p = FileBarProvider::new(embedded_dir());
        assert!(matches!(
            p.minute_bars("NVDA", at(8, 15, 0, 0), 5),
            Err(BarError::UnknownSymbol(_))
        ));
        assert!(matches!(
            p.minute_bars("../x", at(8, 15, 0, 0), 5),
            Err(BarError::UnknownSymbol(_))
        ));
        let dir = std::env::temp_dir().join(format!("bars-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("minute")).expect("mkdir");
        std::fs::write(
            dir.join("minute/BAD.csv"),
            "ts_utc,open\n2013-10-08T14:00:00Z,abc\n",
        )
        .expect("write");
        let err = FileBarProvider::new(&dir)
            .minute_bars("BAD", at(8, 15, 0, 0), 5)
            .expect_err("bad row");
        assert!(err.to_string().contains("BAD.csv:2: column open"), "{err}");
    }
}
