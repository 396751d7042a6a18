//! Decoding ClickHouse's `JSONEachRow` answers: numbers from the JSON text the server wrote
//! (never through `f64`), timestamps in either server generation's shape, 64-bit integers quoted
//! or bare, and a server exception in the body reported as unavailable.

use super::*;

pub(super) fn first_line(body: &str) -> String {
    let line = body.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(500).collect();
    if line.chars().count() > 500 {
        out.push('…');
    }
    if out.is_empty() {
        out.push_str("(empty body)");
    }
    out
}

/// One `JSONEachRow` line, values kept as the JSON text ClickHouse wrote.
pub(super) struct Row {
    table: &'static str,
    /// 1-based.
    index: usize,
    fields: HashMap<String, Box<RawValue>>,
}

/// A JSON value as written: `null`, a string (unescaped), or the text of a number.
pub(super) enum Scalar {
    Null,
    Text(String),
    Number(String),
}

pub(super) fn scalar(raw: &RawValue) -> Result<Scalar, String> {
    let text = raw.get();
    match text.as_bytes().first() {
        _ if text == "null" => Ok(Scalar::Null),
        Some(b'"') => serde_json::from_str::<String>(text)
            .map(Scalar::Text)
            .map_err(|e| e.to_string()),
        Some(b'-' | b'0'..=b'9') => Ok(Scalar::Number(text.to_owned())),
        _ => Err(format!("expected a scalar, got {text}")),
    }
}

impl Row {
    pub(super) fn error(&self, column: &'static str, reason: impl Into<String>) -> BarError {
        BarError::Row {
            table: self.table,
            row: self.index,
            column,
            reason: reason.into(),
        }
    }

    pub(super) fn optional<T>(
        &self,
        column: &'static str,
        parse: impl FnOnce(Scalar) -> Result<T, String>,
    ) -> Result<Option<T>, BarError> {
        let raw = self
            .fields
            .get(column)
            .ok_or_else(|| self.error(column, "missing from the answer"))?;
        match scalar(raw).map_err(|e| self.error(column, e))? {
            Scalar::Null => Ok(None),
            value => parse(value).map(Some).map_err(|e| self.error(column, e)),
        }
    }

    pub(super) fn required<T>(
        &self,
        column: &'static str,
        parse: impl FnOnce(Scalar) -> Result<T, String>,
    ) -> Result<T, BarError> {
        self.optional(column, parse)?
            .ok_or_else(|| self.error(column, "null where a value is required"))
    }
}

/// Splits a `JSONEachRow` answer. A line that is not JSON is usually an exception ClickHouse
/// appended after it had already answered 200 (e.g. a limit hit mid-stream): a server-side
/// failure, reported as unavailable with the server's own message.
pub(super) fn parse_rows(table: &'static str, body: &str) -> Result<Vec<Row>, BarError> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            if line.starts_with("Code: ") {
                return Err(BarError::Unavailable(format!(
                    "ClickHouse failed while answering: {}",
                    first_line(line)
                )));
            }
            serde_json::from_str::<HashMap<String, Box<RawValue>>>(line)
                .map(|fields| Row {
                    table,
                    index: i + 1,
                    fields,
                })
                .map_err(|e| BarError::Row {
                    table,
                    row: i + 1,
                    column: "(row)",
                    reason: format!("not a JSON object: {e}: {}", first_line(line)),
                })
        })
        .collect()
}

pub(super) fn text(value: Scalar) -> Result<String, String> {
    match value {
        Scalar::Text(s) => Ok(s),
        Scalar::Number(n) => Err(format!("expected a string, got {n}")),
        Scalar::Null => Err("expected a string, got null".to_owned()),
    }
}

/// A decimal from a number or a quoted number (ClickHouse quotes 64-bit integers by default and
/// may print `1e+20`); `nan`/`inf` are refused.
pub(super) fn decimal(value: Scalar) -> Result<Decimal, String> {
    let raw = match value {
        Scalar::Number(n) | Scalar::Text(n) => n,
        Scalar::Null => return Err("expected a number, got null".to_owned()),
    };
    Decimal::from_str(&raw)
        .or_else(|_| Decimal::from_scientific(&raw))
        .map_err(|e| format!("expected a decimal number, got {raw:?}: {e}"))
}

