//! Turning a run's snapshots into an SSE stream: `event:` is the type, `id:` the log offset,
//! `data:` the Jangar envelope; a `retry:` hint first; heartbeat comments (no `id:`) come from
//! axum's keep-alive. The stream ends after the terminal event.

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;
use torghut_proto::event::{ACCEPTED, envelope, event_type, is_terminal};
use torghut_proto::v1::DecisionEvent;

use crate::hub::Snapshot;

pub struct StreamSpec {
    pub workflow_id: String,
    pub request_id: String,
    /// First offset to send (0, or `Last-Event-ID` + 1).
    pub from: u64,
    /// The `idempotent` flag stamped on `decision.accepted` for this connection.
    pub idempotent: bool,
    pub retry: Duration,
    pub heartbeat: Duration,
}

fn to_event(spec: &StreamSpec, e: &DecisionEvent) -> Event {
    let mut data = envelope(&spec.workflow_id, &spec.request_id, e);
    if event_type(e) == ACCEPTED {
        data["payload"]["idempotent"] = serde_json::Value::Bool(spec.idempotent);
    }
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
    let events = async_stream::stream! {
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
            if rx.changed().await.is_err() {
                // The watcher is gone; deliver whatever it published last, then end.
                let rest: Vec<DecisionEvent> = rx.borrow().events.iter().skip(next as usize).cloned().collect();
                for e in &rest {
                    yield Ok(to_event(&spec, e));
                }
                break;
            }
        }
    };
    Sse::new(events).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat"))
}
