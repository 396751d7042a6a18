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

/// The body as text, so numbers are sent exactly as written here (not through `serde_json`).
fn body_with(pointer_field: &str, raw_json: &str) -> Vec<u8> {
    let marker = "\"__MARK__\"";
    let v = with(sample(), pointer_field, json!("__MARK__"));
    serde_json::to_string(&v)
        .expect("ser")
        .replacen(marker, raw_json, 1)
        .into_bytes()
}

#[test]
fn every_decimal_is_bounded_and_an_out_of_range_one_is_a_named_refusal() {
    for (pointer, path) in [
        ("/portfolio/equity", "portfolio.equity"),
        ("/portfolio/buying_power", "portfolio.buying_power"),
        ("/portfolio/current_exposure", "portfolio.current_exposure"),
        ("/portfolio/position/qty", "portfolio.position.qty"),
        (
            "/portfolio/position/market_value",
            "portfolio.position.market_value",
        ),
        (
            "/risk_policy/max_notional_per_trade",
            "risk_policy.max_notional_per_trade",
        ),
        ("/trigger/features/rsi14", "trigger.features.rsi14"),
    ] {
        for raw in [
            "\"-5e27\"",
            "\"79228162514264337593543950335\"",
            "79228162514264337593543950335",
            "18446744073709551617",
            "\"1000000000000000\"",
            "\"1e15\"",
            "\"0.0000000000001\"",
            "\"1e-13\"",
            "\"1e99999\"",
        ] {
            let err = parse_request(&body_with(pointer, raw))
                .expect_err(&format!("{path} = {raw} must be refused"));
            assert_eq!(err.path, path, "{raw}: {err}");
            assert!(
                err.reason.contains("out of range")
                    || err.reason.contains("digits after the point")
                    || err.reason.contains("decimal string"),
                "{path} = {raw}: {err}"
            );
        }
        // The largest accepted magnitudes read exactly.
        for (raw, exact) in [
            (
                "\"999999999999999.999999999999\"",
                "999999999999999.999999999999",
            ),
            ("\"0.000000000001\"", "0.000000000001"),
            ("\"1.5e3\"", "1500"),
            ("\"12.5E-1\"", "1.25"),
            ("0", "0"),
        ] {
            let (_, req) = parse_request(&body_with(pointer, raw))
                .unwrap_or_else(|e| panic!("{path} = {raw}: {e}"));
            let got = match path {
                "portfolio.equity" => req.portfolio.equity.get(),
                "portfolio.buying_power" => req.portfolio.buying_power.get(),
                "portfolio.current_exposure" => req.portfolio.current_exposure.get(),
                "portfolio.position.qty" => req.portfolio.position.as_ref().expect("pos").qty,
                "portfolio.position.market_value" => {
                    req.portfolio.position.as_ref().expect("pos").market_value
                }
                "risk_policy.max_notional_per_trade" => {
                    req.risk_policy.max_notional_per_trade.expect("limit").get()
                }
                _ => req.trigger.features["rsi14"],
            };
            assert_eq!(got.normalize().to_string(), exact, "{path} = {raw}");
        }
    }
}

#[test]
fn only_the_json_number_grammar_is_a_decimal() {
    for raw in [
        "1_0_0_0", "+5", "NaN", "inf", "0x10", "1.", ".5", "1e", "1e+", "--1", "1.2.3", "1 0", "١٢",
    ] {
        let err =
            parse_request(&body_with("/portfolio/equity", &format!("\"{raw}\""))).expect_err(raw);
        assert_eq!(err.path, "portfolio.equity", "{raw}");
        assert!(err.reason.contains("decimal string"), "{raw}: {err}");
    }
}

