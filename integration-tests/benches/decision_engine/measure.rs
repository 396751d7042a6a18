//! What the benchmark measures and how: timed samples, percentiles, and processes' CPU and
//! memory from `/proc`.

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use std::future::Future;
use std::ops::Range;
use std::time::{Duration, Instant, SystemTime};

/// Workflow times of the events that bound the phases of one run.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    pub accepted: Option<SystemTime>,
    pub context_ready: Option<SystemTime>,
    pub terminal: Option<SystemTime>,
}

/// One timed decision (or floor run), as its client saw it.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Which job of its phase this was (set by [`run_jobs`]).
    pub index: usize,
    /// Whether the run reserved in the exposure ledger (a buy or a sell did; a hold did not).
    pub reserved: bool,
    /// Wall clock when the request was sent, to line up with the events' workflow times.
    pub started: SystemTime,
    /// Request sent → terminal event received.
    pub latency: Duration,
    /// Request sent → first event received.
    pub first_event: Duration,
    /// Request sent → the workflow's result read (the floor only).
    pub result: Option<Duration>,
    pub marks: Marks,
    /// The intent's action (`buy`, `sell`, `hold`, `veto`), or `error: <code>`.
    pub outcome: String,
}

/// The phases of one run, from the events' workflow times (millisecond precision) and the
/// client's clock; the stack runs on this machine, so the clocks are one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phases {
    /// Request sent → `accepted` appended: HTTP, validation, start, describe, first task.
    pub to_accepted: Duration,
    /// `accepted` → `context_ready`: the four skills in parallel and the task that follows.
    pub skills: Duration,
    /// `context_ready` → terminal: sizing (with the ledger reservation) and routing.
    pub sizing_routing: Duration,
    /// Terminal appended → received: the closing task, the poll's answer, SSE to the client.
    pub delivery: Duration,
}

pub const PHASE_NAMES: [&str; 4] = [
    "request → accepted (HTTP, start, describe, first workflow task)",
    "accepted → context ready (4 skills in parallel)",
    "context ready → final (sizing + ledger, routing)",
    "final appended → received by the client (poll answer, SSE)",
];

fn since(later: SystemTime, earlier: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

impl Sample {
    pub fn phases(&self) -> Option<Phases> {
        let (accepted, ready, terminal) = (
            self.marks.accepted?,
            self.marks.context_ready?,
            self.marks.terminal?,
        );
        Some(Phases {
            to_accepted: since(accepted, self.started),
            skills: since(ready, accepted),
            sizing_routing: since(terminal, ready),
            delivery: since(self.started + self.latency, terminal),
        })
    }
}

impl Phases {
    pub fn as_array(&self) -> [Duration; 4] {
        [
            self.to_accepted,
            self.skills,
            self.sizing_routing,
            self.delivery,
        ]
    }
}

/// Nearest-rank percentile of sorted durations (`p` in 0..=100).
pub fn percentile(sorted: &[Duration], p: u32) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (usize::try_from(p).unwrap_or(100) * sorted.len()).div_ceil(100);
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn sorted(mut v: Vec<Duration>) -> Vec<Duration> {
    v.sort();
    v
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time and memory of the processes that serve the decisions.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set now, and its high-water mark, in kB.
    pub rss_kb: u64,
    pub hwm_kb: u64,
}

/// Clock ticks per second, the unit of `/proc/<pid>/stat`'s times.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions; it reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status` (`pid` may be `self`).
pub fn proc_sample(pid: &str) -> Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .context("/proc/<pid>/stat without a command name")?;
    // After the name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    let field = |n: usize| -> Result<u64> {
        fields
            .get(n - 3)
            .context("/proc/<pid>/stat is short")?
            .parse()
            .context("/proc/<pid>/stat: not a number")
    };
    let cpu_ticks = field(14)? + field(15)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(ProcSample {
        cpu_ticks,
        rss_kb: kb("VmRSS:"),
        hwm_kb: kb("VmHWM:"),
    })
}

