//! Turning a run's snapshots into an SSE stream: `event:` is the type, `id:` the log offset,
//! `data:` the Jangar envelope; a `retry:` hint first; heartbeat comments (no `id:`) come from
//! axum's keep-alive. The stream ends after the terminal event, or with a reconnect hint when the
//! gateway shuts down.

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use torghut_proto::event::{envelope, event_type, for_caller, is_terminal};
use torghut_proto::v1::DecisionEvent;

use crate::hub::Snapshot;
use crate::metrics::GatewayMetrics;

pub struct StreamSpec {
    pub workflow_id: String,
    pub request_id: String,
    /// First offset to send (0, or `Last-Event-ID` + 1).
    pub from: u64,
    /// The `idempotent` flag stamped on `decision.accepted` for this connection.
    pub idempotent: bool,
    pub retry: Duration,
    pub heartbeat: Duration,
    /// Turns true when the gateway shuts down: the stream then ends with a reconnect hint, so
    /// the client resumes on another gateway with `Last-Event-ID` (the run never notices).
    pub shutdown: watch::Receiver<bool>,
    /// Where the stream counts itself open.
    pub metrics: Arc<GatewayMetrics>,
}

fn to_event(spec: &StreamSpec, e: &DecisionEvent) -> Event {
    let data = envelope(
        &spec.workflow_id,
        &spec.request_id,
        &for_caller(e, spec.idempotent),
    );
    Event::default()
        .event(event_type(e))
        .id(e.sequence.to_string())
        .data(data.to_string())
}

