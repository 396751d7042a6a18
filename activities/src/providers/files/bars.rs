//! The embedded bar source: LEAN-format minute and daily CSV files under a directory (by default
//! the committed sample data in `activities/data/bars`), parsed once per symbol and read through
//! the as-of clock of [`BarProvider`].

use crate::providers::bars::{BarError, BarProvider, DailyBar, MinuteBar};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};

/// The committed LEAN sample data, found through the crate's own directory so that tests and a
/// worker started from any working directory read the same files.
pub fn embedded_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/bars"))
}

type Cache<T> = RwLock<HashMap<String, Arc<[T]>>>;

/// Reads `minute/<SYMBOL>.csv` and `daily/<SYMBOL>.csv` under a directory (the format written by
/// `scripts/convert_lean_data.py`).
///
/// Files are parsed on first use and kept, so a worker pays only for the symbols it is asked
/// about and repeated decisions do not re-read disk. Failures are not cached: a file fixed or
/// added while the process runs is picked up on the next call.
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

    fn load<T: Record>(&self, cache: &Cache<T>, symbol: &str) -> Result<Arc<[T]>, BarError> {
        // Files are named by uppercase ticker; accept any case from callers.
        let key = symbol.to_ascii_uppercase();
        // A poisoned lock only means another reader panicked; the map itself is never left
        // half-updated (insert is the only write), so its contents are still good.
        if let Some(rows) = cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Ok(rows.clone());
        }
        let plausible = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && !key.starts_with('.');
        if !plausible {
            return Err(BarError::UnknownSymbol(symbol.to_owned()));
        }
        let path = self.dir.join(T::DIR).join(format!("{key}.csv"));
        let rows: Arc<[T]> = read_file(&path, symbol)?.into();
        cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, rows.clone());
        Ok(rows)
    }
}

impl BarProvider for FileBarProvider {
    fn minute_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<MinuteBar>, BarError> {
        Ok(visible_tail(
            &self.load(&self.minute, symbol)?,
            as_of,
            lookback,
        ))
    }

    fn daily_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<DailyBar>, BarError> {
        Ok(visible_tail(
            &self.load(&self.daily, symbol)?,
            as_of,
            lookback,
        ))
    }
}

/// The last `lookback` rows visible at `as_of`. Rows are checked at load to be strictly
/// increasing in visibility time, which is what makes the binary search valid.
fn visible_tail<T: Record>(rows: &[T], as_of: DateTime<Utc>, lookback: usize) -> Vec<T> {
    let end = rows.partition_point(|r| r.visible_at() <= as_of);
    rows[end.saturating_sub(lookback)..end].to_vec()
}

/// What the loader needs to know about a row type; keeps one parser and one slicer for both.
trait Record: Clone + Sized {
    const DIR: &'static str;
    const HEADER: &'static [&'static str];
    fn parse(fields: &Fields<'_>) -> Result<Self, BarError>;
    fn visible_at(&self) -> DateTime<Utc>;
}

impl Record for MinuteBar {
    const DIR: &'static str = "minute";
    const HEADER: &'static [&'static str] = &[
        "ts_utc",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "bid_close",
        "ask_close",
    ];

    fn parse(f: &Fields<'_>) -> Result<Self, BarError> {
        let ts = f.parse(0, |raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| e.to_string())
        })?;
        Ok(Self {
            ts,
            open: f.decimal(1)?,
            high: f.decimal(2)?,
            low: f.decimal(3)?,
            close: f.decimal(4)?,
            volume: f.volume(5)?,
            bid: f.opt_decimal(6)?,
            ask: f.opt_decimal(7)?,
        })
    }

    fn visible_at(&self) -> DateTime<Utc> {
        self.end()
    }
}

impl Record for DailyBar {
    const DIR: &'static str = "daily";
    const HEADER: &'static [&'static str] = &["date", "open", "high", "low", "close", "volume"];

    fn parse(f: &Fields<'_>) -> Result<Self, BarError> {
        let date = f.parse(0, |raw| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|e| e.to_string())
        })?;
        Ok(Self {
            date,
            open: f.decimal(1)?,
            high: f.decimal(2)?,
            low: f.decimal(3)?,
            close: f.decimal(4)?,
            volume: f.volume(5)?,
        })
    }

    fn visible_at(&self) -> DateTime<Utc> {
        DailyBar::visible_at(self)
    }
}

/// One CSV line with enough context to say exactly where a bad value sits.
struct Fields<'a> {
    path: &'a Path,
    line: usize,
    header: &'static [&'static str],
    cols: Vec<&'a str>,
}

