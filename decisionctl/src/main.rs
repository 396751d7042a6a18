//! `decisionctl`: the operator's command line for the decision engine.

mod evaluate;
mod intraday;
mod sample;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use futures::StreamExt;
use rust_decimal::Decimal;
use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use temporalio_client::{Client, ClientOptions, Connection, WorkflowHistory};
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use torghut_config::keys;
use torghut_policy::analysis::PolicyConfig;
use torghut_policy::review::{self, RecordedDecision};
use torghut_workflows::{DecisionWorkflow, ExposureLedger, ids};

const ABOUT: &str = "Operate the Torghut decision engine: start decisions, follow them, inspect and \
cancel runs, export and check Temporal histories, and replay past decisions through the current \
policy.";

const LONG_ABOUT: &str = "decisionctl talks to the gateway over HTTP for runs, and to Temporal \
directly for histories. A RUN is a run id as the API returns it (decision-<request_id>) or the bare \
request_id.

Exit status is 0 on success, 1 on any failure (the message says which input and why), and for \
`replay` 0 whether or not decisions changed: read the report.";

const EXAMPLES: &str = "EXAMPLES:
    Start a decision and follow it to its final:
        decisionctl submit scripts/sample-request.json --stream

    Resume a stream after the last event you saw (id 3):
        decisionctl watch decision-8a1c2f5e-0d4b-4c1e-9f6a-2b3c4d5e6f70 --after 3

    Export a run's history and check that the current build still replays it:
        decisionctl history 8a1c2f5e-0d4b-4c1e-9f6a-2b3c4d5e6f70 -o run.json
        decisionctl check-history run.json

    Before shipping a stricter quality gate, see what it would have changed:
        decisionctl replay activities/data/samples/historical-decisions.jsonl --min-context-quality 0.7 -o report.md