pub(super) fn unsigned(value: Scalar) -> Result<u64, String> {
    let raw = match value {
        Scalar::Number(n) | Scalar::Text(n) => n,
        Scalar::Null => return Err("expected an unsigned integer, got null".to_owned()),
    };
    raw.parse::<u64>()
        .map_err(|e| format!("expected an unsigned integer, got {raw:?}: {e}"))
}

/// `v` is a `Float64` sum of shares; equity volumes are whole, and a fractional remainder
/// (fractional-share prints) is rounded to the nearest share because [`MinuteBar::volume`] is
/// a count.
pub(super) fn volume(value: Scalar) -> Result<u64, String> {
    let d = decimal(value)?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(format!("expected a non-negative volume, got {d}"));
    }
    u64::try_from(d.round()).map_err(|e| format!("volume {d} does not fit a u64: {e}"))
}

/// `DateTime` prints `2013-10-08 14:30:00`, `DateTime64(3)` prints `2013-10-08 14:30:00.000`;
/// both in UTC because every query converts with `toTimeZone(…, 'UTC')`.
pub(super) fn timestamp(value: Scalar) -> Result<DateTime<Utc>, String> {
    let Scalar::Text(raw) = value else {
        return Err("expected a timestamp string".to_owned());
    };
    parse_timestamp(&raw)
}

pub(super) fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, String> {
    let (seconds, fraction) = match raw.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (raw, None),
    };
    let base = NaiveDateTime::parse_from_str(seconds, "%Y-%m-%d %H:%M:%S")
        .map_err(|e| format!("expected \"YYYY-MM-DD hh:mm:ss[.fff]\", got {raw:?}: {e}"))?;
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            let padded = format!("{f:0<9}");
            padded
                .parse::<u32>()
                .map_err(|e| format!("fraction of {raw:?}: {e}"))?
        }
        Some(_) => {
            return Err(format!(
                "expected \"YYYY-MM-DD hh:mm:ss[.fff]\", got {raw:?}"
            ));
        }
    };
    Ok(base.and_utc() + chrono::Duration::nanoseconds(i64::from(nanos)))
}

pub(super) fn date(value: Scalar) -> Result<NaiveDate, String> {
    let Scalar::Text(raw) = value else {
        return Err("expected a date string".to_owned());
    };
    NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
        .map_err(|e| format!("expected \"YYYY-MM-DD\", got {raw:?}: {e}"))
}

impl TaSignal {
    pub(super) fn from_row(r: &Row) -> Result<Self, BarError> {
        Ok(Self {
            symbol: r.required("symbol", text)?,
            event_ts: r.required("event_ts", timestamp)?,
            seq: r.required("seq", unsigned)?,
            ingest_ts: r.required("ingest_ts", timestamp)?,
            is_final: r.required("is_final", unsigned)? != 0,
            source: r.required("source", text)?,
            window_size: r.required("window_size", text)?,
            window_step: r.optional("window_step", text)?,
            window_start: r.optional("window_start", timestamp)?,
            window_end: r.optional("window_end", timestamp)?,
            version: r.required("version", |v| {
                unsigned(v).and_then(|n| u32::try_from(n).map_err(|e| e.to_string()))
            })?,
            macd: r.optional("macd", decimal)?,
            macd_signal: r.optional("macd_signal", decimal)?,
            macd_hist: r.optional("macd_hist", decimal)?,
            ema12: r.optional("ema12", decimal)?,
            ema26: r.optional("ema26", decimal)?,
            rsi14: r.optional("rsi14", decimal)?,
            boll_mid: r.optional("boll_mid", decimal)?,
            boll_upper: r.optional("boll_upper", decimal)?,
            boll_lower: r.optional("boll_lower", decimal)?,
            vwap_session: r.optional("vwap_session", decimal)?,
            vwap_w5m: r.optional("vwap_w5m", decimal)?,
            imbalance_spread: r.optional("imbalance_spread", decimal)?,
            imbalance_bid_px: r.optional("imbalance_bid_px", decimal)?,
            imbalance_ask_px: r.optional("imbalance_ask_px", decimal)?,
            imbalance_bid_sz: r.optional("imbalance_bid_sz", unsigned)?,
            imbalance_ask_sz: r.optional("imbalance_ask_sz", unsigned)?,
            vol_realized_w60s: r.optional("vol_realized_w60s", decimal)?,
            microstructure_signal_v1: r.optional("microstructure_signal_v1", text)?,
        })
    }
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