pub fn stream(
    spec: StreamSpec,
    mut rx: watch::Receiver<Snapshot>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let heartbeat = spec.heartbeat;
    let mut shutdown = spec.shutdown.clone();
    let events = async_stream::stream! {
        // Dropped with the stream however it ends, a client disconnect included.
        let _open = spec.metrics.stream_opened();
        yield Ok(Event::default().retry(spec.retry).comment("stream open"));
        let mut next = spec.from;
        loop {
            let (batch, finished) = {
                let snapshot = rx.borrow_and_update();
                let start = (next as usize).min(snapshot.events.len());
                (snapshot.events[start..].to_vec(), snapshot.finished)
            };
            let mut ended = false;
            for e in &batch {
                next = e.sequence + 1;
                ended |= is_terminal(e);
                yield Ok(to_event(&spec, e));
            }
            if ended || finished {
                break;
            }
            // None: new events; Some(false): the watcher is gone; Some(true): shutting down.
            let stop = tokio::select! {
                changed = rx.changed() => changed.is_err().then_some(false),
                _ = async {
                    // A dropped sender means no shutdown will ever be announced.
                    if shutdown.wait_for(|down| *down).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                } => Some(true),
            };
            match stop {
                None => {}
                Some(false) => {
                    // Deliver whatever the watcher published last, then end.
                    let rest: Vec<DecisionEvent> = rx.borrow().events.iter().skip(next as usize).cloned().collect();
                    for e in &rest {
                        yield Ok(to_event(&spec, e));
                    }
                    break;
                }
                Some(true) => {
                    yield Ok(Event::default()
                        .retry(spec.retry)
                        .comment(format!("gateway shutting down; reconnect to .../runs/{}/events with Last-Event-ID", spec.workflow_id)));
                    break;
                }
            }
        }
    };
    Sse::new(events).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use futures::StreamExt;
    use torghut_proto::v1::decision_event::Payload;
    use torghut_proto::v1::{Accepted, DecisionError};

    fn event(sequence: u64, payload: Payload) -> DecisionEvent {
        DecisionEvent {
            sequence,
            at: "2026-01-01T00:00:00.000Z".into(),
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            payload: Some(payload),
        }
    }

    fn spec(from: u64) -> StreamSpec {
        let (_tx, shutdown) = watch::channel(false);
        StreamSpec {
            shutdown,
            workflow_id: "decision-x".into(),
            request_id: "x".into(),
            from,
            idempotent: true,
            retry: Duration::from_secs(2),
            heartbeat: Duration::from_secs(5),
            metrics: Arc::new(GatewayMetrics::new().expect("metrics")),
        }
    }

    /// Collects body frames until `done` says so, with virtual time advancing while idle.
    async fn frames(
        body: axum::body::Body,
        mut done: impl FnMut(&[String]) -> bool,
    ) -> Vec<String> {
        let mut stream = body.into_data_stream();
        let (mut buf, mut out) = (String::new(), Vec::new());
        while !done(&out) {
            let Some(Ok(chunk)) = stream.next().await else {
                break;
            };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                out.push(buf.drain(..end + 2).collect());
            }
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_are_id_less_comments_while_a_run_is_quiet() {
        let accepted = event(0, Payload::Accepted(Accepted::default()));
        let (tx, rx) = watch::channel(Snapshot {
            events: vec![accepted],
            loaded: true,
            ..Default::default()
        });
        let body = stream(spec(0), rx).into_response().into_body();
        let got = frames(body, |f| {
            f.iter().filter(|f| f.contains("heartbeat")).count() >= 2
        })
        .await;
        assert!(got[0].contains("retry: 2000"), "{got:?}");
        assert!(
            got[1].contains("event: decision.accepted") && got[1].contains("id: 0"),
            "{got:?}"
        );
        assert!(got[1].contains("\"idempotent\":true"), "{got:?}");
        assert!(
            got[1].contains("\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""),
            "{got:?}"
        );
        let beats: Vec<&String> = got.iter().filter(|f| f.contains("heartbeat")).collect();
        assert_eq!(beats.len(), 2);
        assert!(
            beats
                .iter()
                .all(|b| b.starts_with(':') && !b.contains("id:")),
            "{beats:?}"
        );
        drop(tx);
    }

    fn open_streams(metrics: &GatewayMetrics) -> f64 {
        crate::metrics::tests::sample(
            &metrics.render().expect("render"),
            "torghut_gateway_sse_streams_open",
        )
    }

    #[tokio::test]
    async fn a_stream_counts_as_open_until_it_ends_or_its_client_goes_away() {
        let accepted = event(0, Payload::Accepted(Accepted::default()));
        let (tx, rx) = watch::channel(Snapshot {
            events: vec![accepted],
            loaded: true,
            ..Default::default()
        });
        let s = spec(0);
        let metrics = s.metrics.clone();
        // A client that reads the first event, then disconnects while the run goes on.
        let mut body = stream(s, rx.clone())
            .into_response()
            .into_body()
            .into_data_stream();
        body.next().await.expect("first frame").expect("bytes");
        assert_eq!(open_streams(&metrics), 1.0);
        drop(body);
        assert_eq!(open_streams(&metrics), 0.0, "a disconnect closes it");

        // A client that reads to the terminal event.
        let mut s = spec(0);
        s.metrics = metrics.clone();
        let body = stream(s, rx).into_response().into_body();
        let reader = tokio::spawn(frames(body, |_| false));
        tx.send_modify(|snap| {
            snap.events.push(event(
                1,
                Payload::Error(DecisionError {
                    code: "timeout".into(),
                    message: "m".into(),
                    retryable: true,
                }),
            ));
            snap.finished = true;
        });
        let got = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the stream ends at its terminal event")
            .expect("reader");
        assert!(got.iter().any(|f| f.contains("event: decision.error")));
        assert_eq!(open_streams(&metrics), 0.0, "an ended stream closes it");
    }

    #[tokio::test]
    async fn shutdown_ends_an_open_stream_with_a_reconnect_hint() {
        let accepted = event(0, Payload::Accepted(Accepted::default()));
        let (_tx, rx) = watch::channel(Snapshot {
            events: vec![accepted],
            loaded: true,
            ..Default::default()
        });
        let (down, shutdown) = watch::channel(false);
        let mut s = spec(0);
        s.shutdown = shutdown;
        let body = stream(s, rx).into_response().into_body();
        let reader = tokio::spawn(frames(body, |_| false));
        tokio::task::yield_now().await;
        down.send_replace(true);
        let got = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the stream ends on shutdown")
            .expect("reader");
        let last = got.last().expect("frames");
        assert!(
            last.contains("retry: 2000") && last.contains("reconnect") && !last.contains("id:"),
            "{got:?}"
        );
        assert!(got.iter().any(|f| f.contains("event: decision.accepted")));
    }

    #[tokio::test]
    async fn a_resumed_stream_starts_after_the_last_id_and_ends_at_the_terminal_event() {
        let events = vec![
            event(0, Payload::Accepted(Accepted::default())),
            event(1, Payload::Accepted(Accepted::default())),
            event(
                2,
                Payload::Error(DecisionError {
                    code: "timeout".into(),
                    message: "m".into(),
                    retryable: true,
                }),
            ),
        ];
        let (_tx, rx) = watch::channel(Snapshot {
            events,
            loaded: true,
            finished: true,
            not_found: false,
        });
        let body = stream(spec(2), rx).into_response().into_body();
        let got = frames(body, |_| false).await;
        let ids: Vec<&String> = got.iter().filter(|f| f.contains("id: ")).collect();
        assert_eq!(ids.len(), 1, "{got:?}");
        assert!(ids[0].contains("event: decision.error") && ids[0].contains("id: 2"));
    }
}
