//! The user-facing configuration of a SCIM target (`[target.connection]`
//! with `kind = "scim"`), validated once: [`ScimConfig::problems`] lists
//! everything that can be found without a server, each naming its field, so
//! the config loader can point at the line; [`ScimConfig::warnings`] lists
//! what works but weakens security.
//!
//! ```toml
//! [target.connection]
//! url = "https://app.example.com/scim/v2"
//! method = "bearer"                 # or "oauth2"
//! token_env = "APP_SCIM_TOKEN"      # or token_file
//! # method = "oauth2": token_url, client_id, client_secret_env / client_secret_file, scope
//! concurrency = 4                   # requests in flight at most
//! rate_limit = 20                   # requests per second at most (unset: no limit)
//! timeout = 30                      # seconds per request
//! ca_file = "ca.pem"                # TLS as for LDAP; tls_verify = false for tests only
//! ```

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How hrsync authenticates to the SCIM service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// A long-lived bearer token (Entra's "Secret Token"), from `token_env`
    /// or `token_file`.
    #[default]
    Bearer,
    /// OAuth 2.0 client credentials (RFC 6749 §4.4): a token from
    /// `token_url` for `client_id` and the client secret, renewed before it
    /// expires.
    Oauth2,
}

/// Switches for servers fitted to Entra's non-standard habits. Each is off
/// by default: an RFC 7644 server needs none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct Quirks {
    /// PATCH operations named `Replace`/`Add`/`Remove` (Entra's spelling)
    /// instead of RFC 7644's lower-case `replace`/`add`/`remove`.
    #[serde(default)]
    pub capitalised_ops: bool,
    /// Booleans sent as the strings `"True"`/`"False"` (Entra's habit)
    /// instead of JSON booleans.
    #[serde(default)]
    pub string_booleans: bool,
    /// The enterprise `manager` sent as a bare string (the manager's id,
    /// Entra's habit) instead of the RFC 7643 complex `{"value": id}`.
    #[serde(default)]
    pub bare_string_manager: bool,
}

fn default_true() -> bool {
    true
}
// The server is often HTTP/1.0 without keep-alive (scim2-server is), so a
// few requests in flight hide the connection set-up; SaaS APIs throttle well
// above this.
fn default_concurrency() -> usize {
    4
}
fn default_timeout() -> u64 {
    30
}
fn default_manager_match() -> String {
    "externalId".into()
}

/// Configuration of a [`crate::ScimTarget`]. Unknown keys are returned to
/// the config loader, which warns about each one at its position.
#[derive(Clone, Deserialize)]
pub struct ScimConfig {
    /// The SCIM base URL (`https://host/scim/v2`); `/Users` is below it.
    pub url: String,
    #[serde(default)]
    pub method: AuthMethod,
    /// The bearer token. Never part of the file: the config loader reads it
    /// from `token_env` or `token_file` and sets it here.
    #[serde(skip)]
    pub token: Option<SecretString>,
    /// OAuth 2.0 token endpoint (`method = "oauth2"`).
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// The OAuth 2.0 client secret, read by the loader from
    /// `client_secret_env` or `client_secret_file`.
    #[serde(skip)]
    pub client_secret: Option<SecretString>,
    #[serde(default)]
    pub scope: Option<String>,
    /// Requests in flight at most.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Requests per second at most; unset means no limit.
    #[serde(default)]
    pub rate_limit: Option<f64>,
    /// Seconds one request may take, connection included.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// PEM file of the CA(s) to trust instead of the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Verify the server certificate and name. Only for tests: off means
    /// anyone on the path can read the token (logged as a warning).
    #[serde(default = "default_true")]
    pub tls_verify: bool,
    /// The attribute a `manager` value (the manager's matching value, such
    /// as their personIdExternal) is looked up by to find the manager's
    /// SCIM id.
    #[serde(default = "default_manager_match")]
    pub manager_match_attribute: String,
    #[serde(default)]
    pub quirks: Quirks,
    /// What the app demands beyond its SCIM schema: `"salesforce"` adds
    /// Salesforce's required user fields (profile id in `entitlements`,
    /// alias of at most 8 characters, Username, LastName, Email and the
    /// locale, language, time-zone and email-encoding keys).
    #[serde(default)]
    pub profile: Option<AppProfile>,
    /// The server's schemas as a JSON file (what `GET /Schemas` returns: a
    /// ListResponse or a plain list), for servers that do not serve
    /// `/Schemas`. Unset: hrsync reads `/Schemas` and `/ResourceTypes`.
    #[serde(default)]
    pub schema_file: Option<PathBuf>,
    /// A full cycle that finds the app holding no user at all (`GET
    /// /Users?count=0` says `totalResults: 0`) answers its own lookups from
    /// the users it creates, instead of asking the server before each page
    /// (the first load into a new app sends creates only). Any conflict,
    /// failed create or update leaves that mode for the rest of the cycle.
    /// Turn it off for an app whose user list does not show every user.
    #[serde(default = "default_true")]
    pub fast_first_load: bool,
}

/// An app whose demands hrsync knows beyond what its SCIM schema says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppProfile {
    Salesforce,
}

