//! The effective configuration as `--check-config` prints it: every key the binary reads, its
//! value and its source. Secrets show as `<set>` or `<unset>`; credentials inside a URL are
//! masked, in case one was put there.

use crate::effective::{CONFIG_FILE_VAR, Config, Shown};
use std::borrow::Cow;
use std::fmt;

/// Display of a [`Config`]; see [`Config::report`].
pub struct Report<'a>(&'a Config);

impl Config {
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = self.0;
        match config.file() {
            Some(path) => writeln!(f, "config file: {}", path.display())?,
            None => writeln!(
                f,
                "config file: none (neither --config nor {CONFIG_FILE_VAR} is set)"
            )?,
        }
        writeln!(
            f,
            "precedence: environment, then config file, then default; secrets only from the \
             environment or the files their *_FILE variables name"
        )?;
        let rows: Vec<[Cow<'_, str>; 4]> = config
            .settings()
            .iter()
            .map(|s| {
                [
                    s.source.label().into(),
                    s.key.file.unwrap_or("-").into(),
                    s.key.env.into(),
                    shown(&s.value),
                ]
            })
            .collect();
        let header = ["source", "file key", "variable", "value"].map(Cow::from);
        let mut widths = [0; 4];
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            writeln!(
                f,
                "{:<w0$}  {:<w1$}  {:<w2$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
            )?;
        }
        Ok(())
    }
}

fn shown(value: &Shown) -> Cow<'_, str> {
    match value {
        Shown::Unset => "<unset>".into(),
        Shown::Secret { set: true } => "<set>".into(),
        Shown::Secret { set: false } => "<unset>".into(),
        Shown::Text(t) if t.is_empty() => "\"\" (empty: as unset)".into(),
        Shown::Text(t) => without_userinfo(t),
        Shown::BuiltIn(d) => format!("<{d}>").into(),
    }
}

/// `https://user:pass@host/x` as `https://<redacted>@host/x`; anything else unchanged.
fn without_userinfo(value: &str) -> Cow<'_, str> {
    let Some(scheme_end) = value.find("://").map(|i| i + 3) else {
        return value.into();
    };
    let rest = &value[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &value[..scheme_end], &rest[at..]).into(),
        None => value.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_masked() {
        for (raw, shown) in [
            (
                "https://u:p@host:8123/db?x=1",
                "https://<redacted>@host:8123/db?x=1",
            ),
            ("http://host:8123/a@b", "http://host:8123/a@b"),
            ("0.0.0.0:8080", "0.0.0.0:8080"),
            ("Torghut ops@example.com", "Torghut ops@example.com"),
        ] {
            assert_eq!(without_userinfo(raw), shown);
        }
    }
}
