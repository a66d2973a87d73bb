//! The configuration of a Graph target (`[target.connection]` with
//! `kind = "graph"`). [`GraphConfig::problems`] lists everything wrong that
//! can be found without a server, each naming its field, as the SCIM config
//! does; [`GraphConfig::warnings`] lists what works but weakens security.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

fn default_graph_url() -> String {
    "https://graph.microsoft.com".into()
}
fn default_login_url() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_concurrency() -> usize {
    4
}
// Graph documents 3,000 writes per 150 s per app and tenant; staying below
// it leaves room for other callers of the same app registration.
fn default_write_budget() -> u32 {
    2_500
}
fn default_write_window() -> u64 {
    150
}

/// Configuration of a Graph target. Unknown keys are refused by the config
/// loader (at their line, with the key probably meant): a misspelt
/// credential key would otherwise silently fall back to another method.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphConfig {
    pub tenant_id: String,
    pub client_id: String,
    /// private_key_jwt: the certificate registered on the app (PEM) ...
    pub certificate_file: Option<PathBuf>,
    /// ... and its private key (PEM).
    pub private_key_file: Option<PathBuf>,
    /// A workload identity JWT, re-read on each token request because the
    /// platform rotates it.
    pub federated_token_file: Option<PathBuf>,
    /// A client secret (sandboxes). Never part of the file: the config
    /// loader reads it from `client_secret_env` (an environment variable's
    /// name) or `client_secret_file` and sets it here, as for SCIM. `Debug`
    /// shows it redacted.
    #[serde(skip)]
    pub client_secret: Option<SecretString>,
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
    #[serde(default = "default_login_url")]
    pub login_url: String,
    /// The verified domain user principal names are made in.
    pub domain: Option<String>,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Writes per 150 s at most.
    #[serde(default = "default_write_budget")]
    pub write_budget: u32,
    /// The window `write_budget` counts over, in seconds: Graph's is 150.
    /// Shorter windows are for tests against the Graph double.
    #[serde(default = "default_write_window")]
    pub write_window_secs: u64,
    #[serde(default)]
    pub tls_insecure: bool,
}

/// One problem in the configuration, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("target.connection.{field}: {message}")]
pub struct ConfigProblem {
    pub field: &'static str,
    pub message: String,
}

fn problem(field: &'static str, message: impl Into<String>) -> ConfigProblem {
    ConfigProblem { field, message: message.into() }
}

impl GraphConfig {
    /// Everything wrong that can be found without a server.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        if self.tenant_id.trim().is_empty() {
            out.push(problem("tenant_id", "must not be empty"));
        }
        if self.client_id.trim().is_empty() {
            out.push(problem("client_id", "must not be empty"));
        }
        let cert = self.certificate_file.is_some() || self.private_key_file.is_some();
        if cert && (self.certificate_file.is_none() || self.private_key_file.is_none()) {
            let field = if self.certificate_file.is_none() {
                "certificate_file"
            } else {
                "private_key_file"
            };
            out.push(problem(field, "certificate_file and private_key_file go together"));
        }
        let methods = [cert, self.federated_token_file.is_some(), self.client_secret.is_some()]
            .iter()
            .filter(|m| **m)
            .count();
        if methods == 0 {
            out.push(problem(
                "certificate_file",
                "no credential: set certificate_file + private_key_file, federated_token_file or client_secret_env",
            ));
        } else if methods > 1 {
            out.push(problem(
                "certificate_file",
                "more than one credential method set; choose one",
            ));
        }
        for (field, url) in [("graph_url", &self.graph_url), ("login_url", &self.login_url)] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                out.push(problem(field, "must be an http(s) URL"));
            }
        }
        if self.concurrency == 0 {
            out.push(problem("concurrency", "must be at least 1"));
        }
        if self.write_window_secs == 0 {
            out.push(problem("write_window_secs", "must be at least 1"));
        }
        if self.write_budget == 0 || self.write_budget > 3_000 {
            out.push(problem(
                "write_budget",
                "must be between 1 and 3000 (Graph's limit per 150 s)",
            ));
        }
        out
    }

    /// What works but weakens security, each naming its field.
    pub fn warnings(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        if self.client_secret.is_some() {
            out.push(problem(
                "client_secret_env",
                "a client secret is a shared password; prefer a certificate or a federated token",
            ));
        }
        if self.tls_insecure {
            out.push(problem("tls_insecure", "TLS certificates are not verified"));
        }
        out
    }

    /// Resolve relative file paths against `dir`, the config file's directory.
    pub fn resolve_paths(&mut self, dir: &Path) {
        for path in
            [&mut self.certificate_file, &mut self.private_key_file, &mut self.federated_token_file]
                .into_iter()
                .flatten()
        {
            *path = dir.join(&*path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<GraphConfig, toml::de::Error> {
        toml::from_str(s)
    }

    #[test]
    fn defaults_and_certificate() {
        let c = parse(
            "tenant_id = \"t\"\nclient_id = \"c\"\ncertificate_file = \"a.pem\"\nprivate_key_file = \"k.pem\"\n",
        )
        .unwrap();
        assert_eq!(c.graph_url, "https://graph.microsoft.com");
        assert_eq!(c.login_url, "https://login.microsoftonline.com");
        assert_eq!(c.write_budget, 2_500);
        assert!(!c.tls_insecure);
        assert!(c.problems().is_empty());
        assert!(c.warnings().is_empty());
    }

    #[test]
    fn problems_name_fields() {
        let c = parse("tenant_id = \"\"\nclient_id = \"c\"\ncertificate_file = \"a.pem\"\nwrite_budget = 4000\n")
            .unwrap();
        let fields: Vec<_> = c.problems().iter().map(|p| p.field).collect();
        assert!(fields.contains(&"tenant_id"));
        assert!(fields.contains(&"private_key_file"));
        assert!(fields.contains(&"write_budget"));
    }

    #[test]
    fn unknown_keys_refused_and_secret_warned() {
        // Unknown keys (and an inline `client_secret`) are refused by the
        // config loader at their line (hrsync-targets' tests); the secret
        // itself is never read from the file.
        let c = parse("tenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"S\"\n").unwrap();
        assert!(c.client_secret.is_none());
        let mut c = parse("tenant_id = \"t\"\nclient_id = \"c\"\n").unwrap();
        assert_eq!(c.problems().len(), 1, "no credential yet");
        c.client_secret = Some(SecretString::from("hunter2-secret"));
        assert!(c.problems().is_empty());
        let warnings = c.warnings();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].field, "client_secret_env");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn secret_counts_as_a_method() {
        let mut c = parse(
            "tenant_id = \"t\"\nclient_id = \"c\"\ncertificate_file = \"a.pem\"\nprivate_key_file = \"k.pem\"\n",
        )
        .unwrap();
        c.client_secret = Some(SecretString::from("s"));
        let problems = c.problems();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("more than one"));
    }
}