    fn row(line: &str) -> Row {
        let mut rows = parse_rows(SIGNALS, line).expect("one row");
        assert_eq!(rows.len(), 1);
        rows.remove(0)
    }

    #[test]
    fn both_timestamp_shapes_parse_to_the_same_instant() {
        let want = utc(2013, 10, 8, 14, 30, 0);
        for raw in [
            "2013-10-08 14:30:00",
            "2013-10-08 14:30:00.000",
            "2013-10-08 14:30:00.000000",
        ] {
            assert_eq!(parse_timestamp(raw), Ok(want), "{raw}");
        }
        assert_eq!(
            parse_timestamp("2013-10-08 14:30:00.250"),
            Ok(want + chrono::Duration::milliseconds(250))
        );
        assert_eq!(
            parse_timestamp("2013-10-08 14:30:00.5"),
            Ok(want + chrono::Duration::milliseconds(500))
        );
        for bad in [
            "2013-10-08T14:30:00Z",
            "2013-10-08 14:30",
            "2013-10-08 14:30:00.",
            "2013-10-08 14:30:00.12a",
            "0000-00-00 00:00:00",
            "1381242600",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sixty_four_bit_integers_parse_quoted_and_bare() {
        for line in [
            r#"{"seq":"18446744073709551615","imbalance_bid_sz":"7"}"#,
            r#"{"seq":18446744073709551615,"imbalance_bid_sz":7}"#,
        ] {
            let r = row(line);
            assert_eq!(r.required("seq", unsigned).expect("seq"), u64::MAX);
            assert_eq!(
                r.optional("imbalance_bid_sz", unsigned).expect("size"),
                Some(7)
            );
        }
        let r = row(r#"{"seq":-1,"other":"1.5"}"#);
        let err = r.required("seq", unsigned).expect_err("negative");
        assert!(
            err.to_string()
                .starts_with("ta_signals row 1, column `seq`:"),
            "{err}"
        );
        assert!(r.required("other", unsigned).is_err());
    }

    #[test]
    fn decimals_are_read_from_the_text_clickhouse_wrote() {
        let r = row(
            r#"{"a":167.49,"b":"167.49","c":100000000000000000000,"d":1e+20,"e":"1e-05","f":0.1,"g":-0.30000000000000004}"#,
        );
        let d = |c| r.required(c, decimal).expect(c);
        assert_eq!(d("a"), dec!(167.49));
        assert_eq!(d("a").to_string(), "167.49");
        assert_eq!(d("b"), dec!(167.49));
        assert_eq!(d("c"), dec!(100000000000000000000));
        assert_eq!(d("d"), dec!(100000000000000000000));
        assert_eq!(d("e"), dec!(0.00001));
        assert_eq!(d("f"), dec!(0.1));
        // The stored double is kept exactly as printed, not "cleaned up".
        assert_eq!(d("g"), dec!(-0.30000000000000004));
        let r = row(r#"{"nan":"nan","inf":"inf","word":"abc","obj":{"x":1}}"#);
        for c in ["nan", "inf", "word", "obj"] {
            let err = r.required(c, decimal).expect_err(c);
            assert!(err.to_string().contains(&format!("column `{c}`")), "{err}");
        }
    }

    #[test]
    fn nulls_are_none_where_optional_and_errors_where_required() {
        let r = row(r#"{"vwap":null,"o":null,"window_start":null,"window_step":null}"#);
        assert_eq!(r.optional("vwap", decimal).expect("vwap"), None);
        assert_eq!(r.optional("window_start", timestamp).expect("ws"), None);
        assert_eq!(r.optional("window_step", text).expect("step"), None);
        let err = r.required("o", decimal).expect_err("o is required");
        assert_eq!(
            err.to_string(),
            "ta_signals row 1, column `o`: null where a value is required"
        );
        let err = r.required("c", decimal).expect_err("c is absent");
        assert_eq!(
            err.to_string(),
            "ta_signals row 1, column `c`: missing from the answer"
        );
    }

    #[test]
    fn volume_is_a_whole_non_negative_count() {
        let r = row(r#"{"a":376459,"b":"2.5","c":-1,"d":1e+30,"e":0}"#);
        assert_eq!(r.required("a", volume).expect("a"), 376_459);
        // Round half to even, the Decimal default.
        assert_eq!(r.required("b", volume).expect("b"), 2);
        assert!(r.required("c", volume).is_err());
        assert!(r.required("d", volume).is_err());
        assert_eq!(r.required("e", volume).expect("e"), 0);
    }

    #[test]
    fn bad_lines_name_the_row_and_server_exceptions_are_unavailable() {
        let body = "{\"a\":1}\nnot json\n";
        match parse_rows(MICROBARS, body) {
            Err(BarError::Row {
                table: "ta_microbars",
                row: 2,
                column: "(row)",
                ..
            }) => {}
            other => panic!("{:?}", other.map(|r| r.len())),
        }
        let body = "{\"a\":1}\nCode: 241, e.displayText() = DB::Exception: Memory limit exceeded\n";
        match parse_rows(MICROBARS, body) {
            Err(BarError::Unavailable(m)) => assert!(m.contains("Memory limit"), "{m}"),
            other => panic!("{:?}", other.map(|r| r.len())),
        }
        assert!(
            parse_rows(MICROBARS, "\n\n")
                .expect("empty answer")
                .is_empty()
        );
    }

    /// What 18.16 answers for `SELECT … FROM ta_signals` with `DateTime` columns, and what
    /// current ClickHouse answers for the production `DateTime64(3, 'UTC')` schema.
    #[test]
    fn a_signal_row_parses_from_either_server_generation() {
        let old = r#"{"symbol":"IBM","event_ts":"2013-10-08 14:30:00","seq":"42","ingest_ts":"2013-10-08 14:30:01","is_final":1,"source":"ta","window_size":"PT1S","window_step":"PT1S","window_start":"2013-10-08 14:29:59","window_end":"2013-10-08 14:30:00","version":2,"macd":0.0123,"macd_signal":-0.5,"macd_hist":null,"ema12":180.47,"ema26":180.4,"rsi14":55.5,"boll_mid":null,"boll_upper":null,"boll_lower":null,"vwap_session":180.1,"vwap_w5m":null,"imbalance_spread":0.01,"imbalance_bid_px":180.46,"imbalance_ask_px":180.47,"imbalance_bid_sz":"300","imbalance_ask_sz":"100","vol_realized_w60s":null,"microstructure_signal_v1":null}"#;
        let new = old
            .replace(":00\"", ":00.000\"")
            .replace(":01\"", ":01.000\"")
            .replace(":59\"", ":59.000\"")
            .replace("\"seq\":\"42\"", "\"seq\":42")
            .replace("\"300\"", "300")
            .replace("\"100\"", "100");
        assert_ne!(old, new);
        let a = TaSignal::from_row(&row(old)).expect("18.16 row");
        let b = TaSignal::from_row(&row(&new)).expect("current row");
        assert_eq!(a, b);
        assert_eq!(a.event_ts, utc(2013, 10, 8, 14, 30, 0));
        assert_eq!(a.window_start, Some(utc(2013, 10, 8, 14, 29, 59)));
        assert_eq!(a.seq, 42);
        assert!(a.is_final);
        assert_eq!(a.version, 2);
        assert_eq!(a.macd, Some(dec!(0.0123)));
        assert_eq!(a.macd_hist, None);
        assert_eq!(a.imbalance_bid_px, Some(dec!(180.46)));
        assert_eq!(a.imbalance_bid_sz, Some(300));
        assert_eq!(a.microstructure_signal_v1, None);

        let broken = old.replace("\"rsi14\":55.5", "\"rsi14\":\"high\"");
        let err = TaSignal::from_row(&row(&broken)).expect_err("rsi14 is not a number");
        assert!(
            err.to_string()
                .starts_with("ta_signals row 1, column `rsi14`: expected a decimal number"),
            "{err}"
        );
        let broken = old.replace("\"version\":2", "\"version\":4294967296");
        let err = TaSignal::from_row(&row(&broken)).expect_err("version is a UInt32");
        assert!(err.to_string().contains("column `version`"), "{err}");
    }
}
