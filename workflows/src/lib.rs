//! The workflows: orchestration only.
//!
//! Architecture invariant: nothing in this crate does I/O or reads a clock. The workflows get
//! time from the SDK and data from activity results, and hand both to the pure policy in
//! `torghut-policy`, so replaying a history gives the same answer.

pub mod activity_io;
pub mod activity_options;
pub mod decision;
pub mod ids;
pub mod intraday_loop;
pub mod ledger;
pub mod market_context;

pub use decision::{DecisionWorkflow, WORKFLOW_TYPE};
pub use intraday_loop::IntradayLoop;
pub use ledger::ExposureLedger;
pub use market_context::MarketContextWorkflow;

/// Default task queue the worker polls and the gateway starts runs on.
pub const DEFAULT_TASK_QUEUE: &str = "torghut-decision-engine";
