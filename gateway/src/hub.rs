//! One watcher per run, fanned out to every subscriber.
//!
//! However many clients stream one run, a single task long-polls its event log with the
//! workflow's `poll_events` Update and publishes snapshots on a `watch` channel; subscribers only
//! read the channel. A closed run is loaded once from its result (the whole log) with no worker
//! round trip. Watchers outlive their subscribers: a client disconnect never touches the run.
//!
//! The watcher is also where a run's end is counted (`metrics.rs`): once per watcher, and only
//! when it watched the run live, so a closed run loaded again for a late subscriber or a
//! duplicate is not counted twice.

use crate::metrics::GatewayMetrics;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use temporalio_client::errors::{WorkflowGetResultError, WorkflowInteractionError};
use temporalio_client::{
    Client, WorkflowDescribeOptions, WorkflowExecuteUpdateOptions, WorkflowExecutionStatus,
    WorkflowGetResultOptions,
};
use tokio::sync::watch;
use torghut_proto::v1::{DecisionError, DecisionEvent, decision_event::Payload};
use torghut_workflows::DecisionWorkflow;
use torghut_workflows::decision::PollRequest;

/// How long one `poll_events` Update waits inside the workflow.
const POLL_WAIT_MS: u64 = 20_000;

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub events: Vec<DecisionEvent>,
    /// The watcher has heard from Temporal at least once.
    pub loaded: bool,
    /// The log holds its terminal event; nothing more will come.
    pub finished: bool,
    pub not_found: bool,
}

#[derive(Clone)]
pub struct Hub {
    client: Client,
    metrics: Arc<GatewayMetrics>,
    watchers: Arc<Mutex<HashMap<String, watch::Receiver<Snapshot>>>>,
}

impl Hub {
    pub fn new(client: Client, metrics: Arc<GatewayMetrics>) -> Self {
        Self {
            client,
            metrics,
            watchers: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A receiver of the run's snapshots, starting its watcher if none runs.
    pub fn subscribe(&self, workflow_id: &str) -> watch::Receiver<Snapshot> {
        let mut watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = watchers.get(workflow_id) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(Snapshot::default());
        watchers.insert(workflow_id.to_owned(), rx.clone());
        let hub = self.clone();
        let id = workflow_id.to_owned();
        tokio::spawn(async move {
            watch_run(&hub.client, &hub.metrics, &id, &tx).await;
            // Late subscribers start a fresh watcher, which loads the closed run from its result.
            hub.watchers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        });
        rx
    }

    /// Number of runs being watched, for metrics and tests.
    pub fn watched(&self) -> usize {
        self.watchers.lock().map(|w| w.len()).unwrap_or(0)
    }

    /// Waits until the watcher has loaded the run once; `None` if it does not exist.
    pub async fn load(&self, workflow_id: &str) -> Option<Snapshot> {
        let mut rx = self.subscribe(workflow_id);
        let snapshot = rx.wait_for(|s| s.loaded || s.not_found).await.ok()?.clone();
        (!snapshot.not_found).then_some(snapshot)
    }
}

fn append(tx: &watch::Sender<Snapshot>, events: Vec<DecisionEvent>, finished: bool) {
    tx.send_modify(|s| {
        for e in events {
            // The log is offset-addressed: accept exactly the next offset, so a retried poll
            // can never duplicate or reorder an event.
            if e.sequence == s.events.len() as u64 {
                s.events.push(e);
            }
        }
        s.loaded = true;
        s.finished = s.finished || finished;
    });
}

/// Counts the run's end if its log holds the terminal event; see the module doc for when.
fn record_end(metrics: &GatewayMetrics, tx: &watch::Sender<Snapshot>) {
    metrics.observe_terminal(&tx.borrow().events);
}

async fn watch_run(
    client: &Client,
    metrics: &GatewayMetrics,
    workflow_id: &str,
    tx: &watch::Sender<Snapshot>,
) {
    let handle = client.get_workflow_handle::<DecisionWorkflow>(workflow_id.to_owned());
    let mut backoff = Duration::from_millis(200);
    // Whether a poll of the running workflow answered: then this watcher saw the run live, and
    // its end, however it arrives (a poll, or the result of a run that closed between polls),
    // is counted.
    let mut live = false;
    loop {
        let from = tx.borrow().events.len() as u64;
        let polled = handle
            .execute_update(
                DecisionWorkflow::poll_events,
                PollRequest {
                    from,
                    wait_ms: POLL_WAIT_MS,
                },
                WorkflowExecuteUpdateOptions::default(),
            )
            .await;
        match polled {
            Ok(response) => {
                backoff = Duration::from_millis(200);
                live = true;
                append(tx, response.events, response.finished);
                if response.finished {
                    record_end(metrics, tx);
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::debug!(workflow_id, error = %e, "poll_events failed; checking the run")
            }
        }
        match handle.describe(WorkflowDescribeOptions::default()).await {
            Ok(d) if d.status() != WorkflowExecutionStatus::Running => {
                load_closed(&handle, tx).await;
                if live {
                    record_end(metrics, tx);
                }
                return;
            }
            Ok(_) => {}
            Err(WorkflowInteractionError::NotFound(_)) => {
                tx.send_modify(|s| s.not_found = true);
                return;
            }
            Err(e) => tracing::warn!(workflow_id, error = %e, "describe failed; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Loads a closed run from its result. A run that closed without a result (terminated, timed
/// out by the backstop) still ends its stream: with a `decision.error` saying so.
async fn load_closed(
    handle: &temporalio_client::WorkflowHandle<Client, DecisionWorkflow>,
    tx: &watch::Sender<Snapshot>,
) {
    match handle.get_result(WorkflowGetResultOptions::default()).await {
        Ok(outcome) => {
            let terminal = outcome
                .events
                .last()
                .is_some_and(torghut_proto::event::is_terminal);
            append(tx, outcome.events, true);
            if !terminal {
                push_error(tx, "internal", "run closed without a terminal event");
            }
        }
        Err(e) => {
            let (code, message) = match &e {
                WorkflowGetResultError::TimedOut => {
                    ("timeout", "run exceeded its execution timeout".to_owned())
                }
                WorkflowGetResultError::Cancelled { .. } => {
                    ("cancelled", "run was cancelled".to_owned())
                }
                other => ("internal", format!("run ended without a result: {other}")),
            };
            tx.send_modify(|s| s.loaded = true);
            push_error(tx, code, &message);
        }
    }
}

fn push_error(tx: &watch::Sender<Snapshot>, code: &str, message: &str) {
    tx.send_modify(|s| {
        let at = s.events.last().map(|e| e.at.clone()).unwrap_or_default();
        // The run's trace, so this event is found with the others.
        let trace_id = s
            .events
            .last()
            .map(|e| e.trace_id.clone())
            .unwrap_or_default();
        s.events.push(DecisionEvent {
            sequence: s.events.len() as u64,
            at,
            trace_id,
            payload: Some(Payload::Error(DecisionError {
                code: code.to_owned(),
                message: message.to_owned(),
                retryable: true,
            })),
        });
        s.finished = true;
    });
}
