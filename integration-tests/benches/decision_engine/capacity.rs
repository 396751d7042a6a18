//! How many open SSE streams one gateway holds, and what each costs it in memory.
//!
//! Streams are spread over a realistic number of runs (several clients per run, as when
//! Torghut, a dashboard and an operator's `decisionctl watch` follow the same decisions) that
//! stay open for the whole measurement: they ask for [`SLOW_SYMBOL`], whose skills the worker is
//! told to stall (see [`FAULTS`]).

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use torghut_integration_tests::sse::{SseLog, parse_frame};
use torghut_integration_tests::{Stack, sample_request};

use crate::measure::{ProcSample, open_fds, proc_sample};

/// The symbol of the runs the streams follow; no latency phase uses it.
pub const SLOW_SYMBOL: &str = "AIG";
/// Worker faults that keep a run on [`SLOW_SYMBOL`] open for about two minutes: technicals
/// answers after 120 s, past its 15 s attempt timeout, until its 60 s budget is spent; then
/// sizing does the same. Nothing else is slowed.
pub const FAULTS: &str =
    "technicals-regime@AIG=hang:120:always;risk-exposure-sizing@AIG=hang:120:always";
/// Connections opened at once: more would only overflow the listen backlog and measure SYN
/// retransmits.
pub const OPENING_AT_ONCE: usize = 64;

pub struct Capacity {
    pub streams: usize,
    pub runs: usize,
    /// Streams that had received their first event.
    pub opened: usize,
    /// Streams still open (no terminal event, no error) when memory was read.
    pub open_at_measurement: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    pub open_time: Duration,
    /// Gateway with the runs started and no stream; with one stream per run (so one watcher per
    /// run); with every stream.
    pub before: ProcSample,
    pub one_per_run: ProcSample,
    pub all: ProcSample,
    pub fds_before: usize,
    pub fds_all: usize,
    /// Gateway CPU while it held every stream for `hold`, heartbeats included.
    pub hold: Duration,
    pub hold_cpu_ticks: u64,
}

/// How one stream ended.
enum End {
    /// Still open when we let go of it.
    Held,
    /// The run ended (or the server closed the stream) before we let go.
    Ended,
    Failed(String),
}

pub async fn measure(
    stack: &Stack,
    streams: usize,
    runs: usize,
    hold: Duration,
) -> Result<Capacity> {
    let runs = runs.clamp(1, streams.max(1));
    let gateway = stack.pid("gateway")?.to_string();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let mut run_ids = Vec::with_capacity(runs);
    for i in 0..runs {
        let mut body = sample_request();
        body["symbol"] = json!(SLOW_SYMBOL);
        body["portfolio"]["position"]["symbol"] = json!(SLOW_SYMBOL);
        body["strategy_id"] = json!("bench-sse-capacity");
        body["trigger"]["event_ts"] = json!(format!("2013-10-08T15:{:02}:00Z", i % 60));
        let resp = http
            .post(stack.url("/api/torghut/decision-engine/runs"))
            .json(&body)
            .send()
            .await
            .context("POST /runs")?;
        if resp.status().as_u16() != 202 {
            bail!("POST /runs: {} {}", resp.status(), resp.text().await?);
        }
        let v: serde_json::Value = resp.json().await?;
        run_ids.push(
            v["run_id"]
                .as_str()
                .context("202 without run_id")?
                .to_owned(),
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = proc_sample(&gateway)?;
    let fds_before = open_fds(&gateway);

    let (stop_tx, stop_rx) = watch::channel(false);
    let opened = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(streams);
    let mut one_per_run = None;
    for i in 0..streams {
        if i == runs {
            wait_opened(&opened, runs, Duration::from_secs(60)).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            one_per_run = Some(proc_sample(&gateway)?);
        }
        let url = stack.url(&format!(
            "/api/torghut/decision-engine/runs/{}/events",
            run_ids[i % runs]
        ));
        tasks.push(tokio::spawn(hold_stream(
            http.clone(),
            url,
            gate.clone(),
            opened.clone(),
            stop_rx.clone(),
        )));
    }
    wait_opened(&opened, streams, Duration::from_secs(90)).await;
    let open_time = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = proc_sample(&gateway)?;
    let fds_all = open_fds(&gateway);
    let one_per_run = one_per_run.unwrap_or(all);
    tokio::time::sleep(hold).await;
    let after_hold = proc_sample(&gateway)?;
    let _ = stop_tx.send(true);

    let (mut held, mut failed, mut first_error) = (0, 0, None);
    for t in tasks {
        match t.await {
            Ok(End::Held) => held += 1,
            Ok(End::Ended) => {}
            Ok(End::Failed(e)) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    Ok(Capacity {
        streams,
        runs,
        opened: opened.load(Ordering::SeqCst),
        open_at_measurement: held,
        failed,
        first_error,
        open_time,
        before,
        one_per_run,
        all,
        fds_before,
        fds_all,
        hold,
        hold_cpu_ticks: after_hold.cpu_ticks.saturating_sub(all.cpu_ticks),
    })
}

async fn wait_opened(opened: &AtomicUsize, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while opened.load(Ordering::SeqCst) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens one stream, counts it once its first event arrived, and reads it until `stop`.
async fn hold_stream(
    http: reqwest::Client,
    url: String,
    gate: Arc<Semaphore>,
    opened: Arc<AtomicUsize>,
    mut stop: watch::Receiver<bool>,
) -> End {
    let permit = match gate.acquire_owned().await {
        Ok(p) => p,
        Err(e) => return End::Failed(e.to_string()),
    };
    let resp = match http.get(&url).send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => return End::Failed(format!("GET events: {}", r.status())),
        Err(e) => return End::Failed(format!("GET events: {e}")),
    };
    let mut body = resp.bytes_stream();
    let mut log = SseLog::default();
    let mut buf = String::new();
    let mut permit = Some(permit);
    loop {
        let chunk = tokio::select! {
            _ = stop.wait_for(|s| *s) => return End::Held,
            c = body.next() => c,
        };
        match chunk {
            None => return End::Ended,
            Some(Err(e)) => return End::Failed(format!("reading events: {e}")),
            Some(Ok(bytes)) => buf.push_str(&String::from_utf8_lossy(&bytes)),
        }
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if let Err(e) = parse_frame(&frame, &mut log) {
                return End::Failed(e.to_string());
            }
            if !log.events.is_empty() && permit.take().is_some() {
                opened.fetch_add(1, Ordering::SeqCst);
            }
            if log.is_terminated() {
                return End::Ended;
            }
            // Only the first event matters; keep the buffer from growing with heartbeats.
            log.comments.clear();
        }
    }
}
