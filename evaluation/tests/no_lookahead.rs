//! No look-ahead: the skills of an evaluated decision read no bar after its as-of, and what
//! happens after the as-of cannot change the context they report. Only the scorer reads the
//! horizon (its own unit tests show it reads nothing outside the decision's bar and horizon).

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};
use torghut_activities::context::Providers;
use torghut_activities::providers::bars::{BarError, BarProvider, DailyBar, MinuteBar};
use torghut_activities::providers::files::bars::{FileBarProvider, embedded_dir};
use torghut_activities::providers::signals::{MacdCrossScanner, TriggerSource};
use torghut_evaluation::config::{DateRange, EvalConfig};
use torghut_evaluation::decide;
use torghut_evaluation::run;
use torghut_proto::model;

/// The embedded bars with a known, absurd future: every bar that closes after `cut` is priced
/// at 100x. It records every as-of it is asked for.
struct KnownFuture {
    inner: FileBarProvider,
    cut: Mutex<Option<DateTime<Utc>>>,
    asked: Mutex<Vec<DateTime<Utc>>>,
}

impl KnownFuture {
    fn poison(&self, mut bars: Vec<MinuteBar>) -> Vec<MinuteBar> {
        let cut = *self.cut.lock().expect("cut");
        if let Some(cut) = cut {
            for b in bars.iter_mut().filter(|b| b.end() > cut) {
                let k = rust_decimal::Decimal::from(100);
                b.open *= k;
                b.high *= k;
                b.low *= k;
                b.close *= k;
            }
        }
        bars
    }
}

impl BarProvider for KnownFuture {
    fn minute_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<MinuteBar>, BarError> {
        self.asked.lock().expect("asked").push(as_of);
        // Answer as if the provider knew the future: bars up to the end of the day.
        let end_of_day = as_of + Duration::hours(24);
        let all = self
            .inner
            .minute_bars(symbol, end_of_day, lookback + 2000)?;
        let visible: Vec<MinuteBar> = all.into_iter().filter(|b| b.end() <= as_of).collect();
        let start = visible.len().saturating_sub(lookback);
        Ok(self.poison(visible[start..].to_vec()))
    }

    fn daily_bars(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: usize,
    ) -> Result<Vec<DailyBar>, BarError> {
        self.asked.lock().expect("asked").push(as_of);
        self.inner.daily_bars(symbol, as_of, lookback)
    }
}

fn config() -> EvalConfig {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/evaluate-config.json"
    ))
    .expect("scripts/evaluate-config.json");
    EvalConfig::parse(&text).expect("config")
}

#[test]
fn skills_read_no_bar_after_the_decisions_as_of_and_the_future_changes_nothing() {
    let cfg = config();
    let real = Providers::embedded().expect("providers");
    let range = DateRange::parse("2013-10-08..2013-10-08").expect("range");
    let ds = run::collect(&real, &cfg, range, &mut |_, _| {}).expect("collect");
    assert!(ds.cases.len() > 50, "a day of signals: {}", ds.cases.len());

    let known = Arc::new(KnownFuture {
        inner: FileBarProvider::new(embedded_dir()),
        cut: Mutex::new(None),
        asked: Mutex::new(Vec::new()),
    });
    let bars: Arc<dyn BarProvider> = known.clone();
    let future_knowing = Providers {
        triggers: Arc::new(MacdCrossScanner::new(bars.clone())),
        bars,
        news: real.news.clone(),
        scorer: real.scorer.clone(),
        fundamentals: real.fundamentals.clone(),
    };
    for case in ds.cases.iter().step_by(7) {
        let req = model::validate(&case.request).expect("request");
        *known.cut.lock().expect("cut") = Some(case.as_of);
        known.asked.lock().expect("asked").clear();
        let outputs = decide::gather(&future_knowing, &req);
        let asked = known.asked.lock().expect("asked").clone();
        assert!(!asked.is_empty(), "the skills read bars");
        assert!(
            asked.iter().all(|t| *t <= case.as_of),
            "{} at {}: a skill asked for bars as of {:?}",
            case.signal.symbol,
            case.as_of,
            asked.iter().max()
        );
        // A future 100x the price is invisible: the context is what the plain provider gave.
        assert_eq!(
            outputs, case.outputs,
            "{} at {}",
            case.signal.symbol, case.as_of
        );
    }
}

#[test]
fn each_trigger_is_known_from_the_bars_up_to_its_own_time() {
    let cfg = config();
    let real = Providers::embedded().expect("providers");
    let range = DateRange::parse("2013-10-09..2013-10-09").expect("range");
    let ds = run::collect(&real, &cfg, range, &mut |_, _| {}).expect("collect");
    let scanner = MacdCrossScanner::new(real.bars.clone());
    for case in ds.cases.iter().step_by(5) {
        let upto = scanner
            .signals(std::slice::from_ref(&case.signal.symbol), None, case.as_of)
            .expect("scan");
        assert!(
            upto.contains(&case.signal),
            "{:?} not known at its own time",
            case.signal
        );
    }
}
