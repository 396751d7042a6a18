//! The evaluation's figures, and the files a person reads: `report.md`, two SVG charts and
//! `decisions.jsonl`.

use crate::EvalError;
use crate::config::{DateRange, EvalConfig};
use crate::decide::RoutingSetup;
use crate::run::{self, Dataset, Decided, candidate_side, routed_order, score_orders, to_f64};
use crate::score::{self, Order, TradeOutcome};
use crate::stats::{self, CalibrationReport, Scored, Summary};
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;
use torghut_policy::calibration::Calibration;
use torghut_policy::skills::Domain;

/// One policy's decisions and their figures at every horizon.
#[derive(Debug, Clone)]
pub struct PolicyScores {
    pub name: String,
    pub by_horizon: Vec<(u32, Summary)>,
    /// At the primary horizon, in decision order: the cumulative chart's series.
    pub primary: Vec<Scored>,
}

#[derive(Debug, Clone)]
pub struct Evaluation {
    pub command: String,
    pub range: DateRange,
    pub train: Option<DateRange>,
    pub config: EvalConfig,
    pub symbol_days: usize,
    pub triggers: usize,
    /// The engine first, then the uncalibrated engine, then the baselines.
    pub policies: Vec<PolicyScores>,
    /// The engine's confidence against the outcome of its candidate trades (the trades its
    /// analysis leaned to, whether or not the edge gate let them through).
    pub calibration: Option<CalibrationReport>,
    /// The uncalibrated confidence against the outcome of the trades it made.
    pub calibration_before: CalibrationReport,
    pub ablation: Vec<(Domain, Summary)>,
    /// The artifact the engine ran with (fitted on `train`, or the shipped one).
    pub calibration_used: Option<Calibration>,
    pub records: Vec<serde_json::Value>,
}

fn scores_for(
    name: &str,
    ds: &Dataset,
    orders: &[Option<Order>],
    cfg: &EvalConfig,
    seed: u64,
) -> (PolicyScores, Vec<Vec<Option<TradeOutcome>>>) {
    let mut by_horizon = Vec::new();
    let mut primary = Vec::new();
    let mut outcomes = Vec::new();
    for &h in &cfg.horizons_minutes {
        let (scored, outs) = score_orders(ds, orders, h, &cfg.costs);
        by_horizon.push((h, stats::summarise(&scored, cfg.bootstrap_resamples, seed)));
        if h == cfg.primary_horizon_minutes {
            primary = scored;
        }
        outcomes.push(outs);
    }
    (
        PolicyScores {
            name: name.to_owned(),
            by_horizon,
            primary,
        },
        outcomes,
    )
}

fn orders_of(decided: &[Decided]) -> Vec<Option<Order>> {
    decided
        .iter()
        .map(|d| run::intent_order(&d.intent))
        .collect()
}

