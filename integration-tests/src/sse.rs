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

fn parse_frame(frame: &str, log: &mut SseLog) -> Result<()> {
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
