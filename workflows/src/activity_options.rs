//! Timeouts and retries of every activity the workflows start, built one way.
//!
//! Short attempts with backoff inside a bounded total, and a failure kind that can never succeed
//! (bad input, a missing configuration) is never retried.

use crate::activity_io::FailureKind;
use std::time::Duration;
use temporalio_sdk::{ActivityCloseTimeouts, ActivityOptions};
use temporalio_workflow::RetryPolicy;

/// One activity step's time and retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepBudget {
    /// One attempt's start-to-close timeout.
    pub attempt: Duration,
    /// Every attempt and wait together (schedule-to-close); `None` leaves it to the attempts.
    pub total: Option<Duration>,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Failure kinds not retried, beyond [`FailureKind::InvalidInput`].
    pub non_retryable: &'static [FailureKind],
}

impl StepBudget {
    /// A context skill: a few quick attempts; after them the domain is recorded as missing.
    pub const SKILL: StepBudget = StepBudget {
        attempt: Duration::from_secs(15),
        total: Some(Duration::from_secs(60)),
        max_attempts: 4,
        initial_backoff: Duration::from_millis(500),
        max_backoff: Duration::from_secs(5),
        non_retryable: &[],
    };

    /// Sizing, routing and the compensation: the decision cannot finish without them.
    pub const STEP: StepBudget = StepBudget {
        attempt: Duration::from_secs(10),
        max_attempts: 5,
        ..Self::SKILL
    };

    /// Reading the trigger source for the intraday loop.
    pub const READ_TRIGGERS: StepBudget = StepBudget {
        attempt: Duration::from_secs(30),
        max_attempts: 3,
        ..Self::SKILL
    };

    /// An LLM review call: timeout and attempts from the gateway's configuration (recorded in
    /// the run's input), no overall cap beyond them, and no retry when no endpoint is configured.
    pub fn llm(timeout_seconds: u32, max_attempts: u32) -> StepBudget {
        StepBudget {
            attempt: Duration::from_secs(u64::from(timeout_seconds.max(1))),
            total: None,
            max_attempts: max_attempts.max(1),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            non_retryable: &[FailureKind::LlmNotConfigured],
        }
    }

    /// The SDK's options, with `summary` shown for the step in the Temporal UI.
    pub fn options(&self, summary: String) -> ActivityOptions {
        let timeouts = match self.total {
            Some(total) => ActivityCloseTimeouts::ScheduleAndStartToClose {
                schedule_to_close: total,
                start_to_close: self.attempt,
            },
            None => ActivityCloseTimeouts::StartToClose(self.attempt),
        };
        let non_retryable: Vec<&'static str> = self
            .non_retryable
            .iter()
            .chain(&[FailureKind::InvalidInput])
            .map(|k| k.type_name())
            .collect();
        ActivityOptions::with_close_timeouts(timeouts)
            .retry_policy(
                RetryPolicy::builder()
                    .initial_interval(self.initial_backoff)
                    .backoff_coefficient(2.0)
                    .maximum_interval(self.max_backoff)
                    .maximum_attempts(self.max_attempts)
                    .non_retryable_error_types(non_retryable)
                    .build(),
            )
            .summary(summary)
            .build()
    }
}

/// How a step's last failure reads: a timeout of Temporal's, or the kind the activity reported.
pub(crate) fn step_failure(
    e: &temporalio_sdk::ActivityExecutionError,
) -> crate::activity_io::StepFailure {
    let kind = match e.reason() {
        Some(temporalio_common::error::IncomingError::Application(app)) => {
            app.type_name().and_then(FailureKind::from_type_name)
        }
        _ => None,
    };
    crate::activity_io::StepFailure::of(e.as_timeout().is_some(), kind)
}
