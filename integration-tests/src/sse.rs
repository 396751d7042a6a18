//! A small SSE reader that keeps everything a test wants to assert on: event names, ids, data,
//! retry hints and heartbeat comments.

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<u64>,
    pub data: Value,
}

#[derive(Debug, Default)]
pub struct SseLog {
    pub events: Vec<SseEvent>,
    pub comments: Vec<String>,
    pub retry_ms: Option<u64>,
}

impl SseLog {
    pub fn names(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.event.as_str()).collect()
    }

    pub fn last(&self) -> Option<&SseEvent> {
        self.events.last()
    }

    pub fn is_terminated(&self) -> bool {
        self.last()
            .is_some_and(|e| e.event == "decision.final" || e.event == "decision.error")
    }
}

/// Reads a `text/event-stream` response until it ends, `stop_after` events arrived, or `timeout`.
pub async fn read(
    response: reqwest::Response,
    stop_after: Option<usize>,
    timeout: Duration,
) -> Result<SseLog> {
    let ctype = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !ctype.starts_with("text/event-stream") {
        bail!(
            "expected text/event-stream, got {ctype:?}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let mut log = SseLog::default();
    let mut buf = String::new();
    let mut body = response.bytes_stream();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, body.next()).await {
            Err(_) => bail!(
                "stream did not end within {timeout:?}; got {:?}",
                log.names()
            ),
            Ok(None) => break,
            Ok(Some(chunk)) => chunk.context("reading the stream")?,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            parse_frame(&frame, &mut log)?;
            if stop_after.is_some_and(|n| log.events.len() >= n) {
                return Ok(log);
            }
        }
    }
    Ok(log)
}

/// How one connection of a [`follow`]ed stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// With the run's terminal event.
    Terminal,
    /// The server closed the stream cleanly before the terminal event (a draining gateway).
    Closed,
    /// The connection failed or broke mid-stream (a killed gateway).
    Broken,
}

/// Everything a resuming client saw of one run, over however many connections it took.
#[derive(Debug, Default)]
pub struct Followed {
    pub log: SseLog,
    pub ends: Vec<ConnectionEnd>,
}

/// What a well-behaved client does: reads the run's events from
/// `GET {base_url}/api/torghut/decision-engine/runs/{run}/events`, and whenever a connection
/// ends before the terminal event — closed, broken or refused — reconnects with `Last-Event-ID`
/// set to the last id it holds, until the terminal event arrives or `timeout` passes.
///
/// An event counts only once its frame is complete (`\n\n`), exactly as an `EventSource` does;
/// a frame cut by a broken connection is dropped and comes again on the next connection.
/// `connected` fires once the first connection is open, so a test can break it knowingly.
pub async fn follow(
    base_url: &str,
    run: &str,
    from_last_id: Option<u64>,
    mut connected: Option<tokio::sync::oneshot::Sender<()>>,
    timeout: Duration,
) -> Result<Followed> {
    let client = reqwest::Client::new();
    let url = format!("{base_url}/api/torghut/decision-engine/runs/{run}/events");
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = Followed::default();
    let mut last_id = from_last_id;
    while !out.log.is_terminated() {
        if tokio::time::Instant::now() > deadline {
            bail!(
                "run {run} did not end within {timeout:?}; got {:?} over {:?}",
                out.log.names(),
                out.ends
            );
        }
        let mut request = client.get(&url);
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = match request.send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) if r.status().is_client_error() => bail!(
                "resuming {run}: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            // Refused while the gateway restarts, or 5xx while Temporal does: try again.
            Ok(_) | Err(_) => {
                out.ends.push(ConnectionEnd::Broken);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if let Some(tx) = connected.take() {
            let _ = tx.send(());
        }
        let end = read_connection(response, &mut out.log, deadline).await;
        last_id = out.log.last().and_then(|e| e.id).or(last_id);
        out.ends.push(end);
    }
    Ok(out)
}

/// Reads one connection into `log`; never fails, only says how the connection ended.
async fn read_connection(
    response: reqwest::Response,
    log: &mut SseLog,
    deadline: tokio::time::Instant,
) -> ConnectionEnd {
    let mut buf = String::new();
    let mut body = response.bytes_stream();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, body.next()).await {
            Err(_) | Ok(Some(Err(_))) => return ConnectionEnd::Broken,
            Ok(None) => return ConnectionEnd::Closed,
            Ok(Some(Ok(chunk))) => chunk,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if parse_frame(&frame, log).is_err() {
                return ConnectionEnd::Broken;
            }
            if log.is_terminated() {
                return ConnectionEnd::Terminal;
            }
        }
    }
}

/// Parses one complete frame (ending in `\n\n`) into `log`. Public for readers that need more
/// than [`read`] keeps, such as the benchmark's arrival time of each event.
pub fn parse_frame(frame: &str, log: &mut SseLog) -> Result<()> {
    let (mut event, mut id, mut data) = (None, None, String::new());
    for line in frame.lines() {
        if let Some(c) = line.strip_prefix(':') {
            log.comments.push(c.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim().parse::<u64>().context("numeric id")?);
        } else if let Some(v) = line.strip_prefix("retry:") {
            log.retry_ms = Some(v.trim().parse()?);
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if let Some(event) = event {
        let data = serde_json::from_str(&data)
            .with_context(|| format!("data of {event} is not JSON: {data}"))?;
        log.events.push(SseEvent { event, id, data });
    }
    Ok(())
}
