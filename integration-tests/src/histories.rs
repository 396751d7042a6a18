//! The recorded histories' catalogue, shared by `tests/record_histories.rs` (which writes them)
//! and `tests/replay.rs` (which replays them), so a scenario or a shape is named once.

/// The shapes of `decision-workflow` runs that may still be open somewhere, one folder each
/// under `histories/`: before and after patch `typed-activity-inputs`. Each is kept (and
/// replayed) until no run of it is left.
pub const SHAPES: [&str; 2] = ["v1-wire-inputs", "v2-typed-inputs"];

/// The shape the current code records.
pub const CURRENT_SHAPE: &str = "v2-typed-inputs";

/// One recorded run per outcome the workflow can reach.
pub const SCENARIOS: [&str; 7] = [
    "buy",
    "sell",
    "hold-no-position-to-sell",
    "veto-kill-switch",
    "veto-missing-technicals",
    "deadline-error",
    "llm-review",
];
