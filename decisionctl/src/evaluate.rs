//! `decisionctl evaluate`: the edge of `torghut-evaluation`: providers, progress bar, files,
//! and the `--through-engine` check against a running stack.

use anyhow::{Context, Result, anyhow, bail};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use torghut_activities::context::Providers;
use torghut_evaluation::config::{DateRange, EvalConfig, parse_date};
use torghut_evaluation::decide::{self, RoutingSetup};
use torghut_evaluation::report::Evaluation;
use torghut_evaluation::run::{self, Dataset};
use torghut_policy::calibration::Calibration;
use torghut_proto::v1::DecisionIntent;

pub struct Args<'a> {
    pub config: &'a Path,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub train: Option<&'a str>,
    pub test: Option<&'a str>,
    pub out: &'a Path,
    pub write_calibration: Option<&'a Path>,
    pub through_engine: Option<usize>,
    /// The artifact to judge by instead of the shipped one (as the gateway's
    /// `TORGHUT_CALIBRATION_FILE`).
    pub calibration: Option<&'a Path>,
    pub command: String,
}

fn calibration(path: Option<&Path>) -> Result<Calibration> {
    match path {
        None => Ok(Calibration::embedded()),
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a calibration artifact", p.display()))
        }
    }
}

/// A bar on stderr while the skills run, when stderr is a terminal.
fn progress(label: &str) -> impl FnMut(usize, usize) + '_ {
    let tty = std::io::stderr().is_terminal();
    move |done, total| {
        if !tty || (done != total && done % 10 != 0) {
            return;
        }
        let width = 40;
        let filled = width * done / total.max(1);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{label} [{}{}] {done}/{total}",
            "#".repeat(filled),
            "-".repeat(width - filled)
        );
        if done == total {
            let _ = writeln!(err);
        }
    }
}

fn collect(
    providers: &Providers,
    cfg: &EvalConfig,
    range: DateRange,
    label: &str,
) -> Result<Dataset> {
    let mut bar = progress(label);
    run::collect(providers, cfg, range, &mut bar).map_err(|e| anyhow!("{label}: {e}"))
}

