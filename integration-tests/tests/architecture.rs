//! The crate boundaries `docs/architecture.md` states, enforced: every workspace crate depends
//! (directly, for building or at run time) only on the workspace crates its row in the
//! document's "What each crate may depend on" table allows, and the table names every crate.
//! Clocks and randomness in `workflows` and `policy` are enforced by their `clippy.toml`.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const DOC: &str = include_str!("../../docs/architecture.md");
const TABLE_HEADING: &str = "### What each crate may depend on";

/// crate -> the workspace crates it may depend on, from the document's table.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let start = DOC
        .find(TABLE_HEADING)
        .expect("the dependency table's heading");
    DOC[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_owned();
            let deps = cells[2]
                .split(',')
                .map(|d| d.trim().trim_matches('`').to_owned())
                .filter(|d| !d.is_empty() && d != "none")
                .collect();
            (name, deps)
        })
        .collect()
}

/// crate -> the workspace crates it depends on (normal and build dependencies).
fn actual() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = doc["packages"].as_array().expect("packages");
    let members: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .filter_map(|d| d["name"].as_str())
                .filter(|d| members.contains(*d))
                .map(str::to_owned)
                .collect();
            (p["name"].as_str().unwrap_or_default().to_owned(), deps)
        })
        .collect()
}

#[test]
fn every_crate_depends_only_on_what_the_architecture_document_allows() {
    let allowed = allowed();
    let actual = actual();
    assert_eq!(
        allowed.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>(),
        "the table in docs/architecture.md must name every workspace crate"
    );
    for (name, deps) in &actual {
        let extra: Vec<&String> = deps.difference(&allowed[name]).collect();
        assert!(
            extra.is_empty(),
            "{name} depends on {extra:?}, which docs/architecture.md does not allow"
        );
    }
}

#[test]
fn the_table_is_read_as_written() {
    let allowed = allowed();
    // The boundaries the rest of the document leans on; a table that lost them would let the
    // test above pass for the wrong reason.
    assert!(allowed["torghut-proto"].is_empty());
    assert_eq!(
        allowed["torghut-policy"],
        BTreeSet::from(["torghut-proto".to_owned()])
    );
    assert!(!allowed["torghut-workflows"].contains("torghut-activities"));
}
