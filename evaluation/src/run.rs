//! One evaluation: collect the triggers of a range with their context, decide them with each
//! policy, and score every decision at every horizon.

use crate::EvalError;
use crate::config::{DateRange, EvalConfig};
use crate::decide::{self, RoutingSetup};
use crate::market::{SessionBars, ny_time};
use crate::score::{self, Order, Side, TradeOutcome};
use crate::stats::{Rng, Scored};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;
use torghut_activities::context::Providers;
use torghut_policy::analysis::{Analysis, Direction, PolicyConfig};
use torghut_policy::calibration::{Calibration, FitParams, Outcome};
use torghut_policy::routing;
use torghut_policy::sizing::Action;
use torghut_policy::skills::{self, Domain};
use torghut_policy::triggers::{TriggerSignal, build_request, is_trading_day};
use torghut_proto::model;
use torghut_proto::v1::{DecisionIntent, DecisionRequest, SkillOutput};

/// A trigger, its request and the context the skills saw as of it.
#[derive(Debug, Clone)]
pub struct Case {
    pub signal: TriggerSignal,
    pub request: DecisionRequest,
    pub as_of: DateTime<Utc>,
    pub outputs: Vec<SkillOutput>,
    /// Index into [`Dataset::sessions`]: the symbol-day the decision belongs to.
    pub session: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub sessions: Vec<SessionBars>,
    pub cases: Vec<Case>,
}

/// Progress of the slow part (the skills), for a progress bar.
pub type ProgressFn<'a> = &'a mut dyn FnMut(usize, usize);

/// The triggers of `range` as the intraday loop reads them (the worker's trigger source, from
/// the session's open to its close), each with its four context domains as of the trigger.
pub fn collect(
    providers: &Providers,
    cfg: &EvalConfig,
    range: DateRange,
    progress: ProgressFn<'_>,
) -> Result<Dataset, EvalError> {
    let mut ds = Dataset::default();
    let mut pending: Vec<(TriggerSignal, usize)> = Vec::new();
    for day in range.days().filter(|d| is_trading_day(*d)) {
        let Some(close) = ny_time(day, 16, 0) else {
            continue;
        };
        for symbol in &cfg.watchlist {
            let Some(bars) = SessionBars::load(&*providers.bars, symbol, day)? else {
                continue;
            };
            let signals = providers
                .triggers
                .signals(std::slice::from_ref(symbol), None, close)
                .map_err(|e| EvalError::Bars(format!("{symbol} {day}: {e}")))?;
            if signals.is_empty() {
                continue;
            }
            ds.sessions.push(bars);
            let session = ds.sessions.len() - 1;
            pending.extend(signals.into_iter().map(|s| (s, session)));
        }
    }
    pending.sort_by(|a, b| (&a.0.event_ts, &a.0.symbol).cmp(&(&b.0.event_ts, &b.0.symbol)));
    let total = pending.len();
    for (done, (signal, session)) in pending.into_iter().enumerate() {
        let request = build_request(&cfg.template, &cfg.strategy_id, &signal);
        let req = model::validate(&request)
            .map_err(|e| EvalError::Request(format!("{}: {e}", signal.event_ts)))?;
        let outputs = decide::gather(providers, &req);
        ds.cases.push(Case {
            as_of: req.trigger.event_ts,
            signal,
            request,
            outputs,
            session,
        });
        progress(done + 1, total);
    }
    Ok(ds)
}

/// What one policy decided for each case.
#[derive(Debug, Clone)]
pub struct Decided {
    pub analysis: Analysis,
    pub intent: DecisionIntent,
}

/// Decides every case with `policy` (optionally without one domain, for the ablation).
pub fn decide_all(
    ds: &Dataset,
    policy: &PolicyConfig,
    routing: RoutingSetup,
    ablate: Option<Domain>,
) -> Result<Vec<Decided>, EvalError> {
    ds.cases
        .iter()
        .map(|c| {
            let outputs = match ablate {
                Some(d) => decide::without(&c.outputs, d),
                None => c.outputs.clone(),
            };
            decide::decide(&c.request, &outputs, policy, routing)
                .map(|(analysis, intent)| Decided { analysis, intent })
        })
        .collect()
}

fn payload(case: &Case, key: &str) -> Option<Decimal> {
    case.outputs
        .iter()
        .find(|o| o.domain == skills::TECHNICALS_REGIME)
        .and_then(|t| skills::payload_decimal(t, key))
}