pub async fn evaluate(args: Args<'_>, http: &reqwest::Client, api: &str) -> Result<()> {
    let text = std::fs::read_to_string(args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    let cfg = EvalConfig::parse(&text).map_err(|e| anyhow!("{}: {e}", args.config.display()))?;
    let providers = Providers::from_env().context("setting up the data providers")?;
    let routing = RoutingSetup::default();
    let given = calibration(args.calibration)?;

    let (evaluation, fitted) = match (args.train, args.test) {
        (Some(train), Some(test)) => {
            let train = DateRange::parse(train).map_err(|e| anyhow!("--train: {e}"))?;
            let test = DateRange::parse(test).map_err(|e| anyhow!("--test: {e}"))?;
            if train.overlaps(&test) {
                bail!(
                    "--train {train} and --test {test} overlap: nothing may be tuned on the range that is reported"
                );
            }
            let train_ds = collect(&providers, &cfg, train, "training range")?;
            let fitted = run::fit_calibration(&train_ds, &cfg, train, routing)?;
            let test_ds = collect(&providers, &cfg, test, "reported range")?;
            let e = Evaluation::compute(
                args.command.clone(),
                &cfg,
                &test_ds,
                test,
                Some(train),
                Some(fitted.clone()),
                routing,
            )?;
            (e, Some(fitted))
        }
        (None, None) => {
            let (Some(from), Some(to)) = (args.from, args.to) else {
                bail!("give --from and --to, or --train and --test");
            };
            let range = DateRange::new(parse_date(from)?, parse_date(to)?)?;
            let ds = collect(&providers, &cfg, range, "range")?;
            let e = Evaluation::compute(
                args.command.clone(),
                &cfg,
                &ds,
                range,
                None,
                Some(given.clone()),
                routing,
            )?;
            (e, None)
        }
        _ => bail!("--train and --test go together"),
    };
    evaluation
        .write(args.out)
        .with_context(|| format!("writing the report into {}", args.out.display()))?;
    println!("{}", evaluation.verdict());
    println!("report: {}", args.out.join("report.md").display());
    if let Some(path) = args.write_calibration {
        let Some(cal) = fitted else {
            bail!("--write-calibration needs --train: a calibration is fitted on a training range");
        };
        std::fs::write(path, serde_json::to_string_pretty(&cal)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("calibration {} written to {}", cal.version, path.display());
    }
    if let Some(n) = args.through_engine {
        let range = match (args.test, args.from, args.to) {
            (Some(t), _, _) => DateRange::parse(t)?,
            (None, Some(f), Some(t)) => DateRange::new(parse_date(f)?, parse_date(t)?)?,
            _ => bail!("--through-engine needs a range"),
        };
        let ds = collect(&providers, &cfg, range, "through-engine sample")?;
        through_engine(&cfg, &ds, n, given, routing, http, api).await?;
    }
    Ok(())
}

/// The fields of an intent that the engine and the offline path must agree on. Left out: the
/// artifact references (they name the Temporal run) and the reserved notional (the exposure
/// ledger's answer, which the offline path does not consult).
fn comparable(i: &DecisionIntent) -> serde_json::Value {
    let mut v = serde_json::to_value(i).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("artifact_refs");
        o.remove("reserved_notional");
    }
    v
}

/// Sends `n` of the range's triggers (spread over it) through the running gateway and checks
/// that every intent equals the offline one. The gateway must run with the same calibration
/// (`--calibration` and `TORGHUT_CALIBRATION_FILE` name the same file, or neither is set) and
/// the configuration's thresholds.
async fn through_engine(
    cfg: &EvalConfig,
    ds: &Dataset,
    n: usize,
    calibration: Calibration,
    routing: RoutingSetup,
    http: &reqwest::Client,
    api: &str,
) -> Result<()> {
    let policy = run::policy_from(cfg, Some(calibration));
    let step = (ds.cases.len() / n.max(1)).max(1);
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for case in ds.cases.iter().step_by(step).take(n) {
        let mut request = case.request.clone();
        // A fresh run and a ledger account of its own, so no earlier run or reservation colours it.
        request.request_id = uuid::Uuid::new_v4().to_string();
        request.account_id = Some(format!("eval-{}", request.request_id));
        let (_, offline) = decide::decide(&request, &case.outputs, &policy, routing)?;
        let resp = http
            .post(format!("{api}/stream"))
            .header("content-type", "application/json")
            .json(&request)
            .send()
            .await
            .with_context(|| format!("POST {api}/stream"))?;
        if !resp.status().is_success() {
            bail!(
                "gateway answered {} for {}",
                resp.status(),
                request.request_id
            );
        }
        let engine = final_intent(resp).await?;
        checked += 1;
        if comparable(&engine) != comparable(&offline) {
            mismatches.push(format!(
                "{} {} {}:\n  engine  {}\n  offline {}",
                case.signal.symbol,
                case.signal.event_ts,
                request.request_id,
                comparable(&engine),
                comparable(&offline)
            ));
        }
    }
    if !mismatches.is_empty() {
        bail!(
            "{} of {checked} intents differ between the engine and the offline evaluation:\n{}",
            mismatches.len(),
            mismatches.join("\n")
        );
    }
    println!("through-engine: {checked} of {checked} intents identical to the offline evaluation");
    Ok(())
}

/// The intent of the stream's `decision.final`.
async fn final_intent(resp: reqwest::Response) -> Result<DecisionIntent> {
    let intent = crate::read_events(resp, |event, data| match event {
        "decision.final" => {
            let v: serde_json::Value = serde_json::from_str(data)?;
            let intent = v
                .pointer("/payload/intent")
                .cloned()
                .ok_or_else(|| anyhow!("decision.final without an intent: {data}"))?;
            Ok(Some(serde_json::from_value(intent)?))
        }
        "decision.error" => bail!("the engine answered decision.error: {data}"),
        _ => Ok(None),
    })
    .await?;
    intent.ok_or_else(|| anyhow!("the stream ended without a final event"))
}

pub fn default_out() -> PathBuf {
    PathBuf::from("evaluation-report")
}