impl Evaluation {
    /// Evaluates the engine with `calibration` (and without any) against the baselines on `ds`.
    #[allow(clippy::too_many_arguments)]
    pub fn compute(
        command: String,
        cfg: &EvalConfig,
        ds: &Dataset,
        range: DateRange,
        train: Option<DateRange>,
        calibration: Option<Calibration>,
        routing: RoutingSetup,
    ) -> Result<Evaluation, EvalError> {
        let seed = cfg.seed;
        let engine_policy = run::policy_from(cfg, calibration.clone());
        let before_policy = run::policy_from(cfg, None);
        let engine = run::decide_all(ds, &engine_policy, routing, None)?;
        let before = run::decide_all(ds, &before_policy, routing, None)?;
        let engine_orders = orders_of(&engine);
        let (engine_scores, engine_outcomes) = scores_for("engine", ds, &engine_orders, cfg, seed);
        let (before_scores, _) = scores_for(
            "engine, uncalibrated (before)",
            ds,
            &orders_of(&before),
            cfg,
            seed,
        );
        let engine_trades = engine_orders.iter().filter(|o| o.is_some()).count();
        let mut policies = vec![engine_scores, before_scores];
        for (name, orders) in run::baselines(ds, engine_trades, seed) {
            policies.push(scores_for(&name, ds, &orders, cfg, seed).0);
        }

        let primary = cfg.primary_horizon_minutes;
        let base_rate = calibration.as_ref().map_or(0.5, |c| to_f64(c.base_rate));
        let k = 5;
        let calibration_report = calibration.as_ref().map(|_| {
            let pairs: Vec<(f64, bool)> = ds
                .cases
                .iter()
                .zip(&engine)
                .filter_map(|(case, d)| {
                    let side = candidate_side(&d.analysis, &engine_policy)?;
                    d.analysis.edge.as_ref()?;
                    let net = score::score(
                        &ds.sessions[case.session],
                        case.as_of,
                        routed_order(case, side),
                        primary,
                        &cfg.costs,
                    )
                    .net_bps()?;
                    Some((
                        to_f64(d.analysis.confidence),
                        net > rust_decimal::Decimal::ZERO,
                    ))
                })
                .collect();
            stats::calibration(&pairs, k, base_rate)
        });
        let (_, before_outs) = score_orders(ds, &orders_of(&before), primary, &cfg.costs);
        let before_pairs: Vec<(f64, bool)> = before
            .iter()
            .zip(&before_outs)
            .filter_map(|(d, o)| {
                let net = o.as_ref()?.net_bps()?;
                Some((
                    to_f64(d.analysis.confidence),
                    net > rust_decimal::Decimal::ZERO,
                ))
            })
            .collect();
        let calibration_before = stats::calibration(&before_pairs, k, base_rate);

        let mut ablation = Vec::new();
        for domain in Domain::ALL {
            let decided = run::decide_all(ds, &engine_policy, routing, Some(domain))?;
            let (scored, _) = score_orders(ds, &orders_of(&decided), primary, &cfg.costs);
            ablation.push((
                domain,
                stats::summarise(&scored, cfg.bootstrap_resamples, seed),
            ));
        }

        let records = ds
            .cases
            .iter()
            .zip(&engine)
            .enumerate()
            .map(|(i, (case, d))| {
                let outcomes: serde_json::Map<String, serde_json::Value> = cfg
                    .horizons_minutes
                    .iter()
                    .zip(&engine_outcomes)
                    .map(|(h, outs)| {
                        (format!("{h}m"), serde_json::to_value(&outs[i]).unwrap_or_default())
                    })
                    .collect();
                json!({
                    "request_id": case.request.request_id,
                    "symbol": case.signal.symbol,
                    "event_ts": case.signal.event_ts,
                    "trigger": case.signal.kind,
                    "action": d.intent.action,
                    "qty": d.intent.qty,
                    "vetoed": d.intent.vetoed,
                    "confidence": d.intent.confidence,
                    "score": d.analysis.score,
                    "overall_quality": d.analysis.overall_quality,
                    "edge": d.analysis.edge,
                    "limit_price": d.intent.order_constraints.as_ref().and_then(|c| c.limit_price.clone()),
                    "risk_flags": d.intent.risk_flags,
                    "outcomes": outcomes,
                })
            })
            .collect();

        Ok(Evaluation {
            command,
            range,
            train,
            config: cfg.clone(),
            symbol_days: ds.sessions.len(),
            triggers: ds.cases.len(),
            policies,
            calibration: calibration_report,
            calibration_before,
            ablation,
            calibration_used: calibration,
            records,
        })
    }

