//! The decision engine's benchmark: latency, throughput, CPU and memory of the release worker
//! and gateway on an embedded Temporal dev server, against the Temporal floor measured in the
//! same run, and how many SSE streams one gateway holds. Prints a table and writes
//! `docs/performance.md`. Run it with `scripts/bench.sh` (which builds the release binaries
//! first); `scripts/bench.sh --help` lists the sizes.
//!
//! Not a test: it asserts nothing about speed, and CI does not run it (CI only compiles it).

#[path = "decision_engine/capacity.rs"]
mod capacity;
#[path = "decision_engine/floor.rs"]
mod floor;
#[path = "decision_engine/measure.rs"]
mod measure;
#[path = "decision_engine/report.rs"]
mod report;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;
use torghut_integration_tests::{Logging, Stack, sample_request, stack_with};

use measure::{PhaseRun, ProcSample, proc_sample, run_jobs};
use report::{Figures, Phase, ProcDelta};

/// Sizes of a run. The defaults finish in a few minutes on a 2-core machine.
#[derive(Debug, Clone)]
pub struct Args {
    /// Measured decisions (and floor runs) per phase.
    pub decisions: usize,
    /// Concurrent clients of the loaded phases.
    pub clients: usize,
    /// Open SSE streams held against one gateway.
    pub streams: usize,
    /// Distinct runs those streams follow.
    pub stream_runs: usize,
    /// Unmeasured decisions and floor runs first, so connections and caches are warm.
    pub warmup: usize,
    /// How long the streams are held once open, to measure the gateway's idle CPU.
    pub hold_seconds: u64,
    pub out: PathBuf,
}

impl Args {
    pub const DEFAULT: Args = Args {
        decisions: 300,
        clients: 16,
        streams: 2000,
        stream_runs: 100,
        warmup: 10,
        hold_seconds: 10,
        out: PathBuf::new(),
    };

    /// True when any size is below its default: the figures are then a smoke run's.
    pub fn is_small(&self) -> bool {
        let d = &Self::DEFAULT;
        self.decisions < d.decisions || self.clients < d.clients || self.streams < d.streams
    }
}

const USAGE: &str = "decision_engine benchmark (run through scripts/bench.sh)

  --decisions D     measured decisions and floor runs per phase   (default 300)
  --clients N       concurrent clients of the loaded phases        (default 16)
  --streams S       SSE streams held open against one gateway      (default 2000)
  --stream-runs R   distinct open runs the streams are spread over (default 100)
  --warmup W        unmeasured decisions and floor runs first      (default 10)
  --hold-seconds H  how long the open streams are held             (default 10)
  --out PATH        where to write the report    (default docs/performance.md)";

fn parse_args(raw: &[String]) -> Result<Args> {
    let mut args = Args {
        out: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/performance.md"
        )),
        ..Args::DEFAULT
    };
    let mut it = raw.iter();
    while let Some(flag) = it.next() {
        // `cargo bench` appends `--bench` to a harness-less bench's arguments.
        if flag == "--bench" {
            continue;
        }
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it
            .next()
            .with_context(|| format!("{flag}: expected a value\n\n{USAGE}"))?;
        let number = || -> Result<usize> {
            value
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("{flag}: expected a positive whole number, got {value:?}"))
        };
        match flag.as_str() {
            "--decisions" => args.decisions = number()?,
            "--clients" => args.clients = number()?,
            "--streams" => args.streams = number()?,
            "--stream-runs" => args.stream_runs = number()?,
            "--warmup" => {
                args.warmup = value
                    .parse()
                    .with_context(|| format!("--warmup: expected a whole number, got {value:?}"))?
            }
            "--hold-seconds" => args.hold_seconds = u64::try_from(number()?)?,
            "--out" => args.out = PathBuf::from(value),
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    Ok(args)
}

/// The command that produced the figures, for the report: `scripts/bench.sh` passes its own
/// command line; run directly, this binary reconstructs the `cargo bench` one.
fn command_line(raw: &[String]) -> String {
    std::env::var("BENCH_COMMAND_LINE").unwrap_or_else(|_| {
        let args: Vec<&str> = raw
            .iter()
            .map(String::as_str)
            .filter(|a| *a != "--bench")
            .collect();
        format!(
            "cargo bench -p torghut-integration-tests --bench decision_engine -- {}",
            args.join(" ")
        )
    })
}

