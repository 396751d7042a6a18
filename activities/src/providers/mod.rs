//! Production data sources behind the skills' provider traits. The embedded, file-backed
//! defaults live next to their traits (e.g. [`crate::bars::FileBarProvider`]); what is here speaks
//! the real services' wire formats: Torghut's ClickHouse, Alpaca news and SEC EDGAR.

pub mod alpaca_news;
pub mod clickhouse;
pub mod edgar;
mod http;

pub use http::ConfigError;
