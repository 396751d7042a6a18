//! The four context skills. Each is a plain function over a provider trait, so it can be tested
//! without Temporal and its data source swapped without touching the analysis.

pub mod fundamentals;
pub mod market_context;
pub mod news;
pub mod sentiment_eval;
pub mod sentiment_model;
pub mod technicals;
