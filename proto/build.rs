//! Generates the contract types from `torghut/decision/v1/decision.proto`.
//!
//! Serde derives are added here so the generated types *are* the JSON contract: prost field names
//! are already the proto's snake_case names, and every decimal is a proto `string`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "torghut/decision/v1/decision.proto";
    println!("cargo:rerun-if-changed={proto}");
    let mut config = prost_build::Config::new();
    config
        .type_attribute(".", "#[derive(serde::Serialize, serde::Deserialize)]")
        .type_attribute(
            ".torghut.decision.v1.DecisionEvent.payload",
            "#[serde(rename_all = \"snake_case\")]",
        )
        .field_attribute(
            ".torghut.decision.v1.Trigger.features",
            "#[serde(default, deserialize_with = \"crate::lenient::string_map\")]",
        )
        .field_attribute(
            ".torghut.decision.v1.LlmReview.temperature",
            "#[serde(default, deserialize_with = \"crate::lenient::opt_decimal_string\")]",
        )
        .field_attribute(
            ".torghut.decision.v1.DecisionIntent.order_constraints",
            "#[serde(default)]",
        )
        // Added after runs were recorded: results and Update answers of older runs lack it.
        .field_attribute(
            ".torghut.decision.v1.DecisionEvent.trace_id",
            "#[serde(default)]",
        )
        .field_attribute(
            ".torghut.decision.v1.DecisionIntent.veto_reasons",
            "#[serde(default)]",
        )
        // Torghut's LLM review trigger carries no source and no execution context flags; both
        // are informational for that path, so absence is not an error.
        .field_attribute(".torghut.decision.v1.Trigger.source", "#[serde(default)]")
        .field_attribute(
            ".torghut.decision.v1.ExecutionContext.lean_enabled",
            "#[serde(default)]",
        )
        .btree_map(["."]);
    for f in [
        "Portfolio.equity",
        "Portfolio.buying_power",
        "Portfolio.current_exposure",
        "Position.qty",
        "Position.market_value",
    ] {
        config.field_attribute(
            format!(".torghut.decision.v1.{f}"),
            "#[serde(deserialize_with = \"crate::lenient::decimal_string\")]",
        );
    }
    for f in [
        "RiskPolicy.max_notional_per_trade",
        "RiskPolicy.max_position_pct_equity",
    ] {
        config.field_attribute(
            format!(".torghut.decision.v1.{f}"),
            "#[serde(default, deserialize_with = \"crate::lenient::opt_decimal_string\")]",
        );
    }
    for f in ["DecisionRequest.deadline_seconds", "LlmReview.max_tokens"] {
        config.field_attribute(
            format!(".torghut.decision.v1.{f}"),
            "#[serde(default, deserialize_with = \"crate::lenient::opt_whole_u32\")]",
        );
    }
    config.compile_protos(&[proto], &["."])?;
    Ok(())
}
