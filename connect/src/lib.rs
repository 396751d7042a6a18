//! The process edge every binary (worker, gateway, decisionctl) shares: how it connects to
//! Temporal, from one set of environment variables, so a TLS or API-key setting cannot apply to
//! one and be forgotten in another; and [`stop_signal`], when it must drain and stop.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `TEMPORAL_ADDRESS` | frontend URL (default `http://127.0.0.1:7233`); `https://` turns TLS on |
//! | `TEMPORAL_NAMESPACE` | namespace (default `default`) |
//! | `TEMPORAL_TLS` | `true` turns TLS on with the system roots (e.g. Temporal Cloud with an API key) |
//! | `TEMPORAL_TLS_CERT_FILE`, `TEMPORAL_TLS_KEY_FILE` | PEM client certificate and key: mTLS; both or neither |
//! | `TEMPORAL_TLS_CA_FILE` | PEM CA of the server (default: system roots) |
//! | `TEMPORAL_TLS_SERVER_NAME` | name to verify the server certificate against (default: the address's host) |
//! | `TEMPORAL_API_KEY` / `TEMPORAL_API_KEY_FILE` | API key sent as a bearer token; never logged |
//!
//! Any TLS file, server name or API key turns TLS on (a key is never sent in plaintext). Errors
//! name the variable. The defaults and the parsing are the key table's (`torghut_config::keys`).

use std::fmt;
use temporalio_client::{ClientTlsOptions, ConnectionOptions, TlsOptions};
use torghut_config::keys::{self, Key};
use torghut_config::{SettingError, Settings};
use url::Url;

#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConnectError {
    pub var: &'static str,
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ConnectError {
    ConnectError {
        var,
        reason: reason.into(),
    }
}

