//! Deserializers that accept what real callers send for decimal fields.
//!
//! The contract says decimals are strings, but Torghut's Python client may serialise a zero
//! portfolio or a feature as a JSON number. Such a number is kept as its exact JSON text: it is
//! read as a [`RawValue`], never through `f64`, so `10.000000000000000001` and numbers at or
//! above 2^64 keep every digit (and are then judged by the bounds in [`crate::model`], which
//! names the field). The exactness holds when the body is deserialized from its text, as
//! [`crate::parse_request`] does; from an already parsed `serde_json::Value` a number has been
//! through `f64` and is read back as whatever that kept.

use serde::{Deserialize, Deserializer, de::Error};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// What a decimal field held: the text of a string, or of a number as it was written.
enum Scalar {
    Text(String),
    Number(String),
    Bool(bool),
    Other,
}

fn classify(raw: &RawValue) -> Scalar {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text).map_or(Scalar::Other, Scalar::Text),
        Some(b'-' | b'0'..=b'9') => Scalar::Number(text.to_owned()),
        Some(b't') => Scalar::Bool(true),
        Some(b'f') => Scalar::Bool(false),
        _ => Scalar::Other,
    }
}

pub(crate) fn decimal_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = Box::<RawValue>::deserialize(d)?;
    match classify(&raw) {
        Scalar::Text(s) | Scalar::Number(s) => Ok(s),
        _ => Err(D::Error::custom(
            "expected a decimal string such as \"100.50\"",
        )),
    }
}

pub(crate) fn opt_decimal_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    let raw = Option::<Box<RawValue>>::deserialize(d)?;
    match raw.as_deref().map(classify) {
        None => Ok(None),
        Some(Scalar::Text(s) | Scalar::Number(s)) => Ok(Some(s)),
        Some(_) => Err(D::Error::custom(
            "expected a decimal string such as \"100.50\" or null",
        )),
    }
}

/// Feature maps: strings and numbers as their text, booleans as `true`/`false` (which the
/// decimal check then refuses by the feature's name).
pub(crate) fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = Option::<BTreeMap<String, Box<RawValue>>>::deserialize(d)?;
    raw.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| match classify(&v) {
            Scalar::Text(s) | Scalar::Number(s) => Ok((k, s)),
            Scalar::Bool(b) => Ok((k, b.to_string())),
            Scalar::Other => Err(D::Error::custom(format!(
                "feature {k:?}: expected a decimal string such as \"0.25\""
            ))),
        })
        .collect()
}

/// An optional whole number, also when spelled with a zero fraction (`476.0`): JSON Schema's
/// `integer` admits that spelling, and a client serialising through a float produces it. A real
/// fraction (`476.5`) or anything out of `u32` is refused with the field's path.
pub fn opt_whole_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let Some(raw) = Option::<Box<RawValue>>::deserialize(d)? else {
        return Ok(None);
    };
    let text = raw.get();
    let whole = match text.split_once('.') {
        Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int,
        Some(_) => "",
        None => text,
    };
    whole.parse::<u32>().map(Some).map_err(|_| {
        D::Error::custom(format!(
            "expected a whole number 0..=4294967295, got {text}"
        ))
    })
}
