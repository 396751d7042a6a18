//! Every data source the skills read, with its wire types.
//!
//! The rule of this module: a domain's *interface* — the records a skill reads and the trait it
//! reads them through, with the as-of rule that says what a decision may see — is in a file
//! named for the domain ([`bars`], [`news`], [`fundamentals`], [`signals`]); each
//! *implementation* is next to it and owns its wire format: [`files`] (the embedded,
//! file-backed defaults over `activities/data/`), [`clickhouse`] (Torghut's `ta_microbars` and
//! `ta_signals`), [`alpaca_news`] and [`edgar`]. Providers know nothing of skills; skills
//! (`crate::skills`) know providers only through the traits.

pub mod alpaca_news;
pub mod bars;
pub mod clickhouse;
pub mod edgar;
pub mod files;
pub mod fundamentals;
mod http;
pub mod news;
pub mod signals;

pub use bars::{BarError, BarProvider, DailyBar, MinuteBar};
pub use fundamentals::{CompanyFacts, FundamentalsProvider};
pub use news::{NewsItem, NewsProvider};
pub use signals::TriggerSource;
