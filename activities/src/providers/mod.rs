//! Production data sources behind the skills' provider traits. The embedded, file-backed
//! defaults live next to their traits (e.g. [`crate::bars::FileBarProvider`]); what is here
//! talks to Torghut's own services.

pub mod clickhouse;