ENVIRONMENT:
    TORGHUT_GATEWAY_URL   gateway base URL (default http://127.0.0.1:8080)
    TEMPORAL_ADDRESS      Temporal frontend (default http://127.0.0.1:7233)
    TEMPORAL_NAMESPACE    namespace (default default)";

#[derive(Parser)]
#[command(name = "decisionctl", version, about = ABOUT, long_about = LONG_ABOUT, after_long_help = EXAMPLES)]
struct Cli {
    /// Gateway base URL.
    #[arg(
        long,
        env = keys::TORGHUT_GATEWAY_URL.env,
        default_value = keys::TORGHUT_GATEWAY_URL.default_value(),
        global = true
    )]
    gateway: String,
    /// Temporal frontend URL (for `history`).
    #[arg(
        long,
        env = keys::TEMPORAL_ADDRESS.env,
        default_value = keys::TEMPORAL_ADDRESS.default_value(),
        global = true
    )]
    temporal: String,
    /// Temporal namespace.
    #[arg(
        long,
        env = keys::TEMPORAL_NAMESPACE.env,
        default_value = keys::TEMPORAL_NAMESPACE.default_value(),
        global = true
    )]
    namespace: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum LoopCommand {
    /// Create or update (idempotently) the Temporal Schedule that starts the loop each trading
    /// weekday at the window's start, New York time.
    Schedule {
        /// Loop configuration (JSON: strategy_id, watchlist, template, cadence_seconds, window,
        /// trading_days_only, max_concurrent, kill_switch).
        config: PathBuf,
        #[arg(long)]
        id: String,
        /// Create or leave the schedule paused: it starts nothing until unpaused.
        #[arg(long)]
        paused: bool,
        /// Start every N seconds instead of once a session (tests and demos).
        #[arg(long)]
        every_seconds: Option<u64>,
        #[arg(long, env = keys::TORGHUT_TASK_QUEUE.env, default_value = keys::TORGHUT_TASK_QUEUE.default_value())]
        task_queue: String,
    },
    /// Turn the kill switch of running loops on or off (in-flight decisions finish). Pause the
    /// schedule to stop future sessions.
    KillSwitch {
        /// A schedule id (every loop it is running) or a loop's workflow id.
        target: String,
        /// on or off.
        state: String,
    },
    /// Replay one trading day of the embedded data through the loop and write its report.
    ReplayDay {
        config: PathBuf,
        /// The New York session date, e.g. 2013-10-08.
        #[arg(long)]
        date: chrono::NaiveDate,
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Also write the summary as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, env = keys::TORGHUT_TASK_QUEUE.env, default_value = keys::TORGHUT_TASK_QUEUE.default_value())]
        task_queue: String,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Submit a decision request (a JSON file, or - for standard input).
    ///
    /// Without --stream: POST /runs and print {run_id, status_url, events_url}. With --stream:
    /// POST /stream and print each event as it arrives, one JSON line per event. Submitting the
    /// same request_id again joins the existing run.
    Submit {
        file: PathBuf,
        #[arg(long)]
        stream: bool,
    },
    /// Follow a run's events until its final or error, one JSON line per event.
    Watch {
        run: String,
        /// Resume after this event id (what `Last-Event-ID` would say).
        #[arg(long)]
        after: Option<u64>,
    },
    /// Print a run's status, its events so far and its final or error.
    Get { run: String },
    /// Cancel a running decision. It releases what it reserved and ends with code "cancelled".
    Cancel { run: String },
    /// Export a run's Temporal history as JSON (the format `check-history` and the replay tests read).
    History {
        run: String,
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Replay exported histories against this build's workflow code; fails on non-determinism.
    CheckHistory {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Re-run recorded decisions (JSONL: request, skill_outputs, intent) through the current
    /// policy and report what would change, largest changes first.
    Replay {
        file: PathBuf,
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Override the quality gate, to preview a policy change.
        #[arg(long)]
        min_context_quality: Option<String>,
        /// Override the |score| needed to trade.
        #[arg(long)]
        min_abs_score: Option<String>,
        /// Replay without a calibration: the policy before confidence was calibrated, which
        /// recorded decisions older than it were made under.
        #[arg(long)]
        uncalibrated: bool,
    },
    /// The intraday loop: its schedule, its kill switch, and day replays.
    #[command(subcommand, name = "loop")]
    Loop(LoopCommand),
    /// Score the policy's decisions by what happened next, net of costs, against baselines:
    /// the triggers of a date range decided offline with the engine's own code, a report with
    /// error bars, calibration and ablation, charts and every scored decision. With --train and
    /// --test, the calibration is fitted on the first range and reported on the second.
    Evaluate {
        /// Evaluation config (JSON): watchlist, request template, horizons, costs, fit settings.
        config: PathBuf,
        /// First session day of the reported range (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Last session day of the reported range.
        #[arg(long)]
        to: Option<String>,
        /// Training range FROM..TO: the calibration is fitted here only.
        #[arg(long)]
        train: Option<String>,
        /// Reported range FROM..TO, after the training range and not overlapping it.
        #[arg(long)]
        test: Option<String>,
        /// Directory for report.md, the charts and decisions.jsonl.
        #[arg(short, long, default_value_os_t = evaluate::default_out())]
        out: PathBuf,
        /// Write the calibration fitted on --train to this file (the shipped one is
        /// policy/calibration/default.json).
        #[arg(long)]
        write_calibration: Option<PathBuf>,
        /// Also send N of the range's triggers through the running gateway and check that its
        /// intents are identical to the offline ones.
        #[arg(long, value_name = "N")]
        through_engine: Option<usize>,
        /// Judge by this calibration artifact instead of the shipped one (with --from/--to and
        /// --through-engine; as the gateway's TORGHUT_CALIBRATION_FILE).
        #[arg(long)]
        calibration: Option<PathBuf>,
    },
    /// Record sample decisions over the embedded dataset (JSONL for `replay`).
    Sample {
        #[arg(short, long)]
        out: PathBuf,
    },
}

async fn check(resp: reqwest::Response) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    bail!("gateway answered {status}: {body}")
}

/// Reads an SSE response and hands each frame's `(event, data)` to `on_event`, until it answers
/// `Some` or the stream ends (`None`).
pub(crate) async fn read_events<T>(
    resp: reqwest::Response,
    mut on_event: impl FnMut(&str, &str) -> Result<Option<T>>,
) -> Result<Option<T>> {
    let mut body = resp.bytes_stream();
    let (mut buf, mut event) = (String::new(), String::new());
    while let Some(chunk) = body.next().await {
        buf.push_str(&String::from_utf8_lossy(
            &chunk.context("reading the stream")?,
        ));
        while let Some(end) = buf.find('\n') {
            let line: String = buf.drain(..=end).collect();
            let line = line.trim_end();
            if let Some(e) = line.strip_prefix("event: ") {
                event = e.to_owned();
            } else if let Some(d) = line.strip_prefix("data: ")
                && let Some(done) = on_event(&event, d)?
            {
                return Ok(Some(done));
            }
        }
    }
    Ok(None)
}

