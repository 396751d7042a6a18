//! "Did you mean": the known key an unknown one was most likely meant to be.

use crate::keys::{KEYS, by_env};

/// The file key (or section) `unknown` probably meant, if one is close enough to say so.
pub fn suggestion(unknown: &str) -> Option<&'static str> {
    // Someone who knows the variables writes one as a key: `TORGHUT_GATEWAY_LISTEN = ...`.
    let leaf = unknown.rsplit('.').next().unwrap_or(unknown);
    if let Some(file) = by_env(&leaf.to_ascii_uppercase()).and_then(|k| k.file) {
        return Some(file);
    }
    let candidates = KEYS.iter().filter_map(|k| k.file).flat_map(with_sections);
    // A key put in the wrong section: the same last segment in exactly one other place.
    let mut same_leaf = KEYS
        .iter()
        .filter_map(|k| k.file)
        .filter(|f| f.rsplit('.').next() == Some(leaf));
    if let (Some(only), None) = (same_leaf.next(), same_leaf.next()) {
        return Some(only);
    }
    candidates
        .map(|c| (distance(unknown, c), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 5))
        .min()
        .map(|(_, c)| c)
}

/// A file key and each section above it: `providers.edgar.url`, `providers.edgar`, `providers`.
fn with_sections(file: &'static str) -> impl Iterator<Item = &'static str> {
    std::iter::once(file).chain(file.match_indices('.').map(move |(i, _)| &file[..i]))
}

/// Levenshtein distance over bytes (keys are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur.push(substitute.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_key_that_was_meant() {
        for (typo, meant) in [
            ("gatway.listen", Some("gateway.listen")),
            ("gateway.listn", Some("gateway.listen")),
            ("TORGHUT_GATEWAY_LISTEN", Some("gateway.listen")),
            ("gateway.TORGHUT_GATEWAY_LISTEN", Some("gateway.listen")),
            ("gateway.user_agent", Some("providers.edgar.user_agent")),
            ("provider.edgar", Some("providers.edgar")),
            ("temporal.adress", Some("temporal.address")),
            ("something.else.entirely", None),
        ] {
            assert_eq!(suggestion(typo), meant, "{typo}");
        }
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
