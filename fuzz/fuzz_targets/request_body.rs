//! The gateway's request body parser on arbitrary bytes.
//!
//! Beyond "never panics", two properties the engine relies on:
//! - a rejection names a field and a reason (the 422 a client gets is never blank);
//! - an accepted request survives the trip the workflow input takes: the wire request is
//!   serialised to JSON for Temporal and validated again inside the workflow, which must reach
//!   the same `ValidatedRequest` — otherwise a replay or a retry could decide on other inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torghut_proto::model::validate;
use torghut_proto::parse_request;

fuzz_target!(|body: &[u8]| {
    match parse_request(body) {
        Err(e) => {
            assert!(!e.path.is_empty(), "an error without a field path: {e:?}");
            assert!(!e.reason.is_empty(), "an error without a reason: {e:?}");
        }
        Ok((wire, validated)) => {
            assert_eq!(
                validate(&wire).as_ref(),
                Ok(&validated),
                "validation is a function of the wire request"
            );
            let json = serde_json::to_vec(&wire).expect("a parsed request serialises");
            let (again, revalidated) = parse_request(&json).unwrap_or_else(|e| {
                panic!(
                    "the workflow would reject what the gateway accepted: {e:?} in {}",
                    String::from_utf8_lossy(&json)
                )
            });
            assert_eq!(revalidated, validated, "the round trip changed the request");
            assert_eq!(again, wire, "the round trip changed the wire request");
        }
    }
});
