//! `decisionctl evaluate` against the real stack: the offline evaluation decides exactly as the
//! engine does (`--through-engine`), and the check fails when they differ.

use std::path::Path;
use std::process::Command;
use torghut_integration_tests::{TRADING_CALIBRATION, bin_dir, stack};

fn evaluate(args: &[&str], out: &Path) -> std::process::Output {
    let s = stack();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    Command::new(bin_dir().expect("bins").join("decisionctl"))
        .current_dir(root)
        .args([
            "--gateway",
            &s.gateway_url,
            "evaluate",
            "scripts/evaluate-config.json",
        ])
        .args(["--from", "2013-10-08", "--to", "2013-10-08"])
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .expect("decisionctl runs")
}

#[test]
fn the_engine_decides_a_sample_of_triggers_exactly_as_the_offline_evaluation_does() {
    let out = std::env::temp_dir().join(format!("torghut-eval-{}", uuid::Uuid::new_v4()));
    let run = evaluate(
        &[
            "--through-engine",
            "6",
            "--calibration",
            TRADING_CALIBRATION,
        ],
        &out,
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("through-engine: 6 of 6 intents identical"),
        "{stdout}"
    );
    // The report a person reads, its charts and every scored decision.
    let report = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    for section in [
        "## Policies at 30 min",
        "always hold",
        "trigger momentum",
        "reverse momentum",
        "random (",
        "## Calibration",
        "## Ablation",
        "without technicals-regime",
    ] {
        assert!(report.contains(section), "{section} missing:\n{report}");
    }
    for chart in ["cumulative.svg", "calibration.svg"] {
        let svg = std::fs::read_to_string(out.join(chart)).expect(chart);
        assert!(
            svg.starts_with("<svg") && svg.contains("polyline"),
            "{chart}"
        );
    }
    let decisions = std::fs::read_to_string(out.join("decisions.jsonl")).expect("jsonl");
    let lines: Vec<serde_json::Value> = decisions
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(lines.len() > 50, "a day of triggers: {}", lines.len());
    assert!(
        lines
            .iter()
            .all(|l| l["outcomes"]["30m"].is_object() || l["outcomes"]["30m"].is_null())
    );
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "buy" || l["action"] == "sell"),
        "the trading fixture trades"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_policy_that_differs_from_the_engines_is_caught() {
    // The stack's gateway runs the trading fixture; judged by the shipped calibration (which
    // holds), the offline intents cannot match.
    let out = std::env::temp_dir().join(format!("torghut-eval-{}", uuid::Uuid::new_v4()));
    let run = evaluate(&["--through-engine", "3"], &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "a different policy must not pass");
    assert!(stderr.contains("intents differ"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}
