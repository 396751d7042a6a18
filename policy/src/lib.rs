//! The decision policy: pure functions over plain data.
//!
//! Architecture invariant: this crate knows nothing of Temporal, does no I/O and reads no clock
//! (`clippy.toml` at the workspace root forbids the clock and randomness APIs here and in
//! `torghut-workflows`; `cargo metadata` is checked for its dependencies). The workflow calls it
//! with activity results and the SDK's time; `decisionctl evaluate` and `decisionctl replay`
//! call it with skill outputs computed offline. Both get the same answer for the same inputs,
//! which is what makes an offline evaluation a statement about the engine.

pub mod analysis;
pub mod calibration;
pub mod intent;
pub mod ledger;
pub mod quote;
pub mod review;
pub mod routing;
pub mod sizing;
pub mod skills;
pub mod triggers;