/// Prints SSE events as JSON lines; returns an error if the stream ends without a final.
async fn print_events(resp: reqwest::Response) -> Result<()> {
    let stdout = std::io::stdout();
    let terminal = read_events(resp, |event, data| {
        writeln!(stdout.lock(), "{data}")?;
        Ok((event == "decision.final" || event == "decision.error").then(|| event.to_owned()))
    })
    .await?;
    match terminal.as_deref() {
        Some("decision.final") => Ok(()),
        Some(_) => bail!("the decision ended with decision.error"),
        None => bail!("the stream ended without a final event"),
    }
}

async fn temporal(cli: &Cli) -> Result<Client> {
    // TLS and the API key come from the same TEMPORAL_* variables as the worker's.
    let settings = torghut_connect::TemporalSettings::with_address(&cli.temporal, &cli.namespace)
        .map_err(|e| anyhow::anyhow!("--temporal / {e}"))?;
    let conn = Connection::connect(settings.connection_options())
        .await
        .with_context(|| format!("connecting to Temporal at {}", cli.temporal))?;
    Ok(Client::new(
        conn,
        ClientOptions::new(cli.namespace.clone()).build(),
    )?)
}

fn read_records(path: &PathBuf) -> Result<Vec<RecordedDecision>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not a recorded decision", path.display(), i + 1))
        })
        .collect()
}

