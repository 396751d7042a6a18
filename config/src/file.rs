//! Reading the TOML config file into variable values, refusing anything the table does not know:
//! a misspelt key silently ignored is a setting silently not in force.

use crate::error::ConfigError;
use crate::keys::{Key, Kind, by_file_key, is_section};
use crate::suggest::suggestion;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The settings a config file holds, as the text their variables would carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileValues {
    pub path: PathBuf,
    /// Variable name to value, for every key the file sets.
    pub values: BTreeMap<&'static str, String>,
}

impl FileValues {
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// `path` is for messages only.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let table: Table = text.parse().map_err(|e: toml::de::Error| {
            let (line, column) = e
                .span()
                .map(|s| line_and_column(text, s.start))
                .unwrap_or((1, 1));
            ConfigError::Syntax {
                path: shown.clone(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        let mut values = BTreeMap::new();
        collect(&table, "", &shown, &mut values)?;
        Ok(Self {
            path: path.to_path_buf(),
            values,
        })
    }
}

/// Walks one table (the file, or a section of it) with the dotted `prefix` of its keys.
fn collect(
    table: &Table,
    prefix: &str,
    path: &str,
    out: &mut BTreeMap<&'static str, String>,
) -> Result<(), ConfigError> {
    for (name, value) in table {
        let full = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if let Some(key) = by_file_key(&full) {
            out.insert(key.env, scalar(key, &full, value, path)?);
        } else if is_section(&full) {
            match value {
                Value::Table(section) => collect(section, &full, path, out)?,
                other => {
                    return Err(ConfigError::WrongType {
                        path: path.to_owned(),
                        key: full.clone(),
                        expected: "a table (a [section] of keys)",
                        found: other.type_str(),
                    });
                }
            }
        } else {
            return Err(ConfigError::UnknownKey {
                path: path.to_owned(),
                suggestion: suggestion(&full),
                key: full,
            });
        }
    }
    Ok(())
}

/// A key's value as its variable's text, if it has the key's type.
fn scalar(key: &'static Key, full: &str, value: &Value, path: &str) -> Result<String, ConfigError> {
    if key.secret {
        return Err(ConfigError::SecretInFile {
            path: path.to_owned(),
            key: key.file.unwrap_or(key.env),
            env: key.env,
        });
    }
    let text = match (key.kind, value) {
        (Kind::Text, Value::String(s)) => Some(s.clone()),
        (Kind::Integer | Kind::Decimal, Value::Integer(i)) => Some(i.to_string()),
        // Rust prints the shortest text that reads back as the same float: `0.55`, not
        // `0.55000000000000004`.
        (Kind::Decimal, Value::Float(f)) if f.is_finite() => Some(f.to_string()),
        (Kind::Bool, Value::Boolean(b)) => Some(b.to_string()),
        _ => None,
    };
    text.ok_or_else(|| ConfigError::WrongType {
        path: path.to_owned(),
        key: full.to_owned(),
        expected: key.kind.expected(),
        found: value.type_str(),
    })
}

/// 1-based line and column of byte `offset`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
