//! Production data sources behind the skills' provider traits. The file-backed providers next to
//! each skill are the embedded default; these speak the real services' wire formats.

pub mod alpaca_news;
pub mod edgar;
mod http;

pub use http::ConfigError;
