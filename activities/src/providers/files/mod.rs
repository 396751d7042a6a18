//! The embedded, file-backed sources: what tests, the demo and a worker without a production
//! provider read. Each reads one directory (the committed data under `activities/data/` by
//! default, overridable per domain; see docs/configuration.md) in the format of the production
//! source it stands in for: LEAN bars, Alpaca news JSON, EDGAR company facts.

pub mod bars;
pub mod fundamentals;
pub mod news;