/// Open file descriptors of a process: one per SSE connection, and a few more.
pub fn open_fds(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Raises this process's open-file limit to its hard limit, so thousands of streams fit; the
/// stack's processes, started afterwards, inherit it. Returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

/// The machine's 1-minute load average (`/proc/loadavg`): how busy the neighbours were.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// The samples of one measured phase, with its wall time and failures.
#[derive(Default)]
pub struct PhaseRun {
    pub samples: Vec<Sample>,
    pub failures: Vec<String>,
    pub wall: Duration,
}

impl PhaseRun {
    /// Adds a later block of the same phase.
    pub fn extend(&mut self, block: PhaseRun) {
        self.samples.extend(block.samples);
        self.failures.extend(block.failures);
        self.wall += block.wall;
    }
}

/// Runs the jobs numbered `jobs`, `clients` at a time: each client starts its next job as soon
/// as its last one ended, as Torghut's concurrent callers do.
pub async fn run_jobs<F, Fut>(clients: usize, jobs: Range<usize>, job: F) -> PhaseRun
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<Sample>>,
{
    let t0 = Instant::now();
    let job = &job;
    let results: Vec<Result<Sample>> = futures::stream::iter(jobs)
        .map(|i| async move {
            job(i).await.map(|mut s| {
                s.index = i;
                s
            })
        })
        .buffer_unordered(clients.max(1))
        .collect()
        .await;
    let mut run = PhaseRun {
        wall: t0.elapsed(),
        ..PhaseRun::default()
    };
    for r in results {
        match r {
            Ok(s) => run.samples.push(s),
            Err(e) => run.failures.push(format!("{e:#}")),
        }
    }
    run
}

/// One decision through the gateway: `POST /stream`, read to the terminal event.
pub async fn decision_once(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> Result<Sample> {
    use torghut_integration_tests::sse::{SseLog, parse_frame};
    const TIMEOUT: Duration = Duration::from_secs(120);
    let started = SystemTime::now();
    let t0 = Instant::now();
    let resp = http
        .post(url)
        .json(body)
        .send()
        .await
        .context("POST /stream")?;
    if !resp.status().is_success() {
        bail!(
            "POST /stream: {} {}",
            resp.status(),
            resp.text().await.unwrap_or_default()
        );
    }
    let mut log = SseLog::default();
    let mut first_event = None;
    let mut buf = String::new();
    let mut stream = resp.bytes_stream();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !log.is_terminated() {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => bail!("no terminal event within {TIMEOUT:?}: {:?}", log.names()),
            Ok(None) => bail!("stream ended before its terminal event: {:?}", log.names()),
            Ok(Some(chunk)) => chunk.context("reading the stream")?,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            parse_frame(&frame, &mut log)?;
            if first_event.is_none() && !log.events.is_empty() {
                first_event = Some(t0.elapsed());
            }
        }
    }
    let latency = t0.elapsed();
    let at = |name: &str| {
        log.events
            .iter()
            .find(|e| e.event == name)
            .and_then(|e| e.data["at"].as_str())
            .and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok())
            .map(SystemTime::from)
    };
    let last = log.last().context("terminated log without events")?;
    let payload = &last.data["payload"];
    let reserved = payload["intent"]["reserved_notional"]
        .as_str()
        .and_then(|n| n.parse::<rust_decimal::Decimal>().ok())
        .is_some_and(|n| !n.is_zero());
    let outcome = if last.event == "decision.final" {
        let intent = &payload["intent"];
        if intent["vetoed"] == serde_json::Value::Bool(true) {
            "veto".to_owned()
        } else {
            intent["action"].as_str().unwrap_or("?").to_owned()
        }
    } else {
        format!("error: {}", payload["code"].as_str().unwrap_or("?"))
    };
    Ok(Sample {
        index: 0,
        reserved,
        started,
        latency,
        first_event: first_event.unwrap_or(latency),
        result: None,
        marks: Marks {
            accepted: at("decision.accepted"),
            context_ready: at("decision.context_ready"),
            terminal: at(&last.event),
        },
        outcome,
    })
}
