//! Metric names in PromQL expressions and in Prometheus exposition text, for the check that
//! the dashboard and the alerts query only what the binaries export
//! (`tests/dashboard_and_alerts.rs`).
//!
//! Not a PromQL parser: a tokenizer that knows where a metric name can stand. Skipped are
//! string literals, label matchers (`{...}`), range and subquery brackets (`[...]`), numbers
//! and durations, function and aggregation names, keywords, and the label lists after `by`,
//! `without`, `on`, `ignoring`, `group_left` and `group_right`. Grafana's variables
//! (`$__rate_interval`, `$namespace`) only appear inside brackets and matchers, and its
//! `label_values(metric, label)` names a metric first and a label second.

use std::collections::BTreeSet;

/// PromQL's aggregation operators, when followed by `by (...)`, `without (...)` or `(`; a bare
/// `max` is a metric like any other.
const AGGREGATIONS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
/// Keywords followed by a parenthesised list of label names.
const LABEL_LIST_KEYWORDS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
/// Binary operators and modifiers spelled as words, and the literals `inf` and `nan`.
const KEYWORDS: [&str; 8] = [
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// The index just past the bracket that closes the one at `open` (`chars[open]`), skipping
/// strings inside; the end if it never closes.
fn past_closing(chars: &[char], open: usize) -> usize {
    let (opening, closing) = match chars[open] {
        '{' => ('{', '}'),
        '[' => ('[', ']'),
        _ => ('(', ')'),
    };
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => i = past_string(chars, i) - 1,
            c if c == opening => depth += 1,
            c if c == closing => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

/// The index just past the string literal starting at `start`.
fn past_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

fn next_non_space(chars: &[char], mut i: usize) -> Option<(usize, char)> {
    while i < chars.len() {
        if !chars[i].is_whitespace() {
            return Some((i, chars[i]));
        }
        i += 1;
    }
    None
}

/// The metric names `expr` selects.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = past_string(&chars, i);
        } else if c == '{' || c == '[' {
            i = past_closing(&chars, i);
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // A number or a duration (`5m`, `1e3`, `0x1f`): its letters are not a name.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == '$' {
            // A Grafana variable outside brackets (`$__range` in an offset): not a metric.
            i += 1;
            while i < chars.len() && (is_ident(chars[i]) || chars[i] == '{' || chars[i] == '}') {
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = next_non_space(&chars, i);
            if LABEL_LIST_KEYWORDS.contains(&word.as_str()) {
                if let Some((j, '(')) = next {
                    i = past_closing(&chars, j);
                }
            } else if word == "label_values" {
                // label_values(metric, label) or label_values(label): the metric only.
                if let Some((j, '(')) = next {
                    let end = past_closing(&chars, j);
                    let args: String = chars[j + 1..end.saturating_sub(1)].iter().collect();
                    if let Some((first, _label)) = args.split_once(',') {
                        names.extend(metric_names(first));
                    }
                    i = end;
                }
            } else if matches!(next, Some((_, '(')))
                || (AGGREGATIONS.contains(&word.as_str())
                    && next.is_some_and(|(j, _)| {
                        let after: String =
                            chars[j..].iter().take_while(|c| is_ident(**c)).collect();
                        after == "by" || after == "without"
                    }))
            {
                // A function or an aggregation: its arguments are read on.
            } else if !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Every name a scrape of `text` (the text exposition format) can be queried by: a counter's
/// or gauge's name; for a histogram `x`, `x_bucket`, `x_sum` and `x_count` (never `x` itself);
/// for a summary, `x`, `x_sum` and `x_count`.
pub fn exported_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            match kind {
                "histogram" => {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{name}{suffix}"));
                    }
                }
                "summary" => {
                    for suffix in ["", "_sum", "_count"] {
                        names.insert(format!("{name}{suffix}"));
                    }
                }
                _ => {
                    names.insert(name.to_owned());
                }
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let name: String = line.chars().take_while(|c| is_ident(*c)).collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn finds_the_metrics_and_only_them() {
        for (expr, want) in [
            (
                r#"sum by (action, outcome) (rate(torghut_gateway_decisions_total{namespace=~"$namespace"}[$__rate_interval]))"#,
                &["torghut_gateway_decisions_total"][..],
            ),
            (
                r#"histogram_quantile(0.95, sum by (skill, le) (rate(x_seconds_bucket{le="0.5",skill!~"a|b"}[5m])))"#,
                &["x_seconds_bucket"],
            ),
            (
                "1 - sum by (namespace) (rate(a_bucket{le=\"5\"}[1h])) / sum by (namespace) (rate(a_count[1h])) > (14.4 * 0.01)",
                &["a_bucket", "a_count"],
            ),
            (
                "group by (namespace) (g) unless on (namespace) (count by (namespace) (sum by (namespace, poller_type) (p) > 0) == 2)",
                &["g", "p"],
            ),
            (
                "torghut:ratio_rate5m > 0.1 and ignoring (le) b offset 5m or vector(1) + inf",
                &["torghut:ratio_rate5m", "b"],
            ),
            ("open / max", &["open", "max"]),
            ("max(open) / sum without (pod) (max)", &["open", "max"]),
            (
                "rate(c[5m:30s]) * on (pod) group_left (node) info",
                &["c", "info"],
            ),
            ("topk(3, d)", &["d"]),
            (
                "label_values(torghut_gateway_sse_streams_open, namespace)",
                &["torghut_gateway_sse_streams_open"],
            ),
            ("label_values(namespace)", &[]),
            (r#"label_replace(e, "dst", "$1", "src", "(.*)")"#, &["e"]),
            ("1e3 * 0x1f + .5", &[]),
        ] {
            assert_eq!(metric_names(expr), set(want), "{expr}");
        }
    }

    #[test]
    fn a_histogram_exports_its_series_and_not_its_bare_name() {
        let text = "# HELP h Latency.\n# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_sum 0\nh_count 0\n# TYPE c counter\nc_total 3\n# TYPE g gauge\ng{a=\"b\"} 1\nuntyped 2\n";
        let names = exported_names(text);
        for name in ["h_bucket", "h_sum", "h_count", "g", "untyped", "c_total"] {
            assert!(names.contains(name), "{name}: {names:?}");
        }
        assert!(!names.contains("h"), "{names:?}");
    }
}
