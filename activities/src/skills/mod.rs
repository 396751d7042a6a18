//! The four context skills. Each is a plain function over the provider traits in
//! `crate::providers`, so it can be tested without Temporal and its data source swapped without
//! touching the analysis. `market_state` computes the `market-context` domain (index moves,
//! session phase, gap, relative strength); it is not the market-context *workflow*
//! (`torghut_workflows::market_context`), which merges all four domains.

pub mod fundamentals;
pub mod market_state;
pub mod news;
pub mod technicals;
