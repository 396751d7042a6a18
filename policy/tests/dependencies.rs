//! The architecture invariant of `docs/architecture.md`, enforced: the policy depends on no
//! Temporal crate and on no crate of ours that does I/O, so it stays pure and callable offline.

use std::process::Command;

#[test]
fn the_policy_depends_on_neither_temporal_nor_any_io_crate_of_ours() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "torghut-policy",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("torghut-proto"), "{tree}");
    for forbidden in [
        "temporalio-",
        "torghut-workflows",
        "torghut-activities",
        "torghut-gateway",
        "tokio ",
        "reqwest",
    ] {
        assert!(
            !tree.lines().any(|l| l.starts_with(forbidden)),
            "torghut-policy depends on {forbidden}:\n{tree}"
        );
    }
}
