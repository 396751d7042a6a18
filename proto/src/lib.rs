//! The decision engine's contract.
//!
//! - [`v1`]: types generated from `torghut/decision/v1/decision.proto`. They are the JSON wire
//!   format (snake_case, decimals as strings) and the payloads stored in Temporal histories.
//! - [`model`]: the typed view of a request after validation (decimals, closed enums, timestamps).
//!   Every caller-facing error names the JSON path of the offending field.
//! - [`fingerprint`]: what makes two requests under one `request_id` "the same request".
//! - [`trace`]: the W3C `traceparent` a run is traced under.

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/torghut.decision.v1.rs"));
}

pub mod event;
pub mod fingerprint;
mod lenient;
pub use lenient::opt_whole_u32;
pub mod model;
pub mod trace;

pub use model::{FieldError, ValidatedRequest, parse_request};