#[test]
fn a_decimal_sent_as_a_json_number_keeps_its_exact_digits() {
    // Through f64 this would be 10000000000000 (and 10.000000000000000001 would be 10).
    let (wire, req) =
        parse_request(&body_with("/portfolio/position/qty", "9999999999999.9999")).expect("valid");
    let pos = wire.portfolio.and_then(|p| p.position).expect("position");
    assert_eq!(pos.qty, "9999999999999.9999");
    assert_eq!(
        req.portfolio.position.expect("position").qty.to_string(),
        "9999999999999.9999"
    );
    // Too precise for a decimal of ours: refused, never rounded.
    let err = parse_request(&body_with(
        "/portfolio/position/qty",
        "10.000000000000000001",
    ))
    .expect_err("more than 12 places");
    assert!(err.reason.contains("rounded"), "{err}");
    // Features too.
    let (wire, _) =
        parse_request(&body_with("/trigger/features/rsi14", "61.400000000001")).expect("valid");
    assert_eq!(
        wire.trigger.expect("trigger").features["rsi14"],
        "61.400000000001"
    );
}

#[test]
fn control_characters_in_labels_are_refused() {
    for (pointer, path) in [
        ("/strategy_id", "strategy_id"),
        ("/trigger/type", "trigger.type"),
        ("/trigger/source", "trigger.source"),
    ] {
        for bad in ["a\u{0}b", "a\rb", "a\nInjected: x", "a\u{1b}[31m"] {
            let err = parse_request(
                &serde_json::to_vec(&with(sample(), pointer, json!(bad))).expect("ser"),
            )
            .expect_err(bad);
            assert_eq!(err.path, path, "{bad:?}");
            assert!(err.reason.contains("control character"), "{err}");
        }
    }
}

#[test]
fn equivalent_retries_have_one_fingerprint() {
    let parse = |v: Value| {
        parse_request(&serde_json::to_vec(&v).expect("ser"))
            .expect("valid")
            .0
    };
    let base = fingerprint(&parse(sample()));
    let id = sample()["request_id"]
        .as_str()
        .expect("id")
        .to_ascii_uppercase();
    let mut explicit = sample();
    explicit["deadline_seconds"] = json!(300);
    explicit["account_id"] = json!("default");
    for (name, body) in [
        (
            "upper-case request_id",
            with(sample(), "/request_id", json!(id)),
        ),
        (
            "padded strategy_id",
            with(
                sample(),
                "/strategy_id",
                json!(format!(
                    "  {}  ",
                    sample()["strategy_id"].as_str().expect("s")
                )),
            ),
        ),
        ("explicit defaults", explicit),
        (
            "the same value spelled otherwise",
            with(sample(), "/portfolio/equity", json!("100000.00")),
        ),
        (
            "the same value as a number",
            with(sample(), "/portfolio/equity", json!(100000)),
        ),
    ] {
        assert_eq!(base, fingerprint(&parse(body)), "{name}");
    }
    let mut other_deadline = sample();
    other_deadline["deadline_seconds"] = json!(301);
    assert_ne!(base, fingerprint(&parse(other_deadline)));
    assert_ne!(
        base,
        fingerprint(&parse(with(
            sample(),
            "/portfolio/equity",
            json!("100000.01")
        )))
    );
}

#[test]
fn a_whole_number_spelled_with_a_zero_fraction_is_that_number() {
    let mut body = sample();
    body["deadline_seconds"] = json!("__D__");
    let text = |d: &str| {
        serde_json::to_string(&body)
            .expect("ser")
            .replace("\"__D__\"", d)
            .into_bytes()
    };
    let (_, req) = parse_request(&text("476.0")).expect("476.0 is 476");
    assert_eq!(req.deadline_seconds, 476);
    let (_, req) = parse_request(&text("null")).expect("null is the default");
    assert_eq!(req.deadline_seconds, 300);
    for bad in ["476.5", "-1", "1e2", "\"300\""] {
        let err = parse_request(&text(bad)).expect_err(bad);
        assert_eq!(err.path, "deadline_seconds", "{bad}: {err}");
    }
}
