//! A validated request crosses Temporal in its wire form and is validated again when decoded:
//! that is only sound if the wire form of a validated request validates back to the same value,
//! and if a payload that does not validate cannot be decoded into the typed form.

use serde_json::{Value, json};
use torghut_proto::{ValidatedRequest, fingerprint::fingerprint, parse_request};

fn sample() -> Value {
    serde_json::from_str(include_str!("fixtures/sample_request.json")).expect("fixture is JSON")
}

fn validated(v: &Value) -> ValidatedRequest {
    parse_request(&serde_json::to_vec(v).expect("serialise"))
        .expect("valid")
        .1
}

fn variants() -> Vec<Value> {
    let mut out = vec![sample()];
    // Every optional block absent: the defaults must be spelled out and read back the same.
    let mut bare = sample();
    for key in [
        "risk_policy",
        "execution_context",
        "deadline_seconds",
        "account_id",
    ] {
        bare.as_object_mut().expect("object").remove(key);
    }
    out.push(bare);
    let mut odd = sample();
    odd["trigger"]["event_ts"] = json!("2026-03-02T09:31:00.123456789-05:00");
    odd["trigger"]["source"] = json!("  padded source  ");
    odd["trigger"]["features"] =
        json!({"macd": "1.5e3", "tiny": "-0.000000000001", "zeros": "2.500"});
    odd["portfolio"]["equity"] = json!(123456789012345.5);
    odd["portfolio"]["position"] =
        json!({"symbol": "SPY", "qty": "-12", "market_value": "-5400.25"});
    odd["risk_policy"] = json!({"max_notional_per_trade": null, "max_position_pct_equity": "1", "allow_short": true});
    odd["execution_context"] = json!({"primary_adapter": "lean", "lean_enabled": true, "mode": "live", "allow_fractional": true});
    out.push(odd);
    let mut review = sample();
    review["symbol"] = json!("LLM");
    review["portfolio"]["position"] = Value::Null;
    review["trigger"]["type"] = json!("llm_review");
    review["llm_review"] = json!({
        "model": " gpt-x ",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "{\"a\":1}"}],
        "temperature": "0.2",
        "max_tokens": 256
    });
    out.push(review);
    out
}

#[test]
fn the_wire_form_of_a_validated_request_validates_back_to_it() {
    for v in variants() {
        let typed = validated(&v);
        let again: ValidatedRequest =
            serde_json::from_value(serde_json::to_value(&typed).expect("encode")).expect("decode");
        assert_eq!(again, typed, "{v}");
        // Spelling the defaults out must not make it another request for the idempotency check.
        assert_eq!(
            fingerprint(&typed.to_wire()),
            fingerprint(&serde_json::from_value(v.clone()).expect("wire")),
            "{v}"
        );
    }
}

#[test]
fn a_payload_that_does_not_validate_does_not_decode() {
    let mut bad = serde_json::to_value(validated(&sample())).expect("encode");
    bad["portfolio"]["equity"] = json!("-1");
    let err = serde_json::from_value::<ValidatedRequest>(bad)
        .expect_err("a negative equity must not decode")
        .to_string();
    assert!(err.contains("portfolio.equity"), "{err}");
}