/// The API key; its `Debug` never shows it.
#[derive(Clone)]
pub struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Tls {
    pub ca: Option<Vec<u8>>,
    pub server_name: Option<String>,
    /// PEM certificate and key, for mTLS.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone)]
pub struct TemporalSettings {
    pub address: Url,
    pub namespace: String,
    pub tls: Option<Tls>,
    pub api_key: Option<ApiKey>,
}

impl From<SettingError> for ConnectError {
    fn from(e: SettingError) -> Self {
        Self {
            var: e.var,
            reason: e.reason,
        }
    }
}

fn read(key: &'static Key, path: &str) -> Result<Vec<u8>, ConnectError> {
    std::fs::read(path).map_err(|e| err(key.env, format!("cannot read {path}: {e}")))
}

impl TemporalSettings {
    pub fn from_env() -> Result<Self, ConnectError> {
        Self::from_settings(&Settings::from_env())
    }

    /// `address` and `namespace` may come from elsewhere (command-line flags); TLS and the
    /// API key always come from the environment.
    pub fn with_address(address: &str, namespace: &str) -> Result<Self, ConnectError> {
        let mut s = Self::from_env()?;
        s.address = parse_address(address)?;
        s.namespace = namespace.to_owned();
        if s.address.scheme() == "https" && s.tls.is_none() {
            s.tls = Some(Tls::default());
        }
        Ok(s)
    }

    /// Every `TEMPORAL_*` setting through its row of the key table (`torghut_config::keys`),
    /// defaults included.
    pub fn from_settings(src: &Settings) -> Result<Self, ConnectError> {
        let address = parse_address(&src.text(&keys::TEMPORAL_ADDRESS)?)?;
        let namespace = src.text(&keys::TEMPORAL_NAMESPACE)?;
        let explicit = src.flag(&keys::TEMPORAL_TLS)?;
        let cert_file = &keys::TEMPORAL_TLS_CERT_FILE;
        let key_file = &keys::TEMPORAL_TLS_KEY_FILE;
        let client = match (src.value(cert_file), src.value(key_file)) {
            (Some(c), Some(k)) => Some((read(cert_file, &c)?, read(key_file, &k)?)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(err(
                    key_file.env,
                    format!("required with {} (mTLS needs both)", cert_file.env),
                ));
            }
            (None, Some(_)) => {
                return Err(err(
                    cert_file.env,
                    format!("required with {} (mTLS needs both)", key_file.env),
                ));
            }
        };
        let ca = src
            .value(&keys::TEMPORAL_TLS_CA_FILE)
            .map(|p| read(&keys::TEMPORAL_TLS_CA_FILE, &p))
            .transpose()?;
        let server_name = src.value(&keys::TEMPORAL_TLS_SERVER_NAME);
        let api_key = src
            .secret(&keys::TEMPORAL_API_KEY, &keys::TEMPORAL_API_KEY_FILE)?
            .map(|k| ApiKey(k.trim().to_owned()));
        // An API key over plaintext would hand it to anyone on the path: a key turns TLS on.
        let on = explicit
            || api_key.is_some()
            || address.scheme() == "https"
            || client.is_some()
            || ca.is_some()
            || server_name.is_some();
        let tls = on.then_some(Tls {
            ca,
            server_name,
            client,
        });
        Ok(Self {
            address,
            namespace,
            tls,
            api_key,
        })
    }

    pub fn connection_options(&self) -> ConnectionOptions {
        let tls = self.tls.as_ref().map(|t| {
            TlsOptions::builder()
                .maybe_server_root_ca_cert(t.ca.clone())
                .maybe_domain(t.server_name.clone())
                .maybe_client_tls_options(t.client.as_ref().map(|(cert, key)| {
                    ClientTlsOptions::builder()
                        .client_cert(cert.clone())
                        .client_private_key(key.clone())
                        .build()
                }))
                .build()
        });
        ConnectionOptions::new(self.address.clone())
            .maybe_tls_options(tls)
            .maybe_api_key(self.api_key.as_ref().map(|k| k.0.clone()))
            .build()
    }

    /// How the connection is secured, for the start-up log line (never the key itself).
    pub fn describe(&self) -> String {
        let tls = match &self.tls {
            None => "plaintext",
            Some(t) if t.client.is_some() => "mTLS",
            Some(_) => "TLS",
        };
        let key = if self.api_key.is_some() {
            " + API key"
        } else {
            ""
        };
        format!("{} ({tls}{key})", self.address)
    }
}

/// Resolves on SIGTERM (what Kubernetes sends) or SIGINT (a terminal): when a binary must stop
/// taking work and drain. Shared so every binary stops on the same signals.
pub async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn parse_address(raw: &str) -> Result<Url, ConnectError> {
    let var = keys::TEMPORAL_ADDRESS.env;
    let url = Url::parse(raw).map_err(|e| {
        err(
            var,
            format!("expected a URL such as http://127.0.0.1:7233, got {raw:?}: {e}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(
            var,
            format!("expected http:// or https://, got {raw:?}"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&'static str, &str)]) -> Result<TemporalSettings, ConnectError> {
        let map: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        TemporalSettings::from_settings(&Settings::from_lookup(move |var| map.get(var).cloned()))
    }

    fn pem_file(name: &str) -> String {
        let p = std::env::temp_dir().join(format!("torghut-connect-{}-{name}", std::process::id()));
        std::fs::write(
            &p,
            b"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        p.to_string_lossy().into_owned()
    }

    #[test]
    fn plaintext_by_default_and_tls_from_any_tls_setting() {
        let s = settings(&[]).expect("defaults");
        assert!(s.tls.is_none() && s.api_key.is_none());
        assert_eq!(s.describe(), "http://127.0.0.1:7233/ (plaintext)");
        let https =
            settings(&[("TEMPORAL_ADDRESS", "https://ns.tmprl.cloud:7233")]).expect("https");
        assert!(https.tls.is_some());
        let keyed = settings(&[("TEMPORAL_API_KEY", "k")]).expect("key");
        assert_eq!(keyed.describe(), "http://127.0.0.1:7233/ (TLS + API key)");
        let named = settings(&[("TEMPORAL_TLS_SERVER_NAME", "temporal.internal")]).expect("name");
        assert_eq!(
            named.tls.and_then(|t| t.server_name).as_deref(),
            Some("temporal.internal")
        );
        let (cert, key) = (pem_file("cert"), pem_file("key"));
        let mtls = settings(&[
            ("TEMPORAL_TLS_CERT_FILE", &cert),
            ("TEMPORAL_TLS_KEY_FILE", &key),
            ("TEMPORAL_API_KEY", "  key-123 "),
        ])
        .expect("mtls");
        assert!(mtls.tls.as_ref().is_some_and(|t| t.client.is_some()));
        assert_eq!(mtls.describe(), "http://127.0.0.1:7233/ (mTLS + API key)");
        assert!(
            !format!("{mtls:?}").contains("key-123"),
            "the key is never printed"
        );
        let _ = mtls.connection_options();
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let cert = pem_file("only-cert");
        let half = settings(&[("TEMPORAL_TLS_CERT_FILE", &cert)]).expect_err("half mTLS");
        assert_eq!(half.var, "TEMPORAL_TLS_KEY_FILE");
        let missing = settings(&[("TEMPORAL_TLS_CA_FILE", "/nonexistent/ca.pem")]).expect_err("ca");
        assert_eq!(missing.var, "TEMPORAL_TLS_CA_FILE");
        assert!(missing.reason.contains("/nonexistent/ca.pem"));
        let bad = settings(&[("TEMPORAL_ADDRESS", "127.0.0.1:7233")]).expect_err("scheme");
        assert_eq!(bad.var, "TEMPORAL_ADDRESS");
        let flag = settings(&[("TEMPORAL_TLS", "yes")]).expect_err("flag");
        assert_eq!(flag.var, "TEMPORAL_TLS");
    }
}
