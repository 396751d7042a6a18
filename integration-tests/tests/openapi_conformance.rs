//! The OpenAPI document matches behaviour: schemathesis (PyPI, pinned and installed by
//! `scripts/install-deps.sh` into its own virtualenv) generates requests from the live gateway's
//! `/openapi.json` and runs all of its checks against the answers (status codes, content types,
//! response schemas, headers, server errors, negative data refused). Bounded by
//! `--max-examples`, so it takes a couple of minutes at most.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use torghut_integration_tests::{Stack, stack_in};

/// Examples per operation: enough to find what the adversarial run found, few enough to stay
/// within about two minutes on a 2-core machine.
const MAX_EXAMPLES: &str = "25";

/// With authentication on, as deployed, so the document's security is checked too.
const TOKEN: &str = "tok-schemathesis-5e6f7a8b9c";

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    stack_in(
        &STACK,
        &[
            (
                "TORGHUT_API_TOKENS",
                "schemathesis:tok-schemathesis-5e6f7a8b9c role=operator",
            ),
            ("TORGHUT_RATE_LIMIT_PER_MINUTE", "0"),
        ],
    )
}

fn schemathesis() -> PathBuf {
    // Where scripts/install-deps.sh puts it.
    let venv = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/torghut-decision-engine/schemathesis"))
        .expect("HOME is set");
    let st = venv.join("bin/st");
    assert!(
        st.exists(),
        "{} is missing: run scripts/install-deps.sh (it installs schemathesis)",
        st.display()
    );
    st
}

/// Every check on every operation, with the exceptions in `integration-tests/schemathesis.toml`:
/// answers the document declares but JSON Schema cannot predict (a market-context symbol without
/// data is a 400; the engine health's 503 when no domain has data; a position in another symbol
/// than the request's is a 422). One worker: with two, schemathesis under Python 3.11 sometimes
/// fails inside CPython's parser (`SystemError: AST constructor recursion depth mismatch`), an
/// error of the tool, not of the gateway. About 60 s.
#[test]
fn the_live_gateway_conforms_to_its_openapi_document() {
    let stack = stack();
    let report = stack.log_dir.join("schemathesis");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/schemathesis.toml");
    let out = Command::new(schemathesis())
        .args(["--config-file", config])
        .args(["run", &stack.url("/openapi.json")])
        .args(["--url", &stack.gateway_url])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", "17"])
        .args(["--request-timeout", "30"])
        .args(["--workers", "1"])
        .arg("--report-dir")
        .arg(&report)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("schemathesis runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found mismatches between gateway/openapi.json and the gateway:\n{text}"
    );
}
