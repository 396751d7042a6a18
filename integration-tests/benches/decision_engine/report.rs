//! The figures of a run, as a terminal table and as `docs/performance.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::Args;
use crate::capacity::{self, Capacity};
use crate::measure::{PHASE_NAMES, PhaseRun, ProcSample, ms, percentile, sorted};

/// The targets of issue 9: latency over the floor, streams per gateway, worker memory.
const LATENCY_RATIO_TARGET: f64 = 1.3;
const STREAMS_TARGET: usize = 2000;
const GATEWAY_RSS_TARGET_MB: f64 = 200.0;
const WORKER_RSS_TARGET_MB: f64 = 100.0;

/// CPU ticks a phase cost each process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcDelta {
    pub worker: u64,
    pub gateway: u64,
    pub temporal: u64,
    /// The benchmark process: the clients, and for the floor also the floor's worker.
    pub bench: u64,
}

impl std::ops::AddAssign for ProcDelta {
    fn add_assign(&mut self, other: Self) {
        self.worker += other.worker;
        self.gateway += other.gateway;
        self.temporal += other.temporal;
        self.bench += other.bench;
    }
}

/// One measured phase: the engine or the floor at one concurrency.
pub struct Phase {
    pub system: &'static str,
    pub label: &'static str,
    pub clients: usize,
    pub count: usize,
    pub failures: usize,
    pub first_failure: Option<String>,
    pub wall: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub first_event_p50: Duration,
    pub result_p50: Option<Duration>,
    /// p50 and p95 of each of [`PHASE_NAMES`].
    pub phase_p50: [Duration; 4],
    pub phase_p95: [Duration; 4],
    pub outcomes: BTreeMap<String, usize>,
    pub cpu: ProcDelta,
}

impl Phase {
    pub fn new(
        system: &'static str,
        label: &'static str,
        clients: usize,
        run: PhaseRun,
        cpu: ProcDelta,
    ) -> Self {
        let s = &run.samples;
        let latency = sorted(s.iter().map(|x| x.latency).collect());
        let first = sorted(s.iter().map(|x| x.first_event).collect());
        let results: Vec<Duration> = s.iter().filter_map(|x| x.result).collect();
        let phases: Vec<[Duration; 4]> = s
            .iter()
            .filter_map(|x| x.phases())
            .map(|p| p.as_array())
            .collect();
        let per_phase =
            |i: usize, p: u32| percentile(&sorted(phases.iter().map(|a| a[i]).collect()), p);
        let mut outcomes = BTreeMap::new();
        for x in s {
            *outcomes.entry(x.outcome.clone()).or_insert(0) += 1;
        }
        Self {
            system,
            label,
            clients,
            count: s.len(),
            failures: run.failures.len(),
            first_failure: run.failures.first().cloned(),
            wall: run.wall,
            p50: percentile(&latency, 50),
            p95: percentile(&latency, 95),
            p99: percentile(&latency, 99),
            first_event_p50: percentile(&first, 50),
            result_p50: (!results.is_empty()).then(|| percentile(&sorted(results), 50)),
            phase_p50: std::array::from_fn(|i| per_phase(i, 50)),
            phase_p95: std::array::from_fn(|i| per_phase(i, 95)),
            outcomes,
            cpu,
        }
    }

