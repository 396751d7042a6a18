//! A credential that never prints: the LLM API key, the ClickHouse password and the Alpaca keys
//! are all held as [`Secret`], so a `{:?}` of any config or provider that carries one shows
//! `Secret([redacted])`, and the value can be read only inside this crate, by the client that
//! sends it.

use std::fmt;

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// Crate-visible so the clients that send it (the LLM client, the providers) can; it never
    /// leaves the crate.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}