fn decimal_arg(name: &str, raw: &Option<String>) -> Result<Option<Decimal>> {
    raw.as_deref()
        .map(|r| {
            Decimal::from_str(r).with_context(|| format!("{name}: expected a decimal, got {r:?}"))
        })
        .transpose()
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let http = reqwest::Client::new();
    let api = format!(
        "{}/api/torghut/decision-engine",
        cli.gateway.trim_end_matches('/')
    );
    match &cli.command {
        Command::Submit { file, stream } => {
            let body = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let path = if *stream { "stream" } else { "runs" };
            let resp = http
                .post(format!("{api}/{path}"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .with_context(|| format!("POST {api}/{path}"))?;
            let resp = check(resp).await?;
            if *stream {
                print_events(resp).await?;
            } else {
                println!("{}", resp.text().await?);
            }
        }
        Command::Watch { run, after } => {
            let mut req = http.get(format!(
                "{api}/runs/{}/events",
                ids::decision_from_either(run)
            ));
            if let Some(a) = after {
                req = req.header("Last-Event-ID", a.to_string());
            }
            print_events(check(req.send().await?).await?).await?;
        }
        Command::Get { run } => {
            let resp = check(
                http.get(format!("{api}/runs/{}", ids::decision_from_either(run)))
                    .send()
                    .await?,
            )
            .await?;
            let v: serde_json::Value = resp.json().await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Command::Cancel { run } => {
            let resp = check(
                http.post(format!(
                    "{api}/runs/{}/cancel",
                    ids::decision_from_either(run)
                ))
                .send()
                .await?,
            )
            .await?;
            println!("{}", resp.text().await?);
        }
        Command::History { run, out } => {
            let client = temporal(&cli).await?;
            let json = client
                .get_workflow_handle::<temporalio_client::UntypedWorkflow>(
                    ids::decision_from_either(run),
                )
                .fetch_history(Default::default())
                .to_json()
                .await
                .with_context(|| {
                    format!("fetching the history of {}", ids::decision_from_either(run))
                })?;
            match out {
                Some(p) => {
                    std::fs::write(p, &json).with_context(|| format!("writing {}", p.display()))?
                }
                None => std::io::stdout().write_all(&json)?,
            }
        }
        Command::CheckHistory { files } => {
            let options = WorkflowReplayerOptions::new()
                .register_workflow::<DecisionWorkflow>()?
                .register_workflow::<ExposureLedger>()?
                .build();
            let replayer = WorkflowReplayer::new(options)?;
            let mut failed = 0;
            for f in files {
                let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
                let history = WorkflowHistory::from_json(&bytes)
                    .with_context(|| format!("{}: not a history", f.display()))?;
                match replayer.replay_workflow(history).await {
                    Ok(()) => println!("ok      {}", f.display()),
                    Err(e) => {
                        failed += 1;
                        println!("FAILED  {}: {e}", f.display());
                    }
                }
            }
            if failed > 0 {
                bail!(
                    "{failed} of {} histories do not replay against this build",
                    files.len()
                );
            }
        }
        Command::Replay {
            file,
            out,
            min_context_quality,
            min_abs_score,
            uncalibrated,
        } => {
            let mut policy = if *uncalibrated {
                PolicyConfig::uncalibrated()
            } else {
                PolicyConfig::default()
            };
            if let Some(q) = decimal_arg("--min-context-quality", min_context_quality)? {
                policy.min_context_quality = q;
            }
            if let Some(s) = decimal_arg("--min-abs-score", min_abs_score)? {
                policy.min_abs_score = s;
            }
            let records = read_records(file)?;
            let report = review::compare(&records, &policy);
            let markdown = report.to_markdown(&policy);
            match out {
                Some(p) => std::fs::write(p, &markdown)
                    .with_context(|| format!("writing {}", p.display()))?,
                None => print!("{markdown}"),
            }
            eprintln!(
                "{} decisions: {} unchanged, {} changed ({} action changes)",
                report.total,
                report.unchanged,
                report.changes.len(),
                report.action_changes.values().sum::<usize>()
            );
        }
        Command::Loop(cmd) => {
            let client = temporal(&cli).await?;
            match cmd {
                LoopCommand::Schedule {
                    config,
                    id,
                    paused,
                    every_seconds,
                    task_queue,
                } => {
                    let cfg = intraday::read_config(config)?;
                    let every = every_seconds.map(std::time::Duration::from_secs);
                    let what =
                        intraday::upsert_schedule(&client, id, task_queue, cfg, every, *paused)
                            .await?;
                    println!(
                        "{}",
                        serde_json::json!({"schedule_id": id, "result": what, "paused": paused,
                            "loop_workflow_id": torghut_workflows::ids::intraday_loop(id)})
                    );
                }
                LoopCommand::KillSwitch { target, state } => {
                    let on = intraday::on_off(state)?;
                    let reached = intraday::set_kill_switch(&client, target, on).await?;
                    println!(
                        "{}",
                        serde_json::json!({"workflow_ids": reached, "kill_switch": on})
                    );
                }
                LoopCommand::ReplayDay {
                    config,
                    date,
                    out,
                    json,
                    task_queue,
                } => {
                    let cfg = intraday::read_config(config)?;
                    let watchlist = cfg.watchlist.clone();
                    let (workflow_id, summary) =
                        intraday::replay_day(&client, task_queue, cfg, *date).await?;
                    let markdown = intraday::report(*date, &workflow_id, &watchlist, &summary);
                    if let Some(p) = json {
                        std::fs::write(p, serde_json::to_vec_pretty(&summary)?)
                            .with_context(|| format!("writing {}", p.display()))?;
                    }
                    match out {
                        Some(p) => std::fs::write(p, &markdown)
                            .with_context(|| format!("writing {}", p.display()))?,
                        None => print!("{markdown}"),
                    }
                }
            }
        }
        Command::Evaluate {
            config,
            from,
            to,
            train,
            test,
            out,
            write_calibration,
            through_engine,
            calibration,
        } => {
            let command = std::iter::once("decisionctl".to_owned())
                .chain(std::env::args().skip(1))
                .collect::<Vec<_>>()
                .join(" ");
            evaluate::evaluate(
                evaluate::Args {
                    config,
                    from: from.as_deref(),
                    to: to.as_deref(),
                    train: train.as_deref(),
                    test: test.as_deref(),
                    out,
                    write_calibration: write_calibration.as_deref(),
                    through_engine: *through_engine,
                    calibration: calibration.as_deref(),
                    command,
                },
                &http,
                &api,
            )
            .await?;
        }
        Command::Sample { out } => {
            let records = sample::record()?;
            let mut text = String::new();
            for r in &records {
                text.push_str(&serde_json::to_string(r)?);
                text.push('\n');
            }
            std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
            eprintln!("recorded {} decisions to {}", records.len(), out.display());
        }
    }
    Ok(())
}