/// The order the intent asks for, if it trades.
pub fn intent_order(intent: &DecisionIntent) -> Option<Order> {
    let side = match intent.action.as_str() {
        "buy" => Side::Long,
        "sell" => Side::Short,
        _ => return None,
    };
    if Decimal::from_str(&intent.qty).map_or(true, |q| q <= Decimal::ZERO) {
        return None;
    }
    let limit = intent
        .order_constraints
        .as_ref()
        .and_then(|c| c.limit_price.as_deref())
        .and_then(|p| Decimal::from_str(p).ok());
    Some(Order { side, limit })
}

/// The order a trade on `side` would be sent as: the engine's routing rule (a limit off the
/// quote with the slippage budget), so baselines and candidate trades pay what the engine pays.
pub fn routed_order(case: &Case, side: Side) -> Order {
    let slippage = routing::max_slippage_bps(
        payload(case, "spread_bps"),
        payload(case, "realized_vol_annual"),
    );
    let action = match side {
        Side::Long => Action::Buy,
        Side::Short => Action::Sell,
    };
    let c = routing::order_constraints(
        action,
        payload(case, "last_price"),
        payload(case, "bid"),
        payload(case, "ask"),
        slippage,
    );
    Order {
        side,
        limit: c.limit_price.and_then(|p| Decimal::from_str(&p).ok()),
    }
}

/// The trade the analysis leans to before the edge gate: the score's sign, when the score
/// passed the threshold and nothing vetoed it.
pub fn candidate_side(analysis: &Analysis, policy: &PolicyConfig) -> Option<Side> {
    if analysis.vetoed || analysis.score.abs() < policy.min_abs_score {
        return None;
    }
    match analysis.direction {
        Direction::Long => Some(Side::Long),
        Direction::Short => Some(Side::Short),
        Direction::Flat if analysis.score > Decimal::ZERO => Some(Side::Long),
        Direction::Flat => Some(Side::Short),
    }
}

/// Scores one order per case (`None`: hold) at `horizon`.
pub fn score_orders(
    ds: &Dataset,
    orders: &[Option<Order>],
    horizon: u32,
    costs: &score::CostModel,
) -> (Vec<Scored>, Vec<Option<TradeOutcome>>) {
    ds.cases
        .iter()
        .zip(orders)
        .map(|(case, order)| match order {
            None => (
                Scored {
                    block: case.session,
                    traded: false,
                    filled: false,
                    net_bps: 0.0,
                },
                None,
            ),
            Some(o) => {
                let outcome =
                    score::score(&ds.sessions[case.session], case.as_of, *o, horizon, costs);
                let net = outcome.net_bps();
                (
                    Scored {
                        block: case.session,
                        traded: true,
                        filled: net.is_some(),
                        net_bps: net.map_or(0.0, to_f64),
                    },
                    Some(outcome),
                )
            }
        })
        .unzip()
}

pub fn to_f64(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(0.0)
}

/// The baselines on the same triggers: hold, trigger momentum, its reverse, and random trades.
pub fn baselines(
    ds: &Dataset,
    engine_trades: usize,
    seed: u64,
) -> Vec<(String, Vec<Option<Order>>)> {
    let momentum_side = |c: &Case| match c.signal.kind.as_str() {
        k if k.ends_with("_up") => Some(Side::Long),
        k if k.ends_with("_down") => Some(Side::Short),
        _ => None,
    };
    let flip = |s: Side| match s {
        Side::Long => Side::Short,
        Side::Short => Side::Long,
    };
    let momentum: Vec<Option<Order>> = ds
        .cases
        .iter()
        .map(|c| momentum_side(c).map(|s| routed_order(c, s)))
        .collect();
    let reverse: Vec<Option<Order>> = ds
        .cases
        .iter()
        .map(|c| momentum_side(c).map(|s| routed_order(c, flip(s))))
        .collect();
    // As many trades as the engine made, on cases and sides drawn from the seed.
    let mut rng = Rng::new(seed);
    let mut idx: Vec<usize> = (0..ds.cases.len()).collect();
    let k = engine_trades.min(idx.len());
    for i in 0..k {
        let j = i + rng.below(idx.len() - i);
        idx.swap(i, j);
    }
    let mut random = vec![None; ds.cases.len()];
    for &i in &idx[..k] {
        let side = if rng.below(2) == 0 {
            Side::Long
        } else {
            Side::Short
        };
        random[i] = Some(routed_order(&ds.cases[i], side));
    }
    vec![
        ("always hold".to_owned(), vec![None; ds.cases.len()]),
        ("trigger momentum".to_owned(), momentum),
        ("reverse momentum".to_owned(), reverse),
        (format!("random ({k} trades, seed {seed})"), random),
    ]
}

