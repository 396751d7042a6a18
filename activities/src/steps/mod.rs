//! The decision's steps after the context, as activity bodies named for their activities: each
//! maps its typed input onto the pure policy in `torghut_policy` and does the I/O around it (the
//! exposure ledger's Updates, the adapters' health).

pub mod execution_routing;
pub mod exposure_ledger;
pub mod risk_exposure_sizing;
