//! Offline evaluation of the decision policy. See `docs/evaluation.md`.

pub mod charts;
pub mod config;
pub mod decide;
pub mod market;
pub mod report;
pub mod run;
pub mod score;
pub mod stats;

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("bars: {0}")]
    Bars(String),
    #[error("request: {0}")]
    Request(String),
    #[error("config: {0}")]
    Config(String),
}