/// The training outcomes of the uncalibrated policy's candidate trades at `horizon`, each with
/// its session day, for [`Calibration::fit`].
pub fn candidate_outcomes(
    ds: &Dataset,
    decided: &[Decided],
    policy: &PolicyConfig,
    horizon: u32,
    costs: &score::CostModel,
) -> Vec<(NaiveDate, Outcome)> {
    ds.cases
        .iter()
        .zip(decided)
        .filter_map(|(case, d)| {
            let side = candidate_side(&d.analysis, policy)?;
            let outcome = score::score(
                &ds.sessions[case.session],
                case.as_of,
                routed_order(case, side),
                horizon,
                costs,
            );
            outcome.net_bps().map(|net_bps| {
                (
                    ds.sessions[case.session].day,
                    Outcome {
                        abs_score: d.analysis.score.abs(),
                        net_bps,
                    },
                )
            })
        })
        .collect()
}

/// Fits the calibration on a training dataset.
pub fn fit_calibration(
    train: &Dataset,
    cfg: &EvalConfig,
    range: DateRange,
    routing: RoutingSetup,
) -> Result<Calibration, EvalError> {
    let policy = policy_from(cfg, None);
    let decided = decide_all(train, &policy, routing, None)?;
    let outcomes = candidate_outcomes(
        train,
        &decided,
        &policy,
        cfg.primary_horizon_minutes,
        &cfg.costs,
    );
    let params = |buckets: usize| FitParams {
        horizon_minutes: cfg.primary_horizon_minutes,
        fitted_from: range.from.to_string(),
        fitted_to: range.to.to_string(),
        cost_model: cfg.costs.describe(),
        buckets,
        min_trades: cfg.calibration_fit.min_trades,
        prior_strength: cfg.calibration_fit.prior_strength,
    };
    // How finely to bucket the score is itself chosen on the training range, by leave-one-day-
    // out Brier score with the one-standard-error rule: the coarsest grid within one standard
    // error of the best. A grid the data cannot support loses to a coarser one, down to a single
    // bucket (the base rate) when the score carries no information.
    let mut scores = Vec::new();
    for k in 1..=cfg.calibration_fit.buckets.max(1) {
        scores.push((k, cross_validated_brier(&outcomes, &params(k))));
    }
    let best = scores
        .iter()
        .filter_map(|(_, b)| *b)
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let chosen = match best {
        Some((mean, se)) => scores
            .iter()
            .find(|(_, b)| b.is_some_and(|(m, _)| m <= mean + se))
            .map_or(1, |(k, _)| *k),
        None => 1,
    };
    let all: Vec<Outcome> = outcomes.iter().map(|(_, o)| *o).collect();
    let mut cal = Calibration::fit(&all, &params(chosen));
    cal.selection = format!(
        "{chosen} score bucket(s): the fewest within one standard error of the best leave-one-day-out Brier on the training range ({})",
        scores
            .iter()
            .map(|(k, b)| match b {
                Some((m, se)) => format!("{k}: {m:.4} ± {se:.4}"),
                None => format!("{k}: -"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(cal)
}

/// Mean and standard error of the Brier score of the calibration's `p_win` on each training
/// day, fitted without that day; `None` when there are fewer than two days.
fn cross_validated_brier(
    outcomes: &[(NaiveDate, Outcome)],
    params: &FitParams,
) -> Option<(f64, f64)> {
    let mut days: Vec<NaiveDate> = outcomes.iter().map(|(d, _)| *d).collect();
    days.sort();
    days.dedup();
    if days.len() < 2 {
        return None;
    }
    let mut errors = Vec::new();
    for day in days {
        let rest: Vec<Outcome> = outcomes
            .iter()
            .filter(|(d, _)| *d != day)
            .map(|(_, o)| *o)
            .collect();
        let cal = Calibration::fit(&rest, params);
        for (_, o) in outcomes.iter().filter(|(d, _)| *d == day) {
            let p = to_f64(cal.estimate(o.abs_score, Decimal::ONE).p_win);
            let y = if o.net_bps > Decimal::ZERO { 1.0 } else { 0.0 };
            errors.push((p - y).powi(2));
        }
    }
    let n = errors.len().max(1) as f64;
    let mean = errors.iter().sum::<f64>() / n;
    let var = errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Some((mean, (var / n).sqrt()))
}

/// The evaluated policy: the configuration's thresholds over the engine's defaults, with
/// `calibration` (`None`: the uncalibrated policy).
pub fn policy_from(cfg: &EvalConfig, calibration: Option<Calibration>) -> PolicyConfig {
    let mut p = PolicyConfig::uncalibrated();
    if let Some(q) = cfg.policy.min_context_quality {
        p.min_context_quality = q;
    }
    if let Some(s) = cfg.policy.min_abs_score {
        p.min_abs_score = s;
    }
    if let Some(d) = &cfg.policy.critical_domains {
        p.critical_domains = d.clone();
    }
    p.calibration = calibration;
    p
}
