//! Activities: the only place in the engine with network, disk and clocks.
//!
//! Skills are functions over provider traits ([`bars::BarProvider`], the news and fundamentals
//! providers); [`bundle::DecisionSkills`] exposes them as the Temporal activities the workflow
//! declares. Architecture invariant: nothing here decides policy — sizing and routing rules live
//! in `torghut_workflows` as pure functions; activities feed them data.

pub mod bars;
pub mod bundle;
pub mod context;
pub mod exposure;
pub mod faults;
pub mod indicators;
pub mod llm;
pub mod metrics;
pub mod providers;
pub mod risk;
pub mod routing;
pub mod skill;
pub mod skills;
pub mod triggers;

pub use bundle::DecisionSkills;
