//! A throwaway ClickHouse server for the ClickHouse provider's tests, and the embedded market
//! data loaded into it in Torghut's table shapes.
//!
//! The server is Debian's `clickhouse-server` (18.16), started from a generated config in a
//! temp dir: HTTP and native TCP on free loopback ports, no interserver port, logs next to the
//! data, and a server time zone that is deliberately *not* UTC so that nothing can pass by
//! accident of the zone. Like the Temporal stack, it runs under a watchdog shell that kills it
//! (and removes the dir) once the test process is gone; [`ClickHouseServer::stop`] and `Drop`
//! stop it earlier.
//!
//! 18.16 has no `DateTime64`, no TTL and needs a setting for `LowCardinality`, so the tables
//! are production's columns with `DateTime` timestamps, `ReplacingMergeTree(ingest_ts)` ordered
//! by `(symbol, event_ts, seq)`. Timestamps are declared `'UTC'` as in production, or left
//! without a zone (as a hand-made fallback table might be), which on this server means Tokyo
//! time; rows are written as unix seconds, which mean the same instant either way.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration as TimeDelta, NaiveDate, Utc};
use chrono_tz::America::New_York;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use torghut_activities::indicators;
use torghut_activities::providers::bars::{BarProvider, MinuteBar};
use torghut_activities::providers::clickhouse::ClickHouseConfig;
use torghut_activities::providers::files::bars::{FileBarProvider, embedded_dir};
use torghut_activities::secret::Secret;

pub const BINARY: &str = "/usr/sbin/clickhouse-server";
/// The provider reads as this user, through `X-ClickHouse-User`/`X-ClickHouse-Key`; the
/// harness itself writes as `default`, which has no password.
pub const READER: &str = "reader";
/// With a space, which a header carries fine and a careless URL encoding would not.
pub const READER_PASSWORD: &str = "torghut test reader";
/// Not UTC, and far from New York, so a query that leans on the server's zone is visibly wrong.
const SERVER_TIME_ZONE: &str = "Asia/Tokyo";

