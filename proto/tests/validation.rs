//! Table tests: each bad input is refused with the JSON path of the field and a reason.

use serde_json::{Value, json};
use torghut_proto::{fingerprint::fingerprint, parse_request};

fn sample() -> Value {
    serde_json::from_str(include_str!("fixtures/sample_request.json")).expect("fixture is JSON")
}

fn with(mut v: Value, pointer: &str, new: Value) -> Value {
    *v.pointer_mut(pointer).expect("pointer exists in fixture") = new;
    v
}

fn without(mut v: Value, parent: &str, key: &str) -> Value {
    v.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent object")
        .remove(key);
    v
}

#[test]
fn the_sample_request_is_valid() {
    let body = serde_json::to_vec(&sample()).expect("serialise");
    let (_, req) = parse_request(&body).expect("valid");
    assert_eq!(req.symbol.as_str(), "SPY");
    assert_eq!(req.portfolio.equity.get().to_string(), "100000");
    assert_eq!(req.deadline_seconds, 300);
    assert_eq!(req.trigger.features["rsi14"].to_string(), "61.4");
}

#[test]
fn each_bad_field_is_named_with_its_reason() {
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "negative money",
            with(sample(), "/portfolio/equity", json!("-5")),
            "portfolio.equity",
            "non-negative",
        ),
        (
            "unknown mode",
            with(sample(), "/execution_context/mode", json!("yolo")),
            "execution_context.mode",
            "\"paper\" or \"live\"",
        ),
        (
            "bad timestamp",
            with(sample(), "/trigger/event_ts", json!("yesterday")),
            "trigger.event_ts",
            "RFC 3339",
        ),
        (
            "missing field",
            without(sample(), "/trigger", "event_ts"),
            "trigger.event_ts",
            "missing",
        ),
        (
            "missing object",
            without(sample(), "", "portfolio"),
            "portfolio",
            "missing",
        ),
        (
            "not a ticker",
            with(sample(), "/symbol", json!("spy; drop")),
            "symbol",
            "ticker",
        ),
        (
            "bad uuid",
            with(sample(), "/request_id", json!("abc")),
            "request_id",
            "UUID",
        ),
        (
            "fraction above one",
            with(
                sample(),
                "/risk_policy/max_position_pct_equity",
                json!("1.5"),
            ),
            "risk_policy.max_position_pct_equity",
            "[0, 1]",
        ),
        (
            "non-decimal feature",
            with(sample(), "/trigger/features/rsi14", json!("high")),
            "trigger.features.rsi14",
            "decimal",
        ),
        (
            "wrong type",
            with(sample(), "/execution_context/lean_enabled", json!("yes")),
            "execution_context.lean_enabled",
            "boolean",
        ),
        (
            "deadline out of bounds",
            with(
                sample(),
                "/request_id",
                json!("8a1c2f5e-0d4b-4c1e-9f6a-2b3c4d5e6f70"),
            )
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("deadline_seconds".into(), json!(5));
                Value::Object(o)
            })
            .expect("object"),
            "deadline_seconds",
            "10..=900",
        ),
        (
            "position for another symbol",
            with(sample(), "/portfolio/position/symbol", json!("IBM")),
            "portfolio.position.symbol",
            "IBM",
        ),
        (
            "empty llm messages",
            with(
                with(sample(), "/trigger/type", json!("llm_review")),
                "/symbol",
                json!("LLM"),
            )
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("llm_review".into(), json!({"model": "m", "messages": []}));
                o.remove("portfolio");
                o.insert(
                    "portfolio".into(),
                    json!({"equity": "0", "buying_power": "0", "current_exposure": "0"}),
                );
                Value::Object(o)
            })
            .expect("object"),
            "llm_review.messages",
            "non-empty",
        ),
    ];
    for (name, body, path, reason) in cases {
        let bytes = serde_json::to_vec(&body).expect("serialise");
        let err = parse_request(&bytes).expect_err(name);
        assert_eq!(err.path, path, "{name}: {err}");
        assert!(
            err.reason.contains(reason),
            "{name}: reason {:?} lacks {reason:?}",
            err.reason
        );
    }
}

#[test]
fn malformed_json_points_at_the_document() {
    let err = parse_request(b"{\"request_id\": ").expect_err("malformed");
    assert_eq!(err.path, "$");
    assert!(
        err.reason.contains("malformed JSON at line 1"),
        "{}",
        err.reason
    );
}

#[test]
fn numbers_are_accepted_for_decimals_and_kept_exact() {
    let body = with(sample(), "/portfolio/equity", json!(100000.25));
    let (wire, req) = parse_request(&serde_json::to_vec(&body).expect("ser")).expect("valid");
    assert_eq!(
        wire.portfolio.as_ref().map(|p| p.equity.as_str()),
        Some("100000.25")
    );
    assert_eq!(req.portfolio.equity.get().to_string(), "100000.25");
}

#[test]
fn fingerprint_ignores_only_the_event_timestamp() {
    let parse = |v: Value| {
        parse_request(&serde_json::to_vec(&v).expect("ser"))
            .expect("valid")
            .0
    };
    let base = fingerprint(&parse(sample()));
    assert_eq!(
        base,
        fingerprint(&parse(with(
            sample(),
            "/trigger/event_ts",
            json!("2013-10-08T14:31:00Z")
        )))
    );
    assert_ne!(
        base,
        fingerprint(&parse(with(sample(), "/portfolio/equity", json!("99999"))))
    );
    assert_ne!(
        base,
        fingerprint(&parse(with(
            sample(),
            "/trigger/features/rsi14",
            json!("61.5")
        )))
    );
}
