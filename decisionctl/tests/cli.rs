//! decisionctl as an operator runs it.

use std::process::Command;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../activities/data/samples/historical-decisions.jsonl"
);
const HISTORIES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../integration-tests/histories"
);

fn ctl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_decisionctl"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("decisionctl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_reads_like_a_man_page() {
    let (ok, out, _) = ctl(&["--help"]);
    assert!(ok);
    for section in [
        "EXAMPLES:",
        "ENVIRONMENT:",
        "submit",
        "watch",
        "get",
        "cancel",
        "history",
        "check-history",
        "replay",
        "sample",
    ] {
        assert!(out.contains(section), "--help lacks {section}:\n{out}");
    }
}

#[test]
fn replaying_the_sample_under_the_same_policy_changes_nothing() {
    // The sample was recorded by the engine before calibration.
    let (ok, out, err) = ctl(&["replay", SAMPLE, "--uncalibrated"]);
    assert!(ok, "{err}");
    assert!(out.contains("| 92 | 92 | 0 | 0 | 0 | 0 | 0 | 0 |"), "{out}");
}

#[test]
fn the_calibrated_policy_turns_the_samples_losing_trades_into_holds() {
    let (ok, out, err) = ctl(&["replay", SAMPLE]);
    assert!(ok, "{err}");
    assert!(out.contains("calibration cal-"), "{out}");
    assert!(out.contains("buy -> hold: 46"), "{out}");
    assert!(
        !out.contains("hold -> buy") && !out.contains("hold -> sell"),
        "{out}"
    );
}

#[test]
fn a_stricter_quality_gate_only_ever_shrinks_sizes() {
    let report = std::env::temp_dir().join(format!("replay-{}.md", std::process::id()));
    let (ok, _, err) = ctl(&[
        "replay",
        SAMPLE,
        "--uncalibrated",
        "--min-context-quality",
        "0.62",
        "-o",
        &report.to_string_lossy(),
    ]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&report).expect("report written");
    assert!(text.contains("buy -> hold"), "{text}");
    let mut rows = 0;
    for line in text
        .lines()
        .filter(|l| l.contains(" → ") && l.starts_with("| "))
    {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let (before, after) = cols[4].split_once(" → ").expect("qty column");
        let (before, after): (f64, f64) =
            (before.parse().expect("qty"), after.parse().expect("qty"));
        assert!(after <= before, "a stricter gate raised a size: {line}");
        rows += 1;
    }
    assert!(rows > 0, "the report lists its changes");
    assert!(err.contains("46 action changes"), "{err}");
}

#[test]
fn recorded_histories_check_against_this_build() {
    // One folder per recorded shape of the workflow (see integration-tests/tests/replay.rs).
    let files: Vec<String> = std::fs::read_dir(HISTORIES)
        .expect("histories")
        .filter_map(Result::ok)
        .flat_map(|shape| std::fs::read_dir(shape.path()).expect("a shape's folder"))
        .filter_map(Result::ok)
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    assert!(files.len() >= 14, "both shapes' histories: {files:?}");
    let mut args = vec!["check-history"];
    args.extend(files.iter().map(String::as_str));
    let (ok, out, err) = ctl(&args);
    assert!(ok, "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len(),
        "{out}"
    );
}

#[test]
fn a_bad_record_is_named_by_file_and_line() {
    let path = std::env::temp_dir().join(format!("bad-{}.jsonl", std::process::id()));
    std::fs::write(&path, "{\"request\": 1}\n").expect("write");
    let (ok, _, err) = ctl(&["replay", &path.to_string_lossy()]);
    assert!(!ok);
    assert!(err.contains(":1: not a recorded decision"), "{err}");
}