pub struct ClickHouseServer {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    dir: PathBuf,
    watchdog: Mutex<Option<Child>>,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn ping(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /ping HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200") && buf.ends_with("Ok.\n")
}

fn config_xml(dir: &Path, http_port: u16, tcp_port: u16) -> String {
    let d = dir.display();
    format!(
        r#"<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>{d}/server.log</log>
        <errorlog>{d}/server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <path>{d}/data/</path>
    <tmp_path>{d}/tmp/</tmp_path>
    <user_files_path>{d}/user_files/</user_files_path>
    <format_schema_path>{d}/format_schemas/</format_schema_path>
    <users_config>{d}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>{SERVER_TIME_ZONE}</timezone>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_concurrent_queries>20</max_concurrent_queries>
</yandex>
"#
    )
}

fn users_xml() -> String {
    let user = |name: &str, password: &str| {
        format!(
            "<{name}><password>{password}</password><networks><ip>127.0.0.1</ip></networks>\
             <profile>default</profile><quota>default</quota></{name}>"
        )
    };
    format!(
        r#"<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users>{}{}</users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
"#,
        user("default", ""),
        user(READER, READER_PASSWORD),
    )
}

impl ClickHouseServer {
    /// Starts a server and waits for `GET /ping` to answer `Ok.`. Fails, never skips, when the
    /// binary is missing: a test that silently does nothing would pass on every machine.
    pub fn start() -> Result<Self> {
        if !Path::new(BINARY).exists() {
            bail!(
                "{BINARY} not found: the ClickHouse provider is tested against a real server; \
                 run scripts/install-deps.sh (it installs Debian's clickhouse-server)"
            );
        }
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("torghut-ch-{}-{n}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let http_port = free_port()?;
        let tcp_port = free_port()?;
        std::fs::write(
            dir.join("config.xml"),
            config_xml(&dir, http_port, tcp_port),
        )?;
        std::fs::write(dir.join("users.xml"), users_xml())?;

        // The watchdog records the server's pid (for `stop`), kills the server once this test
        // process is gone, and removes the temp dir after the server has exited.
        let watchdog = r#"parent=$1; dir=$2; shift 2
"$@" & child=$!
echo "$child" > "$dir/server.pid"
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill "$child" 2>/dev/null
for _ in $(seq 1 60); do kill -0 "$child" 2>/dev/null || break; sleep 0.25; done
kill -9 "$child" 2>/dev/null; wait
rm -rf "$dir""#;
        let log = std::fs::File::create(dir.join("stdout.log"))?;
        let child = Command::new("bash")
            .arg("-c")
            .arg(watchdog)
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(&dir)
            .arg(BINARY)
            .arg(format!(
                "--config-file={}",
                dir.join("config.xml").display()
            ))
            .current_dir(&dir)
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .context("spawning clickhouse-server")?;
        let server = Self {
            url: format!("http://127.0.0.1:{http_port}"),
            dir,
            watchdog: Mutex::new(Some(child)),
        };
        let addr = format!("127.0.0.1:{http_port}");
        let started = Instant::now();
        while !ping(&addr) {
            if !server.running() {
                bail!(
                    "clickhouse-server exited during startup:\n{}",
                    server.log_tail()
                );
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "clickhouse-server did not answer /ping within 60 s:\n{}",
                    server.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    fn running(&self) -> bool {
        match self.watchdog.lock() {
            Ok(mut w) => match w.as_mut() {
                Some(child) => matches!(child.try_wait(), Ok(None)),
                None => false,
            },
            Err(_) => false,
        }
    }

    fn log_tail(&self) -> String {
        ["stdout.log", "server.err.log"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                format!(
                    "--- {f}\n{}",
                    lines[lines.len().saturating_sub(20)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Stops the server (SIGTERM, then SIGKILL after 15 s) and waits for the watchdog to clean
    /// up. Idempotent.
    pub fn stop(&self) -> Result<()> {
        let Some(mut watchdog) = self
            .watchdog
            .lock()
            .map_err(|_| anyhow::anyhow!("watchdog lock poisoned"))?
            .take()
        else {
            return Ok(());
        };
        let pid = std::fs::read_to_string(self.dir.join("server.pid")).unwrap_or_default();
        let pid = pid.trim();
        if !pid.is_empty() {
            let _ = Command::new("kill").args(["-TERM", pid]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if watchdog.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !pid.is_empty() {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
        watchdog.wait()?;
        Ok(())
    }

    /// Runs one statement as `default` (the harness's own writes), failing on any non-200.
    pub async fn execute(&self, sql: &str) -> Result<String> {
        // A client per call: tests run on separate runtimes, and a pooled connection must not
        // outlive the runtime that opened it.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let response = client
            .post(format!(
                "{}/?allow_experimental_low_cardinality_type=1",
                self.url
            ))
            .body(sql.to_owned())
            .send()
            .await
            .with_context(|| format!("POST to {}", self.url))?;
        let status = response.status();
        let body = response.text().await?;
        if !status.is_success() {
            bail!("ClickHouse answered {status} to {sql:.200}: {body}");
        }
        Ok(body)
    }

    /// `INSERT INTO <table> FORMAT JSONEachRow`, one JSON object per row.
    pub async fn insert(&self, table: &str, rows: &[Value]) -> Result<()> {
        let mut sql = format!("INSERT INTO {table} FORMAT JSONEachRow\n");
        for row in rows {
            sql.push_str(&row.to_string());
            sql.push('\n');
        }
        self.execute(&sql).await.map(|_| ())
    }

    /// How the provider is configured against this server: as [`READER`], over `database`.
    pub fn provider_config(&self, database: &str, window_size: &str) -> Result<ClickHouseConfig> {
        Ok(ClickHouseConfig {
            url: url::Url::parse(&self.url)?,
            database: database.to_owned(),
            user: READER.to_owned(),
            password: Some(Secret::new(READER_PASSWORD.to_owned())),
            window_size: window_size.to_owned(),
            timeout: Duration::from_secs(10),
        })
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// How the timestamp columns are declared.
#[derive(Debug, Clone, Copy)]
pub enum Timestamps {
    /// `DateTime('UTC')`, standing in for production's `DateTime64(3, 'UTC')`.
    Utc,
    /// `DateTime`, in the server's zone (not UTC here).
    ServerZone,
}

/// Production's columns (`ta-schema.sql` plus `microstructure_signal_v1`) in a shape 18.16
/// accepts: `DateTime` for `DateTime64(3, 'UTC')`, a plain ReplacingMergeTree for the
/// replicated one, no TTL.
pub async fn create_tables(
    server: &ClickHouseServer,
    database: &str,
    timestamps: Timestamps,
) -> Result<()> {
    server
        .execute(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
        .await?;
    let ts = match timestamps {
        Timestamps::Utc => "DateTime('UTC')",
        Timestamps::ServerZone => "DateTime",
    };
    let common = format!(
        "symbol LowCardinality(String), event_ts {ts}, seq UInt64, ingest_ts {ts}, \
         is_final UInt8, source LowCardinality(String), window_size LowCardinality(String), \
         window_step Nullable(String), window_start Nullable({ts}), window_end Nullable({ts}), \
         version UInt32"
    );
    let engine = "ENGINE = ReplacingMergeTree(ingest_ts) PARTITION BY toDate(event_ts) \
                  ORDER BY (symbol, event_ts, seq)";
    server
        .execute(&format!(
            "CREATE TABLE {database}.ta_microbars ({common}, o Float64, h Float64, l Float64, \
             c Float64, v Float64, vwap Nullable(Float64), count UInt64) {engine}"
        ))
        .await?;
    let nullable_floats = [
        "macd",
        "macd_signal",
        "macd_hist",
        "ema12",
        "ema26",
        "rsi14",
        "boll_mid",
        "boll_upper",
        "boll_lower",
        "vwap_session",
        "vwap_w5m",
        "imbalance_spread",
        "imbalance_bid_px",
        "imbalance_ask_px",
    ]
    .map(|c| format!("{c} Nullable(Float64)"))
    .join(", ");
    server
        .execute(&format!(
            "CREATE TABLE {database}.ta_signals ({common}, {nullable_floats}, \
             imbalance_bid_sz Nullable(UInt64), imbalance_ask_sz Nullable(UInt64), \
             vol_realized_w60s Nullable(Float64), microstructure_signal_v1 Nullable(String)) \
             {engine}"
        ))
        .await?;
    Ok(())
}

/// A timestamp for an insert: unix seconds, which ClickHouse reads into a `DateTime` column as
/// the same instant whatever the column's or the server's zone (text would be read in the
/// column's zone).
pub fn ch_time(t: DateTime<Utc>) -> Value {
    json!(t.timestamp())
}

/// A price as a JSON number: the decimal's text parsed to the nearest double, which serde
/// writes back as the same short text (`167.49`), so ClickHouse stores what the file says.
pub fn price(d: Decimal) -> Value {
    d.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn opt_price(d: Option<Decimal>) -> Value {
    d.map_or(Value::Null, price)
}

/// The shapes the seed writes, and the `window_size` each carries.
///
/// - `PT1M`: one microbar per minute stamped at its start (like Alpaca minute bars), and one
///   signal per minute with the minute's bid/ask, MACD and RSI.
/// - `PT1S`: each minute split into two one-second microbars stamped at their *end* (like
///   Torghut's TA job): second 0 carries open/high/low and half the volume, second 59 the close
///   and the rest, so only a correct aggregation gives the minute back. Two signals per minute:
///   at second 1 a decoy quote one cent wider, at second 60 (the close) the real one, so only
///   "last quote within the minute" gives the file's bid/ask.
pub const WINDOWS: [&str; 2] = ["PT1M", "PT1S"];

/// What [`seed`] wrote, for assertions.
pub struct Seeded {
    /// Per symbol, the file's minute bars that were loaded, oldest first.
    pub bars: Vec<(String, Vec<MinuteBar>)>,
    /// First instant of the first seeded New York day.
    pub from: DateTime<Utc>,
    pub microbar_rows: usize,
    pub signal_rows: usize,
}

impl Seeded {
    pub fn bars(&self, symbol: &str) -> &[MinuteBar] {
        self.bars
            .iter()
            .find(|(s, _)| s == symbol)
            .map_or(&[], |(_, b)| b.as_slice())
    }
}

/// Loads the embedded minute bars of `symbols` for the New York `days` into `database`, in both
/// [`WINDOWS`] shapes.
pub async fn seed(
    server: &ClickHouseServer,
    database: &str,
    symbols: &[&str],
    days: &[NaiveDate],
) -> Result<Seeded> {
    let file = FileBarProvider::new(embedded_dir());
    let end_of_data = DateTime::<Utc>::MAX_UTC;
    let mut seeded = Seeded {
        bars: Vec::new(),
        from: days
            .iter()
            .min()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|t| t.and_local_timezone(New_York).single())
            .map(|t| t.with_timezone(&Utc))
            .context("no days to seed")?,
        microbar_rows: 0,
        signal_rows: 0,
    };
    for symbol in symbols {
        let bars: Vec<MinuteBar> = file
            .minute_bars(symbol, end_of_data, usize::MAX)?
            .into_iter()
            .filter(|b| days.contains(&b.ts.with_timezone(&New_York).date_naive()))
            .collect();
        if bars.is_empty() {
            bail!("the embedded data has no {symbol} minute bars on {days:?}");
        }
        let (microbars, signals) = rows_for(symbol, &bars);
        seeded.microbar_rows += microbars.len();
        seeded.signal_rows += signals.len();
        server
            .insert(&format!("{database}.ta_microbars"), &microbars)
            .await?;
        server
            .insert(&format!("{database}.ta_signals"), &signals)
            .await?;
        seeded.bars.push(((*symbol).to_owned(), bars));
    }
    Ok(seeded)
}

/// Common envelope columns of one row.
fn envelope(
    symbol: &str,
    seq: u64,
    window: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    event_ts: DateTime<Utc>,
) -> serde_json::Map<String, Value> {
    let mut row = serde_json::Map::new();
    row.insert("symbol".into(), json!(symbol));
    row.insert("event_ts".into(), ch_time(event_ts));
    row.insert("seq".into(), json!(seq));
    row.insert("ingest_ts".into(), ch_time(end + TimeDelta::seconds(2)));
    row.insert("is_final".into(), json!(1));
    row.insert("source".into(), json!("ta"));
    row.insert("window_size".into(), json!(window));
    row.insert("window_step".into(), json!(window));
    row.insert("window_start".into(), ch_time(start));
    row.insert("window_end".into(), ch_time(end));
    row.insert("version".into(), json!(1));
    row
}

/// Indicator values rounded to 6 places, as a feed would round them; few enough digits that
/// the double ClickHouse parses is exactly the one serde printed.
fn indicator(d: Option<Decimal>) -> Value {
    opt_price(d.map(|v| v.round_dp(6)))
}

/// The `ta_microbars` and `ta_signals` rows for one symbol's bars, in both window shapes.
pub fn rows_for(symbol: &str, bars: &[MinuteBar]) -> (Vec<Value>, Vec<Value>) {
    let closes: Vec<Decimal> = bars.iter().map(|b| b.close).collect();
    let ema12 = indicators::ema(&closes, 12);
    let ema26 = indicators::ema(&closes, 26);
    let line: Vec<Decimal> = ema12.iter().zip(&ema26).map(|(f, s)| f - s).collect();
    let signal = indicators::ema(&line, 9);
    let mut microbars = Vec::new();
    let mut signals = Vec::new();
    let mut seq = 0u64;
    let mut next = || {
        seq += 1;
        seq
    };
    for (i, bar) in bars.iter().enumerate() {
        let m = bar.ts;
        let close_at = m + TimeDelta::seconds(60);
        // `indicators::macd` needs 35 closes; the same prefix rule here.
        let macd = (i >= 34).then(|| (line[i], signal[i], line[i] - signal[i]));
        let rsi = indicators::rsi(&closes[..=i], 14);

        // One-minute shape.
        let mut row = envelope(symbol, next(), "PT1M", m, close_at, m);
        for (k, v) in [
            ("o", bar.open),
            ("h", bar.high),
            ("l", bar.low),
            ("c", bar.close),
        ] {
            row.insert(k.into(), price(v));
        }
        row.insert("v".into(), json!(bar.volume));
        row.insert("vwap".into(), Value::Null);
        row.insert("count".into(), json!(1));
        microbars.push(Value::Object(row));

        let mut row = envelope(symbol, next(), "PT1M", m, close_at, m);
        signal_values(&mut row, bar.bid, bar.ask);
        row.insert("ema12".into(), indicator(Some(ema12[i])));
        row.insert("ema26".into(), indicator(Some(ema26[i])));
        row.insert("macd".into(), indicator(macd.map(|x| x.0)));
        row.insert("macd_signal".into(), indicator(macd.map(|x| x.1)));
        row.insert("macd_hist".into(), indicator(macd.map(|x| x.2)));
        row.insert("rsi14".into(), indicator(rsi));
        signals.push(Value::Object(row));

        // One-second shape: second 0 and second 59 of the minute, stamped at their ends.
        let first_half = bar.volume / 2;
        let s0 = (m, m + TimeDelta::seconds(1));
        let s59 = (m + TimeDelta::seconds(59), close_at);
        let mut row = envelope(symbol, next(), "PT1S", s0.0, s0.1, s0.1);
        for (k, v) in [
            ("o", bar.open),
            ("h", bar.high),
            ("l", bar.low),
            ("c", bar.open),
        ] {
            row.insert(k.into(), price(v));
        }
        row.insert("v".into(), json!(first_half));
        row.insert("vwap".into(), Value::Null);
        row.insert("count".into(), json!(1));
        microbars.push(Value::Object(row));
        let mut row = envelope(symbol, next(), "PT1S", s59.0, s59.1, s59.1);
        for k in ["o", "h", "l", "c"] {
            row.insert(k.into(), price(bar.close));
        }
        row.insert("v".into(), json!(bar.volume - first_half));
        row.insert("vwap".into(), Value::Null);
        row.insert("count".into(), json!(1));
        microbars.push(Value::Object(row));

        let cent = Decimal::new(1, 2);
        let mut row = envelope(symbol, next(), "PT1S", s0.0, s0.1, s0.1);
        signal_values(
            &mut row,
            bar.bid.map(|b| b - cent),
            bar.ask.map(|a| a + cent),
        );
        signals.push(Value::Object(row));
        let mut row = envelope(symbol, next(), "PT1S", s59.0, s59.1, s59.1);
        signal_values(&mut row, bar.bid, bar.ask);
        row.insert("rsi14".into(), indicator(rsi));
        signals.push(Value::Object(row));
    }
    (microbars, signals)
}

/// Quote columns from a bid/ask (NULL when the minute had no quote), every other value NULL.
fn signal_values(
    row: &mut serde_json::Map<String, Value>,
    bid: Option<Decimal>,
    ask: Option<Decimal>,
) {
    for c in [
        "macd",
        "macd_signal",
        "macd_hist",
        "ema12",
        "ema26",
        "rsi14",
        "boll_mid",
        "boll_upper",
        "boll_lower",
        "vwap_session",
        "vwap_w5m",
        "vol_realized_w60s",
        "microstructure_signal_v1",
    ] {
        row.insert(c.into(), Value::Null);
    }
    row.insert("imbalance_bid_px".into(), opt_price(bid));
    row.insert("imbalance_ask_px".into(), opt_price(ask));
    let spread = bid.zip(ask).map(|(b, a)| a - b);
    row.insert("imbalance_spread".into(), opt_price(spread));
    let quoted = bid.is_some() && ask.is_some();
    row.insert(
        "imbalance_bid_sz".into(),
        if quoted { json!(300) } else { Value::Null },
    );
    row.insert(
        "imbalance_ask_sz".into(),
        if quoted { json!(100) } else { Value::Null },
    );
}