    pub fn rate(&self) -> f64 {
        self.count as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// CPU seconds per 1,000 completed runs of `ticks`.
    fn per_thousand(&self, ticks: u64, hz: u64) -> f64 {
        ticks as f64 / hz as f64 / self.count.max(1) as f64 * 1000.0
    }

    /// Cores kept busy on average by `ticks` over the phase.
    fn cores(&self, ticks: u64, hz: u64) -> f64 {
        ticks as f64 / hz as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

pub struct Figures {
    pub phases: Vec<Phase>,
    pub worker_after_load: ProcSample,
    pub gateway_after_load: ProcSample,
    pub worker_end: ProcSample,
    pub gateway_end: ProcSample,
    pub capacity: Capacity,
    pub clock_ticks: u64,
    /// The machine's 1-minute load average when the run started and when it ended.
    pub load: (f64, f64),
}

impl Figures {
    fn phase(&self, system: &str, label: &str) -> Option<&Phase> {
        self.phases
            .iter()
            .find(|p| p.system == system && p.label == label)
    }

    /// The engine's p50 over the floor's, at one concurrency.
    fn ratio(&self, label: &str) -> Option<f64> {
        let (e, f) = (self.phase("engine", label)?, self.phase("floor", label)?);
        (f.p50 > Duration::ZERO).then(|| e.p50.as_secs_f64() / f.p50.as_secs_f64())
    }
}

pub fn clients(n: usize) -> String {
    if n == 1 {
        "1 client".to_owned()
    } else {
        format!("{n} clients")
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**not met**" }
}

/// The short table printed at the end of a run.
pub fn table(f: &Figures, args: &Args) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<8} {:>8} {:>6} {:>9} {:>9} {:>9} {:>10} {:>6}",
        "system", "clients", "runs", "p50 ms", "p95 ms", "p99 ms", "per s", "fails"
    );
    for p in &f.phases {
        let _ = writeln!(
            out,
            "{:<8} {:>8} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>6}",
            p.system,
            p.clients,
            p.count,
            ms(p.p50),
            ms(p.p95),
            ms(p.p99),
            p.rate(),
            p.failures
        );
    }
    for label in ["1 client", "N clients"] {
        if let Some(r) = f.ratio(label) {
            let _ = writeln!(out, "engine p50 / floor p50 at {label}: {r:.2}x");
        }
    }
    let hz = f.clock_ticks;
    if let Some(p) = f.phase("engine", "N clients") {
        let _ = writeln!(
            out,
            "CPU s per 1,000 decisions at N={}: worker {:.1}, gateway {:.1}, temporal {:.1}",
            args.clients,
            p.per_thousand(p.cpu.worker, hz),
            p.per_thousand(p.cpu.gateway, hz),
            p.per_thousand(p.cpu.temporal, hz)
        );
    }
    let _ = writeln!(
        out,
        "worker RSS after load {:.1} MB (peak {:.1}); gateway {:.1} MB (peak {:.1})",
        mb(f.worker_after_load.rss_kb),
        mb(f.worker_after_load.hwm_kb),
        mb(f.gateway_after_load.rss_kb),
        mb(f.gateway_after_load.hwm_kb)
    );
    let _ = writeln!(
        out,
        "load average (1 min): {:.1} at the start, {:.1} at the end",
        f.load.0, f.load.1
    );
    let c = &f.capacity;
    let _ = writeln!(
        out,
        "SSE: {}/{} streams open over {} runs; gateway RSS {:.1} -> {:.1} MB, {:.1} kB per stream",
        c.open_at_measurement,
        c.streams,
        c.runs,
        mb(c.before.rss_kb),
        mb(c.all.rss_kb),
        per_stream_kb(c)
    );
    out
}

/// Gateway memory per stream in kB (10^3 bytes): its resident growth from no stream to all of
/// them, over the streams (so the runs' watchers are included, shared out).
fn per_stream_kb(c: &Capacity) -> f64 {
    mb(c.all.rss_kb.saturating_sub(c.before.rss_kb)) * 1000.0 / c.streams.max(1) as f64
}

/// Each stream beyond the first of its run, in kB: the subscriber alone, without its run's
/// watcher.
fn marginal_kb(c: &Capacity) -> Option<f64> {
    let extra = c.streams.checked_sub(c.runs).filter(|n| *n > 0)?;
    Some(mb(c.all.rss_kb.saturating_sub(c.one_per_run.rss_kb)) * 1000.0 / extra as f64)
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "{cores} CPUs (nproc), {:.1} GiB memory, {model}",
        mem_kb as f64 / 1024.0 / 1024.0
    )
}

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn commit() -> String {
    let head = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    // Every run rewrites the report itself: its change does not make the code dirty.
    let dirty = git(&[
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ":/",
        ":(exclude,top)docs/performance.md",
    ])
    .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head} (with uncommitted changes)")
    } else {
        head
    }
}

