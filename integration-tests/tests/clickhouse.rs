//! The ClickHouse bar provider against a real ClickHouse server (Debian's 18.16), loaded with
//! the embedded market data in Torghut's table shapes: it must give the file provider's bars,
//! honour the as-of clock, prefer newer versions of a row, feed the technicals skill the same
//! way, and turn a dead or hung server into a retryable "unavailable", never a panic or a hang.
//!
//! Needs `/usr/sbin/clickhouse-server` (scripts/install-deps.sh); without it every test fails.

use chrono::{DateTime, Duration as TimeDelta, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::America::New_York;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use torghut_activities::providers::bars::{BarError, BarProvider, DailyBar, MinuteBar};
use torghut_activities::providers::clickhouse::{ClickHouseBarProvider, TaSignal};
use torghut_activities::providers::files::bars::{FileBarProvider, embedded_dir};
use torghut_activities::skill::SkillError;
use torghut_activities::skills::technicals::technicals_regime;
use torghut_integration_tests::clickhouse::{
    ClickHouseServer, Seeded, Timestamps, WINDOWS, ch_time, create_tables, price, seed,
};

/// Timestamps declared `DateTime('UTC')`, as production declares `DateTime64(3, 'UTC')`.
const DATABASE: &str = "torghut";
/// The same data with zone-less `DateTime` columns on a server whose zone is Tokyo: the
/// provider must not care.
const ZONELESS: &str = "torghut_zoneless";
const DATABASES: [&str; 2] = [DATABASE, ZONELESS];
const SYMBOLS: [&str; 2] = ["IBM", "SPY"];

fn days() -> Vec<NaiveDate> {
    ["2013-10-07", "2013-10-08"]
        .iter()
        .map(|d| d.parse().expect("date"))
        .collect()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid time")
}

struct Shared {
    server: ClickHouseServer,
    seeded: Seeded,
}

static SHARED: OnceCell<Shared> = OnceCell::const_new();

/// One server per test binary, seeded with two sessions of IBM and SPY in [`DATABASES`]; the
/// tests below only read them (the version test writes to a database of its own).
async fn shared() -> &'static Shared {
    SHARED
        .get_or_init(|| async {
            let started = async {
                let server = ClickHouseServer::start()?;
                create_tables(&server, DATABASE, Timestamps::Utc).await?;
                create_tables(&server, ZONELESS, Timestamps::ServerZone).await?;
                let seeded = seed(&server, DATABASE, &SYMBOLS, &days()).await?;
                seed(&server, ZONELESS, &SYMBOLS, &days()).await?;
                anyhow::Ok(Shared { server, seeded })
            };
            match started.await {
                Ok(shared) => shared,
                Err(e) => panic!("could not start the test ClickHouse: {e:#}"),
            }
        })
        .await
}

fn provider(server: &ClickHouseServer, database: &str, window: &str) -> Arc<ClickHouseBarProvider> {
    let config = server
        .provider_config(database, window)
        .expect("provider config");
    Arc::new(ClickHouseBarProvider::new(config).expect("provider"))
}

/// Providers are called the way the worker calls them: on tokio's blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

async fn minute_bars(
    p: &Arc<ClickHouseBarProvider>,
    symbol: &'static str,
    as_of: DateTime<Utc>,
    lookback: usize,
) -> Result<Vec<MinuteBar>, BarError> {
    let p = p.clone();
    blocking(move || p.minute_bars(symbol, as_of, lookback)).await
}

async fn daily_bars(
    p: &Arc<ClickHouseBarProvider>,
    symbol: &'static str,
    as_of: DateTime<Utc>,
    lookback: usize,
) -> Result<Vec<DailyBar>, BarError> {
    let p = p.clone();
    blocking(move || p.daily_bars(symbol, as_of, lookback)).await
}

async fn latest_signal(
    p: &Arc<ClickHouseBarProvider>,
    symbol: &'static str,
    as_of: DateTime<Utc>,
) -> Result<Option<TaSignal>, BarError> {
    let p = p.clone();
    blocking(move || p.latest_signal(symbol, as_of)).await
}