impl std::fmt::Debug for ScimConfig {
    // By hand so that no secret can reach a log through `{:?}` (SecretString
    // redacts too; this also keeps the shape short).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimConfig")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("scope", &self.scope)
            .field("concurrency", &self.concurrency)
            .field("rate_limit", &self.rate_limit)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .field("tls_verify", &self.tls_verify)
            .field("manager_match_attribute", &self.manager_match_attribute)
            .field("quirks", &self.quirks)
            .field("profile", &self.profile)
            .field("schema_file", &self.schema_file)
            .field("fast_first_load", &self.fast_first_load)
            .finish()
    }
}

/// A configuration that cannot work, found before any request is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// The key, as a dotted path inside `[target.connection]`.
    pub field: &'static str,
    pub reason: String,
}

/// A setting that works but weakens security, for the operator's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub field: &'static str,
    pub message: String,
}

fn is_loopback_url(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl ScimConfig {
    /// A bearer-token configuration with every optional field at its default.
    pub fn bearer(url: impl Into<String>, token: SecretString) -> Self {
        ScimConfig {
            url: url.into(),
            method: AuthMethod::Bearer,
            token: Some(token),
            token_url: None,
            client_id: None,
            client_secret: None,
            scope: None,
            concurrency: default_concurrency(),
            rate_limit: None,
            timeout: default_timeout(),
            ca_file: None,
            tls_verify: true,
            manager_match_attribute: default_manager_match(),
            quirks: Quirks::default(),
            profile: None,
            schema_file: None,
            fast_first_load: true,
        }
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }

    /// The base URL without a trailing `/`.
    pub(crate) fn base(&self) -> &str {
        self.url.trim_end_matches('/')
    }

    /// Check everything that can be checked without a server; the first
    /// problem of [`ScimConfig::problems`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem that can be found without a server (the CA file is
    /// read), in the order of the fields.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut out = Vec::new();
        let bad = |field: &'static str, reason: &str| ConfigError { field, reason: reason.into() };
        match reqwest::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                if u.query().is_some() || u.fragment().is_some() {
                    out.push(bad("url", "the SCIM base URL takes no query or fragment"));
                }
            }
            Ok(_) => out.push(bad("url", "must be an http:// or https:// URL with a host")),
            Err(e) => {
                out.push(ConfigError { field: "url", reason: format!("{:?}: {e}", self.url) })
            }
        }
        let empty =
            |s: &Option<SecretString>| s.as_ref().is_none_or(|s| s.expose_secret().is_empty());
        match self.method {
            AuthMethod::Bearer => {
                if empty(&self.token) {
                    out.push(bad(
                        "token_env",
                        "method = \"bearer\" needs the token: give `token_env` (an environment variable's name) or `token_file`",
                    ));
                }
            }
            AuthMethod::Oauth2 => {
                match self.token_url.as_deref().map(reqwest::Url::parse) {
                    None => out.push(bad("token_url", "method = \"oauth2\" needs `token_url`")),
                    Some(Err(e)) => {
                        out.push(ConfigError { field: "token_url", reason: e.to_string() })
                    }
                    Some(Ok(u)) if !matches!(u.scheme(), "http" | "https") => {
                        out.push(bad("token_url", "must be an http:// or https:// URL"))
                    }
                    Some(Ok(_)) => {}
                }
                if self.client_id.as_deref().is_none_or(str::is_empty) {
                    out.push(bad("client_id", "method = \"oauth2\" needs `client_id`"));
                }
                if empty(&self.client_secret) {
                    out.push(bad(
                        "client_secret_env",
                        "method = \"oauth2\" needs the client secret: give `client_secret_env` or `client_secret_file`",
                    ));
                }
            }
        }
        if self.concurrency == 0 {
            out.push(bad("concurrency", "must be at least 1"));
        }
        if let Some(f) = &self.schema_file
            && let Err(reason) = crate::schema::read_file(f)
        {
            out.push(ConfigError { field: "schema_file", reason });
        }
        if let Some(r) = self.rate_limit
            && !(r.is_finite() && r > 0.0)
        {
            out.push(bad("rate_limit", "must be a positive number of requests per second"));
        }
        if self.timeout == 0 {
            out.push(bad("timeout", "must be at least 1 (seconds)"));
        }
        if self.manager_match_attribute.is_empty() {
            out.push(bad("manager_match_attribute", "must not be empty"));
        }
        if let Err(e) = crate::service::root_certificates(self) {
            out.push(e);
        }
        out
    }

    /// Settings that work but weaken security.
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let mut out = Vec::new();
        if !self.tls_verify {
            out.push(ConfigWarning {
                field: "tls_verify",
                message: "tls_verify = false: the SCIM server's certificate is not checked, so anyone on the path can read the token (test set-ups only)".into(),
            });
        }
        let plain = |field: &'static str, url: &str, what: &str| {
            let u = reqwest::Url::parse(url).ok()?;
            (u.scheme() == "http").then(|| ConfigWarning {
                field,
                message: if is_loopback_url(&u) {
                    format!("plain http:// to a loopback host: the {what} is sent in clear on this machine")
                } else {
                    format!("plain http:// to a host that is not loopback: the {what} crosses the network in clear; use https://")
                },
            })
        };
        out.extend(plain("url", &self.url, "token"));
        if let Some(t) = &self.token_url {
            out.extend(plain("token_url", t, "client secret"));
        }
        out
    }
}
