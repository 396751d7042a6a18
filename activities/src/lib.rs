//! Activities: the only place in the engine with network, disk and clocks.
//!
//! The layout follows one rule:
//!
//! - [`providers`]: every data source, with its wire types. A domain's records and the trait
//!   the skills read it through are in `providers/<domain>.rs` (`bars`, `news`, `fundamentals`,
//!   `signals`); the implementations sit beside them: `providers/files/` (the embedded defaults),
//!   `providers/clickhouse/` (config, SQL, row decoding), `alpaca_news.rs`, `edgar.rs`.
//! - [`skills`]: the context skills, functions over the provider traits, never over a concrete
//!   source.
//! - [`sentiment`]: the headline scorer of `news-sentiment` (lexicon, linear model) and its
//!   evaluation.
//! - [`secret`]: the credential type every client (LLM, providers) holds its key in.
//! - The activity steps and their shell: [`bundle::DecisionSkills`] (the Temporal activities the
//!   workflow declares), [`context`] (the providers built once per worker, and the one way a skill
//!   is run), [`steps`] (`risk-exposure-sizing`, `execution-routing` and the exposure ledger's
//!   client, named for their activities), [`skill`] (the output contract), [`llm`],
//!   [`faults`], [`metrics`] and [`indicators`].
//!
//! Architecture invariant: nothing here decides policy — sizing and routing rules live in
//! `torghut_policy` as pure functions; activities feed them data.

pub mod bundle;
pub mod context;
pub mod faults;
pub mod indicators;
pub mod llm;
pub mod metrics;
pub mod providers;
pub mod secret;
pub mod sentiment;
pub mod skill;
pub mod skills;
pub mod steps;

pub use bundle::DecisionSkills;