    fn primary_summary<'a>(&self, p: &'a PolicyScores) -> Option<&'a Summary> {
        p.by_horizon
            .iter()
            .find(|(h, _)| *h == self.config.primary_horizon_minutes)
            .map(|(_, s)| s)
    }

    /// The sentence a reader wants first: is the engine's mean per decision above holding's 0
    /// beyond its interval, and is its confidence better than a constant.
    pub fn verdict(&self) -> String {
        let mut out = String::new();
        if let Some(s) = self.policies.first().and_then(|p| self.primary_summary(p)) {
            let (lo, hi) = s.ci95;
            let _ = write!(
                out,
                "At {} min the engine makes {} trades of {} decisions, {:+.2} bps per decision net (95% interval {:+.2} to {:+.2}): ",
                self.config.primary_horizon_minutes,
                s.trades,
                s.decisions,
                s.mean_net_bps_per_decision,
                lo,
                hi
            );
            out.push_str(if hi < 0.0 {
                "below always-hold's 0 beyond its interval."
            } else if lo > 0.0 {
                "above always-hold's 0 beyond its interval: an edge on this range."
            } else if s.trades == 0 {
                "it holds on everything, which is always-hold's 0: no edge found, so no trades."
            } else {
                "not distinguishable from always-hold's 0."
            });
        }
        if let Some(c) = &self.calibration {
            let _ = write!(
                out,
                " Confidence on {} candidate trades: Brier {:.4} against {:.4} for the constant {:.3}{}.",
                c.trades,
                c.brier,
                c.brier_constant,
                c.base_rate,
                if c.trades == 0 {
                    " (no candidates to judge it by)"
                } else if c.brier <= c.brier_constant {
                    ": no worse than the base rate"
                } else {
                    ": worse than the base rate"
                }
            );
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let cfg = &self.config;
        let _ = writeln!(md, "# Decision evaluation: {}\n", self.range);
        let _ = writeln!(md, "Produced by `{}`.\n", self.command);
        let _ = writeln!(md, "**{}**\n", self.verdict());
        let _ = writeln!(
            md,
            "- Reported range: {} ({} symbol-days with signals, {} triggers, watchlist {}).",
            self.range,
            self.symbol_days,
            self.triggers,
            cfg.watchlist.join(", ")
        );
        match (&self.train, &self.calibration_used) {
            (Some(t), Some(c)) => {
                let _ = writeln!(
                    md,
                    "- Calibration `{}` fitted on {t} only ({} candidate trades; {}); nothing was tuned on the reported range.",
                    c.version, c.trades, c.selection
                );
            }
            (None, Some(c)) => {
                let _ = writeln!(
                    md,
                    "- Calibration: the shipped artifact `{}` (fitted on {}..{}).",
                    c.version, c.fitted_from, c.fitted_to
                );
            }
            _ => {
                let _ = writeln!(md, "- No calibration: the uncalibrated policy.");
            }
        }
        let _ = writeln!(md, "- Costs: {}.", cfg.costs.describe());
        let _ = writeln!(
            md,
            "- Statistics: mean net bps per decision counts a hold or an unfilled order as 0; the interval is a bootstrap over symbol-days ({} resamples, seed {}).\n",
            cfg.bootstrap_resamples, cfg.seed
        );

        let _ = writeln!(md, "## Policies at {} min\n", cfg.primary_horizon_minutes);
        let _ = writeln!(md, "{SUMMARY_HEAD}");
        for p in &self.policies {
            if let Some(s) = self.primary_summary(p) {
                let _ = writeln!(md, "{}", row(&p.name, s));
            }
        }
        let _ = writeln!(md, "\n![cumulative net bps](cumulative.svg)\n");

        let _ = writeln!(md, "## By horizon: net bps per decision (95% interval)\n");
        let mut header = "| policy |".to_owned();
        let mut rule = "| --- |".to_owned();
        for h in &cfg.horizons_minutes {
            let _ = write!(header, " {h} min |");
            rule.push_str(" --- |");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        for p in &self.policies {
            let mut line = format!("| {} |", p.name);
            for (_, s) in &p.by_horizon {
                let _ = write!(
                    line,
                    " {:+.2} ({:+.2}, {:+.2}), {} fills |",
                    s.mean_net_bps_per_decision, s.ci95.0, s.ci95.1, s.fills
                );
            }
            let _ = writeln!(md, "{line}");
        }

        let _ = writeln!(
            md,
            "\n## Calibration of `confidence` at {} min\n",
            cfg.primary_horizon_minutes
        );
        if let Some(c) = &self.calibration {
            let _ = writeln!(
                md,
                "Calibrated engine, over its candidate trades (what its analysis leaned to, traded or held for want of an edge), scored as if sent:\n"
            );
            calibration_table(&mut md, c);
        }
        let _ = writeln!(
            md,
            "\nUncalibrated confidence (before), over the trades it made:\n"
        );
        calibration_table(&mut md, &self.calibration_before);
        let _ = writeln!(md, "\n![calibration curve](calibration.svg)\n");

        let _ = writeln!(
            md,
            "## Ablation at {} min: the engine without one domain\n",
            cfg.primary_horizon_minutes
        );
        let _ = writeln!(md, "{SUMMARY_HEAD}");
        for (d, s) in &self.ablation {
            let _ = writeln!(md, "{}", row(&format!("without {d}"), s));
        }
        if let Some(c) = &self.calibration_used {
            let _ = writeln!(md, "\n## The calibration artifact\n");
            let _ = writeln!(
                md,
                "`{}`: {} min horizon, {} candidate trades (needs {}), prior worth {} trades, pooled P(pays) {} and expectancy {} bps.\n",
                c.version,
                c.horizon_minutes,
                c.trades,
                c.min_trades,
                c.prior_strength.normalize(),
                c.base_rate.normalize(),
                c.base_expectancy_bps.normalize()
            );
            if !c.buckets.is_empty() {
                let _ = writeln!(
                    md,
                    "| \\|score\\| from | trades | wins | P(pays) | expectancy bps |\n| ---: | ---: | ---: | ---: | ---: |"
                );
                for b in &c.buckets {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} | {} |",
                        b.min_abs_score.normalize(),
                        b.trades,
                        b.wins,
                        b.p_win.normalize(),
                        b.expectancy_bps.normalize()
                    );
                }
            }
        }
        md
    }

    pub fn cumulative_svg(&self) -> String {
        let series: Vec<(String, Vec<f64>)> = self
            .policies
            .iter()
            .map(|p| {
                let mut cum = 0.0;
                (
                    p.name.clone(),
                    p.primary
                        .iter()
                        .map(|s| {
                            cum += s.net_bps;
                            cum
                        })
                        .collect(),
                )
            })
            .collect();
        crate::charts::lines(
            &format!(
                "Cumulative net bps at {} min, {}",
                self.config.primary_horizon_minutes, self.range
            ),
            "decisions, in time order",
            "cumulative net bps",
            &series,
        )
    }

    pub fn calibration_svg(&self) -> String {
        let mut series = Vec::new();
        if let Some(c) = &self.calibration {
            series.push((
                "engine (calibrated)".to_owned(),
                c.buckets
                    .iter()
                    .map(|b| (b.mean_confidence, b.hit_rate, b.trades))
                    .collect(),
            ));
        }
        series.push((
            "uncalibrated (before)".to_owned(),
            self.calibration_before
                .buckets
                .iter()
                .map(|b| (b.mean_confidence, b.hit_rate, b.trades))
                .collect(),
        ));
        crate::charts::calibration(
            &format!(
                "Calibration at {} min, {}",
                self.config.primary_horizon_minutes, self.range
            ),
            &series,
        )
    }

    /// Writes `report.md`, `cumulative.svg`, `calibration.svg` and `decisions.jsonl` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        std::fs::write(dir.join("cumulative.svg"), self.cumulative_svg())?;
        std::fs::write(dir.join("calibration.svg"), self.calibration_svg())?;
        let mut jsonl = String::new();
        for r in &self.records {
            jsonl.push_str(&r.to_string());
            jsonl.push('\n');
        }
        std::fs::write(dir.join("decisions.jsonl"), jsonl)
    }
}

