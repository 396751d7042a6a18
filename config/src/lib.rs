//! The configuration model of the gateway and the worker: environment variables, plus an optional
//! TOML config file (`--config PATH` or `TORGHUT_CONFIG_FILE`) whose keys map one-to-one onto
//! those variables through [`keys::KEYS`].
//!
//! A binary's `main`, still single-threaded, [loads](Config::load) the file (unknown keys, wrong
//! types and secrets are refused, naming the key), [exports](Config::export_to_env) the file's
//! values for the variables the environment does not set, and then runs its existing readers,
//! which read every setting through its row of the table ([`Settings`]: the row's default, one
//! parsing, errors that name the variable). [`Config::explain`] adds the file key to
//! such an error, and [`Config::report`] is what `--check-config` prints.
//!
//! Secrets are never read from the file and never kept here: the report shows only whether one
//! is set.

mod effective;
mod error;
mod file;
pub mod keys;
mod read;
mod report;
mod suggest;

pub use effective::{CONFIG_FILE_VAR, Config, Setting, Shown, Source, config_file_path};
pub use error::ConfigError;
pub use file::FileValues;
pub use keys::{Binary, KEYS, Key};
pub use read::{SettingError, Settings};
pub use report::Report;