impl Fields<'_> {
    fn error(&self, index: usize, reason: impl Into<String>) -> BarError {
        BarError::Parse {
            path: self.path.to_path_buf(),
            line: self.line,
            column: index + 1,
            field: self.header.get(index).copied().unwrap_or("(extra)"),
            reason: reason.into(),
        }
    }

    fn parse<T>(
        &self,
        index: usize,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, BarError> {
        let raw = self
            .cols
            .get(index)
            .ok_or_else(|| self.error(index, "missing"))?;
        parse(raw).map_err(|e| self.error(index, format!("{raw:?}: {e}")))
    }

    fn decimal(&self, index: usize) -> Result<Decimal, BarError> {
        self.parse(index, |raw| {
            Decimal::from_str(raw).map_err(|e| e.to_string())
        })
    }

    /// Empty means "no quote that minute", which the converter writes deliberately.
    fn opt_decimal(&self, index: usize) -> Result<Option<Decimal>, BarError> {
        match self.cols.get(index) {
            Some(&"") => Ok(None),
            _ => self.decimal(index).map(Some),
        }
    }

    fn volume(&self, index: usize) -> Result<u64, BarError> {
        self.parse(index, |raw| raw.parse::<u64>().map_err(|e| e.to_string()))
    }
}

fn read_file<T: Record>(path: &Path, symbol: &str) -> Result<Vec<T>, BarError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BarError::UnknownSymbol(symbol.to_owned()));
        }
        Err(source) => {
            return Err(BarError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse_csv(path, &text)
}

/// Parses a whole file, insisting on the expected header (a file in another layout would
/// otherwise parse into shifted columns) and on strictly increasing times (the as-of slicing is
/// a binary search, which silently returns wrong answers on unsorted input).
fn parse_csv<T: Record>(path: &Path, text: &str) -> Result<Vec<T>, BarError> {
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split(',').map(str::trim).collect())
        .unwrap_or_default();
    for (i, want) in T::HEADER.iter().enumerate() {
        if header.get(i) != Some(want) {
            return Err(BarError::Parse {
                path: path.to_path_buf(),
                line: 1,
                column: i + 1,
                field: want,
                reason: format!("header {:?}, expected {:?}", header.get(i), want),
            });
        }
    }
    let mut rows: Vec<T> = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields = Fields {
            path,
            line: i + 1,
            header: T::HEADER,
            cols: line.split(',').collect(),
        };
        if fields.cols.len() > T::HEADER.len() {
            return Err(fields.error(T::HEADER.len(), "more columns than the header"));
        }
        let row = T::parse(&fields)?;
        if let Some(prev) = rows.last()
            && prev.visible_at() >= row.visible_at()
        {
            return Err(fields.error(0, "not after the previous row; files must be time-sorted"));
        }
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid time")
    }

    fn embedded() -> FileBarProvider {
        FileBarProvider::new(embedded_dir())
    }

    #[test]
    fn the_as_of_clock_hides_bars_that_had_not_closed() {
        let p = embedded();
        // The 14:00 bar closes at 14:01:00; one second earlier it must not be visible.
        let before = p
            .minute_bars("SPY", utc(2013, 10, 8, 14, 0, 59), 3)
            .expect("SPY bars");
        assert_eq!(before.len(), 3);
        assert_eq!(
            before.last().map(|b| b.ts),
            Some(utc(2013, 10, 8, 13, 59, 0))
        );
        assert!(
            before
                .iter()
                .all(|b| b.end() <= utc(2013, 10, 8, 14, 0, 59))
        );
        let at = p
            .minute_bars("SPY", utc(2013, 10, 8, 14, 1, 0), 3)
            .expect("SPY bars");
        assert_eq!(at.last().map(|b| b.ts), Some(utc(2013, 10, 8, 14, 0, 0)));
        // Windows are oldest first and contiguous in the data.
        assert!(at.windows(2).all(|w| w[0].ts < w[1].ts));
        assert_eq!(&at[..2], &before[1..]);
    }

    #[test]
    fn known_bars_match_the_raw_lean_files() {
        let p = embedded();
        // Raw LEAN 20131008_spy_minute_trade.csv, row "36000000,1675400,1675700,1674900,1674900,
        // 376459" (10:00 EDT = 14:00 UTC); 20131008_spy_minute_quote.csv at 36000000 has
        // bid_close 1674900 and ask_close 1675000. Checked with unzip -p | grep.
        let spy = p
            .minute_bars("SPY", utc(2013, 10, 8, 14, 1, 0), 1)
            .expect("SPY bars");
        assert_eq!(
            spy,
            vec![MinuteBar {
                ts: utc(2013, 10, 8, 14, 0, 0),
                open: dec!(167.54),
                high: dec!(167.57),
                low: dec!(167.49),
                close: dec!(167.49),
                volume: 376_459,
                bid: Some(dec!(167.49)),
                ask: Some(dec!(167.50)),
            }]
        );
        // Raw 20131008_ibm_minute_trade.csv at 37740000 (10:29 EDT) closes at 1804700.
        let ibm = p
            .minute_bars("ibm", utc(2013, 10, 8, 14, 30, 0), 1)
            .expect("IBM bars");
        assert_eq!(ibm.first().map(|b| b.close), Some(dec!(180.47)));
        // Raw daily/spy.zip: "20131008 00:00,1674500,1676200,1653700,1654800,153859703".
        let daily = p
            .daily_bars("SPY", utc(2013, 10, 9, 0, 0, 0), 1)
            .expect("SPY daily");
        assert_eq!(
            daily
                .first()
                .map(|b| (b.date.to_string(), b.close, b.volume)),
            Some(("2013-10-08".to_owned(), dec!(165.48), 153_859_703))
        );
    }

    #[test]
    fn lookback_bounds_the_result_and_the_start_of_data_truncates_it() {
        let p = embedded();
        let as_of = utc(2013, 10, 8, 15, 0, 0);
        assert_eq!(p.minute_bars("SPY", as_of, 30).expect("SPY").len(), 30);
        assert!(p.minute_bars("SPY", as_of, 0).expect("SPY").is_empty());
        // SPY's first bar starts 2013-10-04T08:06Z (04:06 EDT); two minutes later only it has
        // closed, whatever the lookback.
        let first = p
            .minute_bars("SPY", utc(2013, 10, 4, 8, 8, 0), 500)
            .expect("SPY");
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].ts, utc(2013, 10, 4, 8, 6, 0));
        assert!(
            p.minute_bars("SPY", utc(2013, 10, 4, 8, 6, 59), 500)
                .expect("SPY")
                .is_empty()
        );
        let all = p.daily_bars("QQQ", utc(2030, 1, 1, 0, 0, 0), usize::MAX);
        assert_eq!(all.expect("QQQ").len(), 754);
    }

    #[test]
    fn daily_bars_appear_only_after_the_new_york_close() {
        let p = embedded();
        let last = |as_of| {
            p.daily_bars("QQQ", as_of, 2)
                .expect("QQQ")
                .last()
                .map(|b| b.date.to_string())
        };
        // Daylight time: the close is 20:00 UTC.
        assert_eq!(
            last(utc(2013, 10, 8, 19, 59, 59)),
            Some("2013-10-07".into())
        );
        assert_eq!(last(utc(2013, 10, 8, 20, 0, 0)), Some("2013-10-08".into()));
        // Standard time: 20:30 UTC is 15:30 in New York, still mid-session.
        assert_eq!(last(utc(2013, 12, 2, 20, 30, 0)), Some("2013-11-29".into()));
        assert_eq!(last(utc(2013, 12, 2, 21, 0, 0)), Some("2013-12-02".into()));
    }

    #[test]
    fn unknown_and_implausible_symbols_are_unknown_not_io_errors() {
        let p = embedded();
        let as_of = utc(2013, 10, 8, 15, 0, 0);
        for symbol in ["NVDA", "../minute/SPY", "", ".SPY", "SPY/.."] {
            assert!(
                matches!(
                    p.minute_bars(symbol, as_of, 5),
                    Err(BarError::UnknownSymbol(_))
                ),
                "{symbol:?}"
            );
        }
        // QQQ has daily bars but no minute bars.
        assert!(matches!(
            p.minute_bars("QQQ", as_of, 5),
            Err(BarError::UnknownSymbol(_))
        ));
        assert!(p.daily_bars("QQQ", as_of, 5).is_ok());
    }

    #[test]
    fn bad_files_name_the_file_line_and_column() {
        let dir = std::env::temp_dir().join(format!("bars-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("minute")).expect("mkdir");
        std::fs::create_dir_all(dir.join("daily")).expect("mkdir");
        let header = "ts_utc,open,high,low,close,volume,bid_close,ask_close\n";
        let good = "2013-10-08T14:00:00Z,1,1,1,1,10,,\n";
        std::fs::write(
            dir.join("minute/BAD.csv"),
            format!("{header}{good}2013-10-08T14:01:00Z,1,1,abc,1,10,,\n"),
        )
        .expect("write");
        std::fs::write(
            dir.join("minute/UNSORTED.csv"),
            format!("{header}{good}{good}"),
        )
        .expect("write");
        std::fs::write(dir.join("daily/HDR.csv"), "date,open,high,low,close\n").expect("write");
        let p = FileBarProvider::new(&dir);
        let as_of = utc(2013, 10, 8, 15, 0, 0);

        let err = p.minute_bars("BAD", as_of, 5).expect_err("bad value");
        assert!(
            matches!(
                &err,
                BarError::Parse {
                    line: 3,
                    column: 4,
                    field: "low",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("BAD.csv:3:4 (low): \"abc\""),
            "{err}"
        );

        let err = p.minute_bars("UNSORTED", as_of, 5).expect_err("unsorted");
        assert!(
            matches!(
                &err,
                BarError::Parse {
                    line: 3,
                    column: 1,
                    ..
                }
            ),
            "{err:?}"
        );

        let err = p.daily_bars("HDR", as_of, 5).expect_err("short header");
        assert!(
            matches!(
                &err,
                BarError::Parse {
                    line: 1,
                    column: 6,
                    field: "volume",
                    ..
                }
            ),
            "{err:?}"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