/// The header of a table of [`row`]s.
const SUMMARY_HEAD: &str = "| policy | decisions | trades | fills | hit rate | net bps / trade | net bps / decision | 95% interval | cumulative bps | max drawdown bps |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |";

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

fn row(name: &str, s: &Summary) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {:+.2} | {:+.2} to {:+.2} | {:+.1} | {:.1} |",
        name,
        s.decisions,
        s.trades,
        s.fills,
        opt(s.hit_rate, 3),
        opt(s.mean_net_bps_per_trade, 2),
        s.mean_net_bps_per_decision,
        s.ci95.0,
        s.ci95.1,
        s.cumulative_net_bps,
        s.max_drawdown_bps
    )
}

fn calibration_table(md: &mut String, c: &CalibrationReport) {
    if c.trades == 0 {
        let _ = writeln!(md, "No trades to judge it by.");
        return;
    }
    let _ = writeln!(
        md,
        "| confidence | trades | mean confidence | realised hit rate |\n| --- | ---: | ---: | ---: |"
    );
    for b in &c.buckets {
        let _ = writeln!(
            md,
            "| {:.3} to {:.3} | {} | {:.3} | {:.3} |",
            b.min_confidence, b.max_confidence, b.trades, b.mean_confidence, b.hit_rate
        );
    }
    let _ = writeln!(
        md,
        "\nBrier score {:.4} over {} trades; a constant forecast of {:.3} scores {:.4}.",
        c.brier, c.trades, c.base_rate, c.brier_constant
    );
}
