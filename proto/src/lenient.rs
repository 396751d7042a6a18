//! Deserializers that accept what real callers send for decimal fields.
//!
//! The contract says decimals are strings, but Torghut's Python client may serialise a zero
//! portfolio or a feature as a JSON number. Accepting a number here loses nothing (it is kept as
//! its exact JSON text); range and sign checks happen in [`crate::model`], which names the field.

use serde::{Deserialize, Deserializer, de::Error};
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Number(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DecimalLike {
    Text(String),
    Number(serde_json::Number),
}

pub(crate) fn decimal_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match DecimalLike::deserialize(d) {
        Ok(DecimalLike::Text(s)) => Ok(s),
        Ok(DecimalLike::Number(n)) => Ok(n.to_string()),
        Err(_) => Err(D::Error::custom(
            "expected a decimal string such as \"100.50\"",
        )),
    }
}

pub(crate) fn opt_decimal_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    match Option::<DecimalLike>::deserialize(d) {
        Ok(None) => Ok(None),
        Ok(Some(DecimalLike::Text(s))) => Ok(Some(s)),
        Ok(Some(DecimalLike::Number(n))) => Ok(Some(n.to_string())),
        Err(_) => Err(D::Error::custom(
            "expected a decimal string such as \"100.50\" or null",
        )),
    }
}

pub(crate) fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = Option::<BTreeMap<String, Scalar>>::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_text()))
        .collect())
}