/// What the file provider says for the same question, restricted to what was seeded.
fn expected_minutes(
    seeded: &Seeded,
    symbol: &str,
    as_of: DateTime<Utc>,
    lookback: usize,
) -> Vec<MinuteBar> {
    let file = FileBarProvider::new(embedded_dir());
    let visible: Vec<MinuteBar> = file
        .minute_bars(symbol, as_of, usize::MAX)
        .expect("file bars")
        .into_iter()
        .filter(|b| b.ts >= seeded.from)
        .collect();
    visible[visible.len().saturating_sub(lookback)..].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minute_bars_match_the_file_provider_in_both_window_shapes() {
    let shared = shared().await;
    let cases = [
        // 390 bars back from 10:00 New York reach into the previous session.
        (utc(2013, 10, 8, 14, 0, 0), 390),
        (utc(2013, 10, 8, 19, 59, 30), 60),
        (utc(2013, 10, 7, 13, 31, 0), 5),
        (utc(2013, 10, 8, 12, 0, 0), 7),
        // Everything seeded, including pre- and after-hours minutes without quotes.
        (utc(2013, 10, 9, 4, 0, 0), 100_000),
    ];
    let mut compared = 0;
    let mut unquoted = 0;
    for (database, window) in DATABASES.iter().flat_map(|d| WINDOWS.map(|w| (*d, w))) {
        let p = provider(&shared.server, database, window);
        for symbol in SYMBOLS {
            for (as_of, lookback) in cases {
                let want = expected_minutes(&shared.seeded, symbol, as_of, lookback);
                assert!(!want.is_empty(), "{symbol} at {as_of}: no file bars");
                let got = minute_bars(&p, symbol, as_of, lookback)
                    .await
                    .unwrap_or_else(|e| panic!("{database} {window} {symbol} {as_of}: {e}"));
                assert_eq!(
                    got, want,
                    "{database} {window} {symbol} as_of {as_of} lookback {lookback}"
                );
                compared += got.len();
                unquoted += got.iter().filter(|b| b.bid.is_none()).count();
            }
        }
    }
    // The comparison covered real ground: the day boundary, and minutes with and without quotes.
    let crossing = expected_minutes(&shared.seeded, "IBM", utc(2013, 10, 8, 14, 0, 0), 390);
    assert_ne!(
        crossing.first().map(|b| b.ts.date_naive()),
        crossing.last().map(|b| b.ts.date_naive())
    );
    assert!(compared > 4_000, "{compared}");
    assert!(unquoted > 0, "no minute without a quote was compared");
    let seeded_rows = shared.seeded.microbar_rows;
    let seeded_bars: usize = SYMBOLS.iter().map(|s| shared.seeded.bars(s).len()).sum();
    assert_eq!(
        seeded_rows,
        3 * seeded_bars,
        "one PT1M and two PT1S rows per bar"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_as_of_clock_hides_bars_that_had_not_closed() {
    let shared = shared().await;
    for (database, window) in DATABASES.iter().flat_map(|d| WINDOWS.map(|w| (*d, w))) {
        let p = provider(&shared.server, database, window);
        let last = |bars: &[MinuteBar]| bars.last().map(|b| b.ts);
        // The 14:00 bar closes at 14:01:00; one second earlier it must not be there.
        let before = minute_bars(&p, "SPY", utc(2013, 10, 8, 14, 0, 59), 3)
            .await
            .expect("bars");
        assert_eq!(
            last(&before),
            Some(utc(2013, 10, 8, 13, 59, 0)),
            "{database} {window}"
        );
        let at = minute_bars(&p, "SPY", utc(2013, 10, 8, 14, 1, 0), 3)
            .await
            .expect("bars");
        assert_eq!(
            last(&at),
            Some(utc(2013, 10, 8, 14, 0, 0)),
            "{database} {window}"
        );
        assert_eq!(&at[..2], &before[1..], "{database} {window}");
        // Mid-minute: the 14:00 minute's first second has closed (the PT1S table holds it), but
        // the minute has not, so it is not aggregated from what is there so far.
        let mid = utc(2013, 10, 8, 14, 0, 30);
        let bars = minute_bars(&p, "SPY", mid, 390).await.expect("bars");
        assert_eq!(
            last(&bars),
            Some(utc(2013, 10, 8, 13, 59, 0)),
            "{database} {window}"
        );
        assert!(bars.iter().all(|b| b.end() <= mid), "{database} {window}");
        assert!(
            bars.windows(2).all(|w| w[0].ts < w[1].ts),
            "{database} {window}"
        );
    }
}

/// Regular-session aggregates of the file's minute bars, computed here independently.
fn expected_daily(seeded: &Seeded, symbol: &str) -> Vec<DailyBar> {
    let open = NaiveTime::from_hms_opt(9, 30, 0).expect("time");
    let close = NaiveTime::from_hms_opt(16, 0, 0).expect("time");
    let mut days: BTreeMap<NaiveDate, Vec<&MinuteBar>> = BTreeMap::new();
    for bar in seeded.bars(symbol) {
        let local = bar.ts.with_timezone(&New_York);
        if local.time() >= open && local.time() < close {
            days.entry(local.date_naive()).or_default().push(bar);
        }
    }
    days.into_iter()
        .map(|(date, bars)| DailyBar {
            date,
            open: bars[0].open,
            high: bars.iter().map(|b| b.high).max().expect("bars"),
            low: bars.iter().map(|b| b.low).min().expect("bars"),
            close: bars[bars.len() - 1].close,
            volume: bars.iter().map(|b| b.volume).sum(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_bars_are_regular_session_aggregates_visible_after_the_new_york_close() {
    let shared = shared().await;
    for (database, window) in DATABASES.iter().flat_map(|d| WINDOWS.map(|w| (*d, w))) {
        let p = provider(&shared.server, database, window);
        for symbol in SYMBOLS {
            let want = expected_daily(&shared.seeded, symbol);
            assert_eq!(want.len(), 2, "{symbol}");
            let all = daily_bars(&p, symbol, utc(2013, 10, 9, 12, 0, 0), 10)
                .await
                .expect("daily");
            assert_eq!(all, want, "{database} {window} {symbol}");
            // 2013-10-08 is daylight time: the close is 20:00 UTC.
            let before = daily_bars(&p, symbol, utc(2013, 10, 8, 19, 59, 59), 10)
                .await
                .expect("daily");
            assert_eq!(before, want[..1], "{database} {window} {symbol}");
            let at = daily_bars(&p, symbol, utc(2013, 10, 8, 20, 0, 0), 1)
                .await
                .expect("daily");
            assert_eq!(at, want[1..], "{database} {window} {symbol}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn technicals_regime_gives_the_same_payload_over_both_providers() {
    let shared = shared().await;
    let file = FileBarProvider::new(embedded_dir());
    let features: BTreeMap<String, Decimal> = [
        ("rsi14".to_owned(), Decimal::new(50, 0)),
        ("macd".to_owned(), Decimal::new(1, 2)),
        ("macd_signal".to_owned(), Decimal::ZERO),
    ]
    .into_iter()
    .collect();
    let mut quoted = 0;
    for window in WINDOWS {
        let p = provider(&shared.server, DATABASE, window);
        for (symbol, as_of) in [
            ("IBM", utc(2013, 10, 8, 16, 0, 0)),
            ("SPY", utc(2013, 10, 8, 16, 0, 0)),
            ("SPY", utc(2013, 10, 8, 19, 30, 0)),
            ("IBM", utc(2013, 10, 8, 19, 45, 30)),
        ] {
            // The skill reads 390 minutes; all of them must be seeded for the comparison to mean
            // anything.
            let read = file.minute_bars(symbol, as_of, 390).expect("file bars");
            assert!(
                read.first().is_some_and(|b| b.ts >= shared.seeded.from),
                "{symbol} {as_of}: the skill would read bars before the seeded days"
            );
            let want = technicals_regime(&file, symbol, as_of, &features).expect("file skill");
            let ch = p.clone();
            let f = features.clone();
            let got = blocking(move || technicals_regime(ch.as_ref(), symbol, as_of, &f))
                .await
                .unwrap_or_else(|e| panic!("{window} {symbol} {as_of}: {e}"));
            assert_eq!(got, want, "{window} {symbol} {as_of}");
            assert_eq!(got.status, "ok", "{window} {symbol} {as_of}: {got:?}");
            quoted += usize::from(got.payload.contains_key("spread_bps"));
        }
    }
    assert!(quoted > 0, "no comparison exercised the bid/ask path");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_signal_is_the_newest_row_visible_at_as_of() {
    let shared = shared().await;
    let bars = shared.seeded.bars("SPY");
    // A quoted minute well into the data, so MACD and RSI exist.
    let (i, bar) = bars
        .iter()
        .enumerate()
        .skip(100)
        .find(|(_, b)| b.bid.is_some() && b.ask.is_some())
        .expect("a quoted SPY minute");
    let close_at = bar.ts + TimeDelta::seconds(60);
    let closes: Vec<Decimal> = bars[..=i].iter().map(|b| b.close).collect();
    let rsi = torghut_activities::indicators::rsi(&closes, 14).map(|r| r.round_dp(6));

    // One-second signals: the one stamped at the close is visible exactly at the close...
    let p = provider(&shared.server, DATABASE, "PT1S");
    let s = latest_signal(&p, "SPY", close_at)
        .await
        .expect("query")
        .expect("a signal");
    assert_eq!(s.event_ts, close_at);
    assert_eq!(s.window_start, Some(close_at - TimeDelta::seconds(1)));
    assert_eq!(s.window_size, "PT1S");
    assert_eq!((s.imbalance_bid_px, s.imbalance_ask_px), (bar.bid, bar.ask));
    assert_eq!(
        (s.imbalance_bid_sz, s.imbalance_ask_sz),
        (Some(300), Some(100))
    );
    assert_eq!(s.rsi14, rsi);
    assert!(s.rsi14.is_some());
    // ...and a second earlier the newest is the one from the minute's first second.
    let s = latest_signal(&p, "SPY", close_at - TimeDelta::seconds(1))
        .await
        .expect("query")
        .expect("a signal");
    assert_eq!(s.event_ts, bar.ts + TimeDelta::seconds(1));
    assert_eq!(s.imbalance_bid_px, bar.bid.map(|b| b - Decimal::new(1, 2)));

    // One-minute signals are stamped at the minute's start but only known at its end: at
    // 59 s into the minute its own signal must not be visible yet.
    let p = provider(&shared.server, DATABASE, "PT1M");
    let s = latest_signal(&p, "SPY", close_at)
        .await
        .expect("query")
        .expect("a signal");
    assert_eq!(s.event_ts, bar.ts);
    assert_eq!(s.window_end, Some(close_at));
    assert_eq!(s.rsi14, rsi);
    assert!(s.macd.is_some() && s.ema12.is_some());
    let s = latest_signal(&p, "SPY", close_at - TimeDelta::seconds(1))
        .await
        .expect("query")
        .expect("a signal");
    assert_eq!(s.event_ts, bars[i - 1].ts);

    assert_eq!(
        latest_signal(&p, "NVDA", close_at).await.expect("query"),
        None
    );
    assert_eq!(
        latest_signal(&p, "SPY", shared.seeded.from)
            .await
            .expect("query"),
        None
    );
    assert!(matches!(
        latest_signal(&p, "SPY' OR 1=1", close_at).await,
        Err(BarError::UnknownSymbol(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbols_not_in_the_table_are_unknown_and_covered_ones_may_be_empty() {
    let shared = shared().await;
    let p = provider(&shared.server, DATABASE, "PT1S");
    let as_of = utc(2013, 10, 8, 15, 0, 0);
    for symbol in ["NVDA", "QQQ", "SPY'--", "", "IB M"] {
        assert!(
            matches!(
                minute_bars(&p, symbol, as_of, 5).await,
                Err(BarError::UnknownSymbol(_))
            ),
            "{symbol:?}"
        );
        assert!(
            matches!(
                daily_bars(&p, symbol, as_of, 5).await,
                Err(BarError::UnknownSymbol(_))
            ),
            "{symbol:?}"
        );
    }
    // Lowercase is the same symbol, as with the file provider.
    assert_eq!(
        minute_bars(&p, "spy", as_of, 5).await.expect("spy"),
        minute_bars(&p, "SPY", as_of, 5).await.expect("SPY")
    );
    // Covered, but nothing had closed yet / nothing asked for.
    let early = shared.seeded.from;
    assert_eq!(minute_bars(&p, "IBM", early, 5).await.expect("IBM"), vec![]);
    assert_eq!(daily_bars(&p, "IBM", early, 5).await.expect("IBM"), vec![]);
    assert_eq!(minute_bars(&p, "IBM", as_of, 0).await.expect("IBM"), vec![]);
    // "Everything" is a valid lookback, as with the file provider.
    assert_eq!(
        minute_bars(&p, "IBM", as_of, usize::MAX)
            .await
            .expect("IBM"),
        expected_minutes(&shared.seeded, "IBM", as_of, usize::MAX)
    );
    assert_eq!(
        daily_bars(&p, "IBM", utc(2013, 10, 9, 0, 0, 0), usize::MAX)
            .await
            .expect("IBM")
            .len(),
        2
    );
    // A window size the table does not hold covers nothing.
    let other = provider(&shared.server, DATABASE, "PT5S");
    assert!(matches!(
        minute_bars(&other, "IBM", as_of, 5).await,
        Err(BarError::UnknownSymbol(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_version_of_a_row_replaces_the_older_one() {
    let shared = shared().await;
    let server = &shared.server;
    let db = "torghut_versions";
    create_tables(server, db, Timestamps::Utc)
        .await
        .expect("tables");
    let seeded = seed(server, db, &["IBM"], &days()[1..])
        .await
        .expect("seed");
    // Two neighbouring bars, both quoted, well into the session.
    let pair = seeded
        .bars("IBM")
        .windows(2)
        .skip(100)
        .find(|w| w.iter().all(|b| b.bid.is_some() && b.ask.is_some()))
        .expect("two quoted IBM minutes in a row");
    let (a, b) = (pair[0].clone(), pair[1].clone());
    let as_of = b.end();

    // Re-emitted rows, as after a TA job restart: a new `seq`, so the ReplacingMergeTree never
    // merges them away and only the provider's own rule decides.
    let row = |window: &str,
               bar: &MinuteBar,
               second: Option<i64>,
               version: u32,
               ingest: DateTime<Utc>,
               close: Decimal,
               volume: u64| {
        let (start, end, event_ts) = match second {
            None => (bar.ts, bar.end(), bar.ts),
            Some(s) => {
                let start = bar.ts + TimeDelta::seconds(s);
                (
                    start,
                    start + TimeDelta::seconds(1),
                    start + TimeDelta::seconds(1),
                )
            }
        };
        json!({
            "symbol": "IBM", "event_ts": ch_time(event_ts), "seq": 1_000_000 + u64::from(version),
            "ingest_ts": ch_time(ingest), "is_final": 1, "source": "ta",
            "window_size": window, "window_step": window,
            "window_start": ch_time(start), "window_end": ch_time(end), "version": version,
            "o": price(if second.is_some() { close } else { bar.open }),
            "h": price(bar.high.max(close)), "l": price(bar.low.min(close)),
            "c": price(close), "v": volume, "vwap": Value::Null, "count": 1,
        })
    };
    let later = as_of + TimeDelta::hours(1);
    let earlier = a.ts - TimeDelta::hours(1);
    let up = Decimal::new(1, 0);
    let rows = vec![
        // Minute a: version 2 beats version 1, even though version 1 was re-ingested later.
        row("PT1M", &a, None, 2, earlier, a.close + up, 12_345),
        row("PT1M", &a, None, 1, later, a.close + up + up, 99_999),
        // Minute b: same version, the later ingest wins.
        row("PT1M", &b, None, 1, later, b.close - up, 777),
        // In the one-second shape, the minute's last second is revised.
        row("PT1S", &a, Some(59), 2, later, a.close + up, 5),
    ];
    server
        .insert(&format!("{db}.ta_microbars"), &rows)
        .await
        .expect("insert versions");
    let revised_bid = a.bid.map(|x| x - up);
    let signal = json!({
        "symbol": "IBM", "event_ts": ch_time(a.end()), "seq": 2_000_000, "ingest_ts": ch_time(later),
        "is_final": 1, "source": "ta", "window_size": "PT1S", "window_step": "PT1S",
        "window_start": ch_time(a.end() - TimeDelta::seconds(1)), "window_end": ch_time(a.end()),
        "version": 2, "imbalance_bid_px": price(revised_bid.expect("quoted")),
        "imbalance_ask_px": price(a.ask.expect("quoted")),
        "microstructure_signal_v1": "{\"v\":1}",
    });
    server
        .insert(&format!("{db}.ta_signals"), &[signal])
        .await
        .expect("insert signal version");

    let minute = provider(server, db, "PT1M");
    let got = minute_bars(&minute, "IBM", as_of, 2).await.expect("bars");
    let mut want_a = a.clone();
    want_a.close = a.close + up;
    want_a.high = a.high.max(want_a.close);
    want_a.volume = 12_345;
    let mut want_b = b.clone();
    want_b.close = b.close - up;
    want_b.low = b.low.min(want_b.close);
    want_b.volume = 777;
    assert_eq!(got, vec![want_a, want_b]);

    let second = provider(server, db, "PT1S");
    let got = minute_bars(&second, "IBM", a.end(), 1).await.expect("bars");
    let mut want = a.clone();
    want.close = a.close + up;
    want.high = a.high.max(want.close);
    want.volume = a.volume / 2 + 5;
    want.bid = revised_bid;
    assert_eq!(got, vec![want]);
    let s = latest_signal(&second, "IBM", a.end())
        .await
        .expect("query")
        .expect("signal");
    assert_eq!((s.version, s.seq), (2, 2_000_000));
    assert_eq!(s.imbalance_bid_px, revised_bid);
    assert_eq!(s.microstructure_signal_v1.as_deref(), Some("{\"v\":1}"));
    // Untouched minutes are unaffected.
    let before = minute_bars(&minute, "IBM", a.ts, 50).await.expect("bars");
    assert_eq!(before, expected_minutes(&seeded, "IBM", a.ts, 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_a_refusal_that_does_not_echo_the_password() {
    let shared = shared().await;
    let mut config = shared
        .server
        .provider_config(DATABASE, "PT1S")
        .expect("config");
    let password = "not-the-password-4711";
    config.password = Some(torghut_activities::secret::Secret::new(password.to_owned()));
    let p = Arc::new(ClickHouseBarProvider::new(config).expect("provider"));
    let err = minute_bars(&p, "IBM", utc(2013, 10, 8, 15, 0, 0), 5)
        .await
        .expect_err("wrong password");
    assert!(matches!(err, BarError::Rejected { .. }), "{err:?}");
    assert!(!err.to_string().contains(password), "{err}");
    assert!(!format!("{p:?}").contains(password), "{p:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_a_retryable_unavailable_error() {
    let server = ClickHouseServer::start()
        .unwrap_or_else(|e| panic!("could not start the test ClickHouse: {e:#}"));
    create_tables(&server, DATABASE, Timestamps::Utc)
        .await
        .expect("tables");
    seed(&server, DATABASE, &["IBM"], &days()[1..])
        .await
        .expect("seed");
    let p = provider(&server, DATABASE, "PT1M");
    let as_of = utc(2013, 10, 8, 16, 0, 0);
    // Working first, so the failure below is the stop and nothing else.
    assert_eq!(
        minute_bars(&p, "IBM", as_of, 5).await.expect("bars").len(),
        5
    );
    server.stop().expect("stop");

    let started = Instant::now();
    let err = minute_bars(&p, "IBM", as_of, 5)
        .await
        .expect_err("server is down");
    assert!(matches!(err, BarError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains(&server.url), "{err}");
    let ch = p.clone();
    let skill =
        blocking(move || technicals_regime(ch.as_ref(), "IBM", as_of, &BTreeMap::new())).await;
    assert!(
        matches!(skill, Err(SkillError::Unavailable(_))),
        "{skill:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_as_unavailable() {
    // Accepts connections and then says nothing, like a wedged server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let config = torghut_activities::providers::clickhouse::ClickHouseConfig {
        url: url::Url::parse(&format!("http://{addr}")).expect("url"),
        database: DATABASE.to_owned(),
        user: "default".to_owned(),
        password: None,
        window_size: "PT1S".to_owned(),
        timeout: Duration::from_secs(1),
    };
    let p = Arc::new(ClickHouseBarProvider::new(config).expect("provider"));
    let started = Instant::now();
    let err = minute_bars(&p, "IBM", utc(2013, 10, 8, 15, 0, 0), 5)
        .await
        .expect_err("no answer");
    let took = started.elapsed();
    assert!(matches!(err, BarError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("no answer within 1s"), "{err}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}
