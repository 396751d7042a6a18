//! Query strings read strictly: a parameter the route does not define, or one given twice, is a
//! 422 naming it, rather than silently ignored (a typo such as `last_eventid` would otherwise
//! replay a whole stream) or decided by whichever copy a parser happens to keep.

use crate::error::ApiError;
use axum::http::Uri;
use std::collections::BTreeMap;

/// The query's parameters, each at most once and each one of `allowed`.
pub fn strict(uri: &Uri, allowed: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
    let mut params = BTreeMap::new();
    let Some(query) = uri.query() else {
        return Ok(params);
    };
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            let expected = if allowed.is_empty() {
                "this route takes no query parameters".to_owned()
            } else {
                format!("this route takes only {}", allowed.join(", "))
            };
            return Err(ApiError::field(
                name.into_owned(),
                format!("unknown query parameter; {expected}"),
            ));
        }
        if params
            .insert(name.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return Err(ApiError::field(
                name.into_owned(),
                "query parameter given more than once",
            ));
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(q: &str) -> Uri {
        format!("/x{q}").parse().expect("uri")
    }

    #[test]
    fn unknown_and_repeated_parameters_are_named_refusals() {
        let ok = strict(&uri("?last_event_id=3"), &["last_event_id"]).expect("ok");
        assert_eq!(ok["last_event_id"], "3");
        assert!(strict(&uri(""), &[]).expect("none").is_empty());
        for (q, field, reason) in [
            ("?last_eventid=3", "last_eventid", "unknown"),
            ("?a=1", "a", "no query parameters"),
            (
                "?last_event_id=1&last_event_id=2",
                "last_event_id",
                "more than once",
            ),
        ] {
            let allowed: &[&str] = if reason == "no query parameters" {
                &[]
            } else {
                &["last_event_id"]
            };
            match strict(&uri(q), allowed) {
                Err(ApiError::InvalidField(e)) => {
                    assert_eq!(e.path, field, "{q}");
                    assert!(e.reason.contains(reason), "{q}: {}", e.reason);
                }
                other => panic!("{q}: {other:?}"),
            }
        }
    }
}
