//! How fast the evaluator scores: decisions scored at four horizons over bars already in
//! memory, on one thread. `cargo bench -p torghut-evaluation --bench scoring` prints the rates;
//! docs/evaluation.md records them with the machine.

use chrono::Duration;
use std::time::Instant;
use torghut_activities::providers::files::bars::{FileBarProvider, embedded_dir};
use torghut_evaluation::config::DateRange;
use torghut_evaluation::market::{SessionBars, ny_time};
use torghut_evaluation::score::{CostModel, Order, Side, score};
use torghut_evaluation::stats::{self, Rng, Scored};

const DECISIONS: usize = 10_000;
const HORIZONS: [u32; 4] = [5, 15, 30, 60];

fn main() {
    let provider = FileBarProvider::new(embedded_dir());
    let mut sessions = Vec::new();
    let ranges = [
        (
            "2013-10-07..2013-10-11",
            ["SPY", "IBM", "BAC", "AIG"].as_slice(),
        ),
        ("2014-06-05..2014-06-09", ["AAPL"].as_slice()),
    ];
    for (range, symbols) in ranges {
        let Ok(range) = DateRange::parse(range) else {
            return;
        };
        for day in range.days() {
            for s in symbols {
                if let Ok(Some(b)) = SessionBars::load(&provider, s, day) {
                    sessions.push(b);
                }
            }
        }
    }
    if sessions.is_empty() {
        eprintln!("no embedded sessions found");
        std::process::exit(1);
    }
    // Decisions spread over the regular session of every loaded day, alternating sides, half of
    // them limit orders 5 bps inside the quote so the trade-through search runs too.
    let mut rng = Rng::new(7);
    let mut cases = Vec::with_capacity(DECISIONS);
    for i in 0..DECISIONS {
        let s = rng.below(sessions.len());
        let Some(open) = ny_time(sessions[s].day, 9, 45) else {
            continue;
        };
        let as_of = open + Duration::minutes(rng.below(360) as i64);
        let side = if i % 2 == 0 { Side::Long } else { Side::Short };
        let limit = (i % 4 < 2)
            .then(|| {
                let last = sessions[s]
                    .last_closed(as_of)
                    .map(|j| sessions[s].bars[j].close);
                last.map(|p| match side {
                    Side::Long => p * rust_decimal::Decimal::new(9995, 4),
                    Side::Short => p * rust_decimal::Decimal::new(10005, 4),
                })
            })
            .flatten();
        cases.push((s, as_of, Order { side, limit }));
    }
    let costs = CostModel::default();
    let start = Instant::now();
    let mut scored = Vec::with_capacity(cases.len());
    for (s, as_of, order) in &cases {
        for h in HORIZONS {
            let o = score(&sessions[*s], *as_of, *order, h, &costs);
            if h == 30 {
                let net = o.net_bps();
                scored.push(Scored {
                    block: *s,
                    traded: true,
                    filled: net.is_some(),
                    net_bps: net.map_or(0.0, |n| n.to_string().parse().unwrap_or(0.0)),
                });
            }
        }
    }
    let scoring = start.elapsed();
    let start = Instant::now();
    let summary = stats::summarise(&scored, 2000, 1);
    let summarising = start.elapsed();
    println!(
        "scored {} decisions x {} horizons over {} symbol-days in {:.3} s: {:.0} decisions/s (one thread)",
        cases.len(),
        HORIZONS.len(),
        sessions.len(),
        scoring.as_secs_f64(),
        cases.len() as f64 / scoring.as_secs_f64()
    );
    println!(
        "summary with a 2000-resample block bootstrap in {:.3} s ({} fills, mean {:+.2} bps)",
        summarising.as_secs_f64(),
        summary.fills,
        summary.mean_net_bps_per_trade.unwrap_or(0.0)
    );
}