/// `docs/performance.md`.
pub fn markdown(
    f: &Figures,
    args: &Args,
    command: &str,
    fd_limit: u64,
    bins: &std::path::Path,
) -> String {
    let hz = f.clock_ticks;
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "# Performance\n");
    if args.is_small() {
        let d = &Args::DEFAULT;
        let _ = writeln!(
            w,
            "> **Small run.** These figures come from a run smaller than the defaults \
             ({} decisions per phase, N = {}, {} streams; defaults {}, {}, {}), made while \
             developing the benchmark on a shared machine. They show what the report holds, \
             not what the engine does: run `scripts/bench.sh` on a quiet machine for figures \
             to quote.\n",
            args.decisions, args.clients, args.streams, d.decisions, d.clients, d.streams
        );
    }
    let _ = writeln!(
        w,
        "Generated by the benchmark `integration-tests/benches/decision_engine.rs`; \
         do not edit by hand.\n"
    );
    let _ = writeln!(w, "| | |\n| --- | --- |");
    let _ = writeln!(
        w,
        "| date | {} |",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(w, "| machine | {} |", machine());
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let _ = writeln!(
        w,
        "| load average (1 min) | {:.1} at the start, {:.1} at the end{} |",
        f.load.0,
        f.load.1,
        if f.load.0.max(f.load.1) > cores {
            " — more runnable work than CPUs: others were busy, so latency and throughput are understated by contention"
        } else {
            ""
        }
    );
    let _ = writeln!(w, "| commit | `{}` |", commit());
    let _ = writeln!(w, "| command | `{command}` |");
    let _ = writeln!(
        w,
        "| sizes | {} decisions per phase (after {} warm-up), N = {} clients, {} SSE streams over {} runs |",
        args.decisions, args.warmup, args.clients, args.streams, args.stream_runs
    );
    let _ = writeln!(
        w,
        "| binaries | `torghut-worker` and `torghut-gateway` from `{}`, `RUST_LOG` unset (their \
         production defaults: info, warn for the SDK core); `temporal server start-dev` (SQLite \
         file) on the same machine; open-file limit {fd_limit} |\n",
        bins.display()
    );

    // Targets.
    let _ = writeln!(w, "## Targets\n");
    let _ = writeln!(w, "| target | measured | verdict |\n| --- | --- | --- |");
    let mut explain: Vec<String> = Vec::new();
    for label in ["1 client", "N clients"] {
        let Some(r) = f.ratio(label) else { continue };
        let (e, fl) = match (f.phase("engine", label), f.phase("floor", label)) {
            (Some(e), Some(fl)) => (e, fl),
            _ => continue,
        };
        let met = r <= LATENCY_RATIO_TARGET;
        let _ = writeln!(
            w,
            "| decision p50 ≤ {LATENCY_RATIO_TARGET}× the Temporal floor's p50, {} | {:.1} ms / {:.1} ms = {r:.2}× | {} |",
            if e.clients == 1 {
                "at one client".to_owned()
            } else {
                format!("at N = {} clients", e.clients)
            },
            ms(e.p50),
            ms(fl.p50),
            verdict(met)
        );
        if !met {
            explain.push(latency_explanation(e, fl, hz));
        }
    }
    let c = &f.capacity;
    let rss = mb(c.all.rss_kb);
    if c.streams >= STREAMS_TARGET {
        let met = c.open_at_measurement >= STREAMS_TARGET && rss < GATEWAY_RSS_TARGET_MB;
        let _ = writeln!(
            w,
            "| ≥ {STREAMS_TARGET} concurrent SSE streams on one gateway under {GATEWAY_RSS_TARGET_MB} MB RSS | {} open, gateway RSS {rss:.1} MB | {} |",
            c.open_at_measurement,
            verdict(met)
        );
        if !met {
            explain.push(capacity_explanation(c));
        }
    } else {
        let projected = mb(c.before.rss_kb) + per_stream_kb(c) * STREAMS_TARGET as f64 / 1000.0;
        let _ = writeln!(
            w,
            "| ≥ {STREAMS_TARGET} concurrent SSE streams on one gateway under {GATEWAY_RSS_TARGET_MB} MB RSS | only {} streams held ({} open, gateway RSS {rss:.1} MB); at the measured cost per stream, {STREAMS_TARGET} would take about {projected:.0} MB | not measured (run with `--streams {STREAMS_TARGET}`) |",
            c.streams, c.open_at_measurement
        );
    }
    let worker_peak = mb(f.worker_after_load.hwm_kb);
    let met = worker_peak < WORKER_RSS_TARGET_MB;
    let _ = writeln!(
        w,
        "| worker under {WORKER_RSS_TARGET_MB} MB RSS under load | peak (VmHWM) {worker_peak:.1} MB after the N = {} phases | {} |\n",
        args.clients,
        verdict(met)
    );
    if !met {
        explain.push(format!(
            "**Worker memory.** Its resident peak was {worker_peak:.1} MB after the loaded \
             phases (now {:.1} MB). The worker caches up to 1,000 workflow runs (the SDK's \
             default `max_cached_workflows`), each with its event log and inputs, and holds the \
             bars of every symbol it has read.",
            mb(f.worker_after_load.rss_kb)
        ));
    }
    if !explain.is_empty() {
        let _ = writeln!(w, "### Where targets are not met\n");
        for e in &explain {
            let _ = writeln!(w, "{e}\n");
        }
    }

    // Latency.
    let _ = writeln!(w, "## Decision latency and throughput\n");
    let _ = writeln!(
        w,
        "Engine: `POST /api/torghut/decision-engine/stream` sent → `decision.final` received over \
         SSE. Floor: start request sent → the poll answer holding its terminal event. At each \
         concurrency, engine and floor alternate in blocks ({} runs at 1 client, {} at N = {}), \
         so a neighbour's load on a shared machine falls on both alike; per second is runs over \
         the blocks' summed wall time.\n",
        crate::block_size(1).min(args.decisions),
        crate::block_size(args.clients).min(args.decisions),
        args.clients
    );
    let _ = writeln!(
        w,
        "| system | clients | runs | p50 ms | p95 ms | p99 ms | first event p50 ms | per second | failed |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for p in &f.phases {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            p.system,
            p.clients,
            p.count,
            ms(p.p50),
            ms(p.p95),
            ms(p.p99),
            ms(p.first_event_p50),
            p.rate(),
            p.failures
        );
    }
    let _ = writeln!(w);
    if let Some(p) = f.phase("engine", "N clients") {
        let _ = writeln!(
            w,
            "Sustained throughput at N = {}: **{:.1} decisions per second** ({} decisions in {:.1} s).\n",
            p.clients,
            p.rate(),
            p.count,
            p.wall.as_secs_f64()
        );
    }
    for p in f.phases.iter().filter(|p| p.system == "floor") {
        if let Some(r) = p.result_p50 {
            let _ = writeln!(
                w,
                "- Floor at {}, start → result read: p50 {:.1} ms.",
                clients(p.clients),
                ms(r)
            );
        }
    }
    for p in f.phases.iter().filter(|p| p.failures > 0) {
        let _ = writeln!(
            w,
            "\n{} at {}: {} failed; the first: `{}`",
            p.system,
            clients(p.clients),
            p.failures,
            p.first_failure.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(w);

    // Phases.
    let _ = writeln!(w, "## Where the time goes\n");
    let _ = writeln!(
        w,
        "Each run's phases, from the workflow times of its `accepted`, `context_ready` and \
         terminal events (millisecond precision) and the client's clock; p50 (p95) in ms.\n"
    );
    let _ = write!(w, "| phase |");
    for p in &f.phases {
        let _ = write!(w, " {} @ {} |", p.system, p.clients);
    }
    let _ = write!(w, "\n| --- |");
    for _ in &f.phases {
        let _ = write!(w, " ---: |");
    }
    let _ = writeln!(w);
    for (i, name) in PHASE_NAMES.iter().enumerate() {
        let _ = write!(w, "| {name} |");
        for p in &f.phases {
            let _ = write!(
                w,
                " {:.0} ({:.0}) |",
                ms(p.phase_p50[i]),
                ms(p.phase_p95[i])
            );
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w);

    // CPU.
    let _ = writeln!(w, "## CPU\n");
    let _ = writeln!(
        w,
        "CPU seconds (utime + stime from `/proc/<pid>/stat`, {hz} ticks per second) per 1,000 \
         runs, and in brackets the cores kept busy on average during the phase. The bench \
         process is the clients, and for the floor also the floor's worker.\n"
    );
    let _ = writeln!(
        w,
        "| phase | worker | gateway | temporal | bench process |\n| --- | ---: | ---: | ---: | ---: |"
    );
    for p in &f.phases {
        let cell = |t: u64| format!("{:.1} ({:.2})", p.per_thousand(t, hz), p.cores(t, hz));
        let _ = writeln!(
            w,
            "| {} @ {} | {} | {} | {} | {} |",
            p.system,
            p.clients,
            cell(p.cpu.worker),
            cell(p.cpu.gateway),
            cell(p.cpu.temporal),
            cell(p.cpu.bench)
        );
    }
    let _ = writeln!(w);

    // Memory.
    let _ = writeln!(w, "## Memory\n");
    let _ = writeln!(
        w,
        "From `/proc/<pid>/status`: VmRSS now, VmHWM the peak since the process started. MB = 10^6 bytes.\n"
    );
    let _ = writeln!(
        w,
        "| process | after the latency phases: RSS / peak | at the end (after the SSE streams): RSS / peak |\n| --- | ---: | ---: |"
    );
    let _ = writeln!(
        w,
        "| worker | {:.1} / {:.1} MB | {:.1} / {:.1} MB |",
        mb(f.worker_after_load.rss_kb),
        mb(f.worker_after_load.hwm_kb),
        mb(f.worker_end.rss_kb),
        mb(f.worker_end.hwm_kb)
    );
    let _ = writeln!(
        w,
        "| gateway | {:.1} / {:.1} MB | {:.1} / {:.1} MB |\n",
        mb(f.gateway_after_load.rss_kb),
        mb(f.gateway_after_load.hwm_kb),
        mb(f.gateway_end.rss_kb),
        mb(f.gateway_end.hwm_kb)
    );

    // SSE.
    let _ = writeln!(w, "## Open SSE streams on one gateway\n");
    let _ = writeln!(
        w,
        "{} streams on `GET /api/torghut/decision-engine/runs/{{id}}/events`, spread evenly over \
         {} distinct runs (about {} clients per run) that stay open throughout: they ask for {}, \
         whose skills the worker stalls (`TORGHUT_FAULTS={}`). A stream counts as open once its \
         first event arrived.\n",
        c.streams,
        c.runs,
        c.streams.div_ceil(c.runs.max(1)),
        capacity::SLOW_SYMBOL,
        capacity::FAULTS
    );
    let _ = writeln!(w, "| | |\n| --- | ---: |");
    let _ = writeln!(w, "| streams opened | {} of {} |", c.opened, c.streams);
    let _ = writeln!(
        w,
        "| still open when memory was read | {} |",
        c.open_at_measurement
    );
    let _ = writeln!(w, "| failed | {} |", c.failed);
    let _ = writeln!(
        w,
        "| time to open them all ({} connecting at once) | {:.1} s |",
        capacity::OPENING_AT_ONCE,
        c.open_time.as_secs_f64()
    );
    let _ = writeln!(
        w,
        "| gateway RSS: runs started, no stream | {:.1} MB |",
        mb(c.before.rss_kb)
    );
    let _ = writeln!(
        w,
        "| gateway RSS: one stream per run (one watcher per run) | {:.1} MB |",
        mb(c.one_per_run.rss_kb)
    );
    let _ = writeln!(
        w,
        "| gateway RSS: all streams (peak {:.1} MB) | {:.1} MB |",
        mb(c.all.hwm_kb),
        mb(c.all.rss_kb)
    );
    let _ = writeln!(
        w,
        "| **per stream** (growth / streams, watchers included) | **{:.1} kB** |",
        per_stream_kb(c)
    );
    if let Some(m) = marginal_kb(c) {
        let _ = writeln!(
            w,
            "| per additional stream of a run already watched | {:.1} kB |",
            m
        );
    }
    let _ = writeln!(
        w,
        "| gateway open file descriptors | {} → {} |",
        c.fds_before, c.fds_all
    );
    let _ = writeln!(
        w,
        "| gateway CPU while holding them for {} s (heartbeats every 5 s) | {:.2} s |\n",
        c.hold.as_secs(),
        c.hold_cpu_ticks as f64 / hz as f64
    );
    if let Some(e) = &c.first_error {
        let _ = writeln!(w, "First stream failure: `{e}`\n");
    }

    // Outcomes.
    let _ = writeln!(w, "## What the decisions decided\n");
    for p in f.phases.iter().filter(|p| p.system == "engine") {
        let list: Vec<String> = p.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(w, "- at {}: {}", clients(p.clients), list.join(", "));
    }
    let _ = writeln!(
        w,
        "\nA `hold` or `veto` sizes to zero and skips the exposure-ledger reservation, so it \
         makes one Temporal round trip fewer than a `buy` or `sell`; the floor's runs copy each \
         decision's choice.\n"
    );

    let _ = writeln!(w, "## How to read this\n");
    let _ = writeln!(
        w,
        "- **The floor** is what Temporal alone costs for the same orchestration: \
           `bench-floor-workflow` (in the benchmark) issues the commands `decision-workflow` \
           issues — search attributes, a deadline timer, four activities in parallel, a sizing \
           activity that reserves in the real `exposure-ledger` by update-with-start, a routing \
           activity — with activities that do nothing, and its client does what the gateway \
           does: start with a memo, describe, then long-poll an Update for the event log. It \
           runs on the same Temporal server in the same run, on a worker inside the benchmark \
           process with the SDK's default options (as `torghut-worker` uses them). Floor run \
           *i* reserves in the ledger exactly when decision *i* of the same phase did (a hold \
           or a veto reserves nothing), so both do the same Temporal round trips. The ratio \
           engine ÷ floor is therefore the price of our own code: HTTP and SSE, validation, \
           the skills' work over the bars, the policy, and our payloads' size. A ratio near 1, \
           or below it, says that cost is within the run-to-run spread of Temporal's own.\n\
         - **Latency** is measured by the client: engine from `POST /stream` sent to \
           `decision.final` parsed, which is what Torghut waits for. p99 over {} runs rests \
           on the slowest few; read it as an order of magnitude.\n\
         - **Where the time goes** splits each run at its events' workflow times. A phase \
           that is larger for the engine than for the floor is where our code spends the \
           difference; the phases of a run add up to its latency, but their medians need not \
           add up to the median.\n\
         - **CPU per 1,000 decisions** is the processes' own CPU over the phase divided by \
           the decisions it completed. On a machine with few cores, the cores-busy figure \
           says how close a phase came to saturating it; when the sum nears the core count, \
           latency at N grows with queueing, not with work.\n\
         - **Per-stream memory** is the gateway's resident growth while the streams were \
           opened, divided by their number; RSS moves in pages and the allocator keeps freed \
           memory, so treat it as ±10%.\n\
         - The stack is `temporal server start-dev` on SQLite, on the same machine as the \
           clients: a production cluster answers with other figures. Compare runs of this \
           benchmark with each other, on the same machine.",
        args.decisions
    );
    o
}

fn latency_explanation(e: &Phase, fl: &Phase, hz: u64) -> String {
    let mut gaps: Vec<(usize, f64)> = (0..4)
        .map(|i| (i, ms(e.phase_p50[i]) - ms(fl.phase_p50[i])))
        .collect();
    gaps.sort_by(|a, b| b.1.total_cmp(&a.1));
    let listed: Vec<String> = (0..4)
        .map(|i| {
            format!(
                "{}: {:.0} vs {:.0} ms",
                PHASE_NAMES[i],
                ms(e.phase_p50[i]),
                ms(fl.phase_p50[i])
            )
        })
        .collect();
    let per = |t: u64, p: &Phase| p.per_thousand(t, hz);
    format!(
        "**Latency at {}.** Engine p50 {:.1} ms against the floor's {:.1} ms. By phase \
         (p50, engine vs floor): {}. The largest difference is *{}* (+{:.0} ms). CPU per \
         decision: worker {:.1} ms, gateway {:.1} ms, Temporal {:.1} ms (the floor's Temporal: \
         {:.1} ms).",
        clients(e.clients),
        ms(e.p50),
        ms(fl.p50),
        listed.join("; "),
        PHASE_NAMES[gaps[0].0],
        gaps[0].1,
        per(e.cpu.worker, e),
        per(e.cpu.gateway, e),
        per(e.cpu.temporal, e),
        per(fl.cpu.temporal, fl)
    )
}

fn capacity_explanation(c: &Capacity) -> String {
    let mut s = format!(
        "**SSE streams.** {} of {} streams opened and {} were still open when memory was read; \
         the gateway's RSS was {:.1} MB (peak {:.1} MB), {:.1} kB per stream.",
        c.opened,
        c.streams,
        c.open_at_measurement,
        mb(c.all.rss_kb),
        mb(c.all.hwm_kb),
        per_stream_kb(c)
    );
    if let Some(e) = &c.first_error {
        let _ = write!(s, " The first failure: `{e}`.");
    }
    s
}
