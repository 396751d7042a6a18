//! The market-context API's source: `market-context-workflow` runs on the worker (where the data
//! providers and their credentials live), and its results are cached here, because Torghut polls
//! the same symbol many times a minute and every miss is a workflow with four activities.

use crate::error::ApiError;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use temporalio_client::{
    Client, WorkflowGetResultOptions, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowStartOptions,
};
use torghut_policy::analysis::PolicyConfig;
use torghut_proto::v1::MarketContextBundle;
use torghut_workflows::MarketContextWorkflow;
use torghut_workflows::ids;
use torghut_workflows::market_context::MarketContextInput;

/// More keys than this and the cache starts over: a bound on memory, not an LRU.
const MAX_ENTRIES: usize = 4096;
/// The workflow's skills retry within 60 s each; past this something is wrong with the worker.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// `as_of: None` means "now": the key is the symbol alone, so every caller in the window shares
/// one context, as a cache of "latest" must. An explicit as-of (a replay) is keyed by it.
type Key = (String, Option<DateTime<Utc>>);
type Entries = HashMap<Key, (Instant, Arc<MarketContextBundle>)>;

/// How the context's source (`market-context-workflow` on the worker) has been doing, for the
/// health answers: what Torghut's client calls the ingestion state.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingestion {
    pub source: &'static str,
    /// The gateway always has its source; `false` is never reported, the field is Torghut's.
    pub configured: bool,
    pub last_success_at: Option<String>,
    pub last_error_at: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// Time the last run took, success or failure.
    pub latency_ms: Option<u64>,
}

#[derive(Clone)]
pub struct ContextCache {
    client: Client,
    task_queue: String,
    policy: PolicyConfig,
    ttl: Duration,
    entries: Arc<Mutex<Entries>>,
    ingestion: Arc<Mutex<Ingestion>>,
}

impl ContextCache {
    pub fn new(client: Client, task_queue: String, policy: PolicyConfig, ttl: Duration) -> Self {
        Self {
            client,
            task_queue,
            policy,
            ttl,
            entries: Arc::new(Mutex::new(HashMap::new())),
            ingestion: Arc::new(Mutex::new(Ingestion {
                source: torghut_workflows::market_context::WORKFLOW_TYPE,
                configured: true,
                ..Ingestion::default()
            })),
        }
    }

    /// The source's state as of the last run.
    pub fn ingestion(&self) -> Ingestion {
        self.ingestion.lock().map(|i| i.clone()).unwrap_or_default()
    }

    /// Runs the workflow and records how it went.
    pub async fn fetch(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
    ) -> Result<MarketContextBundle, ApiError> {
        let started = Instant::now();
        let result = self.run(symbol, as_of).await;
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        if let Ok(mut i) = self.ingestion.lock() {
            i.latency_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            match &result {
                Ok(_) => {
                    i.last_success_at = Some(now);
                    i.consecutive_failures = 0;
                }
                Err(e) => {
                    i.last_error_at = Some(now);
                    i.last_error = Some(e.to_string());
                    i.consecutive_failures = i.consecutive_failures.saturating_add(1);
                }
            }
        }
        result
    }

    /// Runs `market-context-workflow` (joining a running one for the same symbol and as-of).
    async fn run(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
    ) -> Result<MarketContextBundle, ApiError> {
        let as_of_utc = as_of.to_rfc3339_opts(SecondsFormat::Secs, true);
        let id = ids::market_context(symbol, &as_of_utc);
        let input = MarketContextInput {
            symbol: symbol.to_owned(),
            as_of_utc,
            policy: self.policy.clone(),
        };
        let options = WorkflowStartOptions::new(self.task_queue.clone(), id.clone())
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicate)
            .execution_timeout(RUN_TIMEOUT)
            .build();
        let handle = self
            .client
            .start_workflow(MarketContextWorkflow::run, input, options)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .map_err(|e| ApiError::Unavailable(format!("market-context run {id}: {e}")))
    }

    /// The merged context, and whether it came from the cache.
    pub async fn get(
        &self,
        symbol: &str,
        as_of: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(Arc<MarketContextBundle>, bool), ApiError> {
        let key = (symbol.to_owned(), as_of);
        if let Ok(entries) = self.entries.lock()
            && let Some((at, bundle)) = entries.get(&key)
            && at.elapsed() < self.ttl
        {
            return Ok((bundle.clone(), true));
        }
        let bundle = Arc::new(self.fetch(symbol, as_of.unwrap_or(now)).await?);
        if !self.ttl.is_zero()
            && let Ok(mut entries) = self.entries.lock()
        {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), bundle.clone()));
        }
        Ok((bundle, false))
    }
}