static STACK: OnceLock<Stack> = OnceLock::new();

fn main() -> Result<()> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args = parse_args(&raw)?;
    let fd_limit = measure::raise_fd_limit();
    if fd_limit < (args.streams as u64) * 2 + 1024 {
        eprintln!(
            "warning: the open-file limit is {fd_limit}; {} streams need about {} (raise it with `ulimit -n`)",
            args.streams,
            args.streams * 2 + 1024
        );
    }
    let bins = torghut_integration_tests::bin_dir()?;
    if bins.file_name().is_none_or(|d| d != "release") {
        eprintln!(
            "warning: measuring the binaries in {}, not a release build (run scripts/bench.sh)",
            bins.display()
        );
    }
    eprintln!(
        "starting the stack ({}, production log level)...",
        bins.display()
    );
    let stack = stack_with(
        &STACK,
        &[("TORGHUT_FAULTS", capacity::FAULTS)],
        Logging::Production,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let load_before = measure::load_average();
    let mut figures = runtime.block_on(run(stack, &args))?;
    figures.load = (load_before, measure::load_average());
    let command = command_line(&raw);
    let text = report::markdown(&figures, &args, &command, fd_limit, &bins);
    println!("{}", report::table(&figures, &args));
    std::fs::write(&args.out, text).with_context(|| format!("writing {}", args.out.display()))?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The processes whose CPU a phase is charged with.
struct Pids {
    worker: String,
    gateway: String,
    temporal: String,
}

struct ProcSnap {
    worker: ProcSample,
    gateway: ProcSample,
    temporal: ProcSample,
    bench: ProcSample,
}

impl Pids {
    fn snap(&self) -> Result<ProcSnap> {
        Ok(ProcSnap {
            worker: proc_sample(&self.worker)?,
            gateway: proc_sample(&self.gateway)?,
            temporal: proc_sample(&self.temporal)?,
            bench: proc_sample("self")?,
        })
    }
}

fn delta(before: &ProcSnap, after: &ProcSnap) -> ProcDelta {
    let d = |a: &ProcSample, b: &ProcSample| b.cpu_ticks.saturating_sub(a.cpu_ticks);
    ProcDelta {
        worker: d(&before.worker, &after.worker),
        gateway: d(&before.gateway, &after.gateway),
        temporal: d(&before.temporal, &after.temporal),
        bench: d(&before.bench, &after.bench),
    }
}

/// A decision request like `scripts/sample-request.json`, varied as Torghut's would be: three
/// symbols (the fourth, AIG, is kept for the SSE streams, whose runs are slowed on purpose) and
/// as-of times over the 2013-10-08 session. The phase's decisions share one account, so their
/// reservations meet in one exposure ledger as concurrent decisions of one account do; its
/// buying power is large enough that the ledger never runs out during the run, which would
/// turn later decisions into resized ones.
fn decision_body(i: usize, account: &str) -> Value {
    let symbols = ["IBM", "SPY", "BAC"];
    let symbol = symbols[i % symbols.len()];
    let mut b = sample_request();
    b["symbol"] = json!(symbol);
    b["portfolio"]["position"]["symbol"] = json!(symbol);
    b["portfolio"]["buying_power"] = json!("10000000");
    b["strategy_id"] = json!("bench-decision-engine");
    b["account_id"] = json!(account);
    let minute = 30 + (i * 7) % 360;
    b["trigger"]["event_ts"] = json!(format!(
        "2013-10-08T{:02}:{:02}:00Z",
        13 + minute / 60,
        minute % 60
    ));
    b
}

fn account(phase: &str) -> String {
    format!(
        "bench-{phase}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Decisions `jobs` of a phase, all for `account`.
async fn engine(
    http: &reqwest::Client,
    url: &str,
    clients: usize,
    jobs: Range<usize>,
    account: &str,
) -> PhaseRun {
    run_jobs(clients, jobs, |i| {
        let body = decision_body(i, account);
        async move { measure::decision_once(http, url, &body).await }
    })
    .await
}

/// Floor runs `jobs` of a phase; run `i` reserves in the ledger when `reserves` says decision
/// `i` did (unknown: it does).
async fn floor_runs(
    client: &temporalio_client::Client,
    clients: usize,
    jobs: Range<usize>,
    account: &str,
    reserves: &HashMap<usize, bool>,
) -> PhaseRun {
    run_jobs(clients, jobs, |i| {
        let symbol = ["IBM", "SPY", "BAC"][i % 3];
        let reserve = reserves.get(&i).copied().unwrap_or(true);
        async move { floor::run_once(client, symbol, account, reserve).await }
    })
    .await
}

/// Runs per block. Engine and floor alternate in blocks, so the load a neighbour puts on a
/// shared machine, which comes and goes over seconds, falls on both alike; a block is long
/// enough (eight per client) that its start and end, with fewer than N in flight, weigh
/// little in the throughput.
fn block_size(clients: usize) -> usize {
    (8 * clients).max(50)
}

async fn run(stack: &'static Stack, args: &Args) -> Result<Figures> {
    let pids = Pids {
        worker: stack.pid("worker")?.to_string(),
        gateway: stack.pid("gateway")?.to_string(),
        temporal: stack.pid("temporal")?.to_string(),
    };
    // The floor's worker and its clients get a connection each, as the worker and the gateway do.
    floor::start_worker(stack.temporal().await?)?;
    let temporal = stack.temporal().await?;
    let http = reqwest::Client::new();
    let url = stack.url("/api/torghut/decision-engine/stream");
    let (n, d) = (args.clients, args.decisions);

    eprintln!(
        "warming up ({} decisions, {} floor runs)...",
        args.warmup, args.warmup
    );
    let warm = engine(&http, &url, n.min(4), 0..args.warmup, &account("warmup")).await;
    let warm_floor = floor_runs(
        &temporal,
        n.min(4),
        0..args.warmup,
        &account("warmup-floor"),
        &HashMap::new(),
    )
    .await;
    if let Some(e) = warm.failures.iter().chain(&warm_floor.failures).next() {
        bail!("warm-up failed: {e}");
    }

    let mut phases = Vec::new();
    for (clients, label) in [(1, "1 client"), (n, "N clients")] {
        let (engine_account, floor_account) = (
            account(&format!("engine-{clients}")),
            account(&format!("floor-{clients}")),
        );
        let (mut engine_run, mut floor_run) = (PhaseRun::default(), PhaseRun::default());
        let (mut engine_cpu, mut floor_cpu) = (ProcDelta::default(), ProcDelta::default());
        let mut start = 0;
        while start < d {
            let jobs = start..(start + block_size(clients)).min(d);
            eprintln!(
                "engine, then floor, at {}: runs {}..{} of {d}",
                report::clients(clients),
                jobs.start,
                jobs.end
            );
            let before = pids.snap()?;
            let run = engine(&http, &url, clients, jobs.clone(), &engine_account).await;
            engine_cpu += delta(&before, &pids.snap()?);
            // The floor goes second, to reserve for exactly the runs whose decision did.
            let reserves: HashMap<usize, bool> =
                run.samples.iter().map(|s| (s.index, s.reserved)).collect();
            engine_run.extend(run);

            let before = pids.snap()?;
            let run = floor_runs(&temporal, clients, jobs.clone(), &floor_account, &reserves).await;
            floor_cpu += delta(&before, &pids.snap()?);
            floor_run.extend(run);
            start = jobs.end;
        }
        phases.push(Phase::new("engine", label, clients, engine_run, engine_cpu));
        phases.push(Phase::new("floor", label, clients, floor_run, floor_cpu));
    }
    let after_load = pids.snap()?;

    eprintln!(
        "holding {} SSE streams over {} slow runs...",
        args.streams, args.stream_runs
    );
    let capacity = capacity::measure(
        stack,
        args.streams,
        args.stream_runs,
        Duration::from_secs(args.hold_seconds),
    )
    .await?;
    let end = pids.snap()?;
    Ok(Figures {
        phases,
        worker_after_load: after_load.worker,
        gateway_after_load: after_load.gateway,
        worker_end: end.worker,
        gateway_end: end.gateway,
        capacity,
        clock_ticks: measure::clock_ticks(),
        load: (0.0, 0.0),
    })
}
