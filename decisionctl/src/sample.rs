//! Sample decisions over the embedded dataset, for `replay`: the real skills over the committed
//! bars at a grid of instants, decided by the current policy.

use anyhow::{Result, anyhow};
use chrono::{DateTime, Utc};
use serde_json::json;
use torghut_activities::providers::files::bars::{FileBarProvider, embedded_dir};
use torghut_activities::providers::files::fundamentals::{
    FileFundamentalsProvider, embedded_fundamentals_dir,
};
use torghut_activities::providers::files::news::{FileNewsProvider, embedded_news_dir};
use torghut_activities::sentiment::SentimentScorer;
use torghut_activities::skills::fundamentals::fundamentals;
use torghut_activities::skills::market_state::market_context;
use torghut_activities::skills::news::news_sentiment;
use torghut_activities::skills::technicals::technicals_regime;
use torghut_policy::analysis::PolicyConfig;
use torghut_policy::review::{RecordedDecision, RecordedIntent, rerun};
use torghut_proto::v1::DecisionRequest;

const GRID: [(&str, &[&str]); 2] = [
    ("2013-10-{d}T{t}:00Z", &["SPY", "IBM", "BAC", "AIG"]),
    ("2014-06-{d}T{t}:00Z", &["AAPL"]),
];

pub fn record() -> Result<Vec<RecordedDecision>> {
    let bars = FileBarProvider::new(embedded_dir());
    let news = FileNewsProvider::new(embedded_news_dir());
    let facts = FileFundamentalsProvider::new(embedded_fundamentals_dir());
    let scorer = SentimentScorer::embedded()?;
    let policy = PolicyConfig::default();
    let mut out = Vec::new();
    for (pattern, symbols) in GRID {
        let days: &[u32] = if pattern.starts_with("2013") {
            &[7, 8, 9, 10, 11]
        } else {
            &[5, 6, 9]
        };
        for d in days {
            for t in ["14:00", "15:30", "17:00", "18:30"] {
                let ts = pattern.replace("{d}", &format!("{d:02}")).replace("{t}", t);
                let as_of: DateTime<Utc> = ts.parse().map_err(|e| anyhow!("{ts}: {e}"))?;
                for symbol in symbols.iter().copied() {
                    let request: DecisionRequest = serde_json::from_value(json!({
                        "request_id": uuid::Uuid::new_v4().to_string(),
                        "symbol": symbol,
                        "strategy_id": "intraday-v3-momentum-01",
                        "trigger": {"type": "schedule", "event_ts": ts, "source": "decisionctl-sample"},
                        "portfolio": {"equity": "100000", "buying_power": "250000", "current_exposure": "0"},
                        "risk_policy": {"max_notional_per_trade": "7000", "max_position_pct_equity": "0.08", "kill_switch_enabled": false},
                        "execution_context": {"primary_adapter": "alpaca", "lean_enabled": false, "mode": "paper"}
                    }))?;
                    let skill_outputs = vec![
                        market_context(&bars, symbol, as_of)?,
                        news_sentiment(&news, &scorer, symbol, as_of)?,
                        fundamentals(&facts, &bars, symbol, as_of)?,
                        technicals_regime(&bars, symbol, as_of, &Default::default())?,
                    ];
                    let mut record = RecordedDecision {
                        request,
                        skill_outputs,
                        intent: RecordedIntent {
                            action: String::new(),
                            qty: String::new(),
                            confidence: String::new(),
                            vetoed: false,
                            risk_flags: Vec::new(),
                        },
                    };
                    record.intent = rerun(&record, &policy).map_err(|e| anyhow!("{e}"))?;
                    out.push(record);
                }
            }
        }
    }
    Ok(out)
}
