//! The user-facing configuration of an LDAP / AD target (`[target.connection]`
//! with `kind = "ldap"`), validated once: [`LdapConfig::problems`] lists
//! everything that can be found without a server, each naming its field, so
//! the config loader can point at the line; [`LdapConfig::warnings`] lists
//! what works but weakens security.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::dn::Dn;

/// Which directory dialect the target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Active Directory (or Samba AD): `user` objects, `objectGUID` ids,
    /// `userAccountControl`, `unicodePwd`.
    ActiveDirectory,
    /// OpenLDAP and friends: `inetOrgPerson` objects, `entryUUID` ids.
    InetOrgPerson,
}

/// How an `inet-org-person` account is disabled (Active Directory always
/// uses the ACCOUNTDISABLE bit of `userAccountControl`).
///
/// Read through [`RawDisable`], a plain table, rather than a tagged enum:
/// serde buffers a tagged enum's keys, and then the config loader could not
/// see (and warn about) a mistyped key inside the strategy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawDisable")]
pub enum DisableStrategy {
    /// Write `value` to `attribute` to disable; remove the attribute to enable.
    /// For example `pwdAccountLockedTime: 000001010000Z` with the ppolicy
    /// overlay, or a site-specific `employeeType: disabled`.
    Attribute { attribute: String, value: String },
    /// Move the entry under `container` to disable. Re-enabling moves it to
    /// the `parentDistinguishedName` given in the same update, or to the
    /// default container. While disabled, `parentDistinguishedName` changes
    /// alone do not move it out.
    MoveTo { container: String },
}

/// `disable` as written: `strategy` and the keys of every strategy.
#[derive(Deserialize)]
struct RawDisable {
    strategy: StrategyName,
    attribute: Option<String>,
    value: Option<String>,
    container: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum StrategyName {
    Attribute,
    MoveTo,
}

impl TryFrom<RawDisable> for DisableStrategy {
    type Error = String;

    /// Keys of the other strategy are ignored, as the tagged enum this
    /// replaces ignored them (a config that loaded keeps loading).
    fn try_from(raw: RawDisable) -> Result<Self, String> {
        let missing = |field: &str| format!("missing field `{field}`");
        Ok(match raw.strategy {
            StrategyName::Attribute => DisableStrategy::Attribute {
                attribute: raw.attribute.ok_or_else(|| missing("attribute"))?,
                value: raw.value.ok_or_else(|| missing("value"))?,
            },
            StrategyName::MoveTo => DisableStrategy::MoveTo {
                container: raw.container.ok_or_else(|| missing("container"))?,
            },
        })
    }
}

/// How the target authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindMethod {
    /// Simple bind with `bind_dn` and `password`.
    #[default]
    Simple,
    /// SASL EXTERNAL: the identity of the TLS client certificate or of the
    /// `ldapi://` peer; `bind_dn` and `password` are unused.
    SaslExternal,
}

fn default_true() -> bool {
    true
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_operation_timeout() -> u64 {
    30
}
// Measured against slapd (BENCHMARKS.md): with the same operations in
// flight, eight connections cost the server less CPU than two or four (its
// threads find work without waiting on one another), and 32 in flight keep
// it busy across the engine's page boundaries.
fn default_pool_size() -> usize {
    8
}
fn default_in_flight() -> usize {
    4
}
fn default_page_size() -> i32 {
    500
}
fn default_naming_attribute() -> String {
    "cn".into()
}

/// Configuration of an [`crate::LdapTarget`]. The type itself ignores
/// unknown keys so that the config loader can find every one of them at
/// once (with serde_ignored) and refuse each at its position, with the key
/// it probably meant: a mistyped `starttls` would send the bind password in
/// clear, so a typo here is an error, as everywhere else in the config.
#[derive(Debug, Clone, Deserialize)]
pub struct LdapConfig {
    /// `ldap://host[:port]` (with `starttls` to protect it), `ldaps://host[:port]`
    /// or `ldapi://` (a local socket).
    pub url: String,
    #[serde(default)]
    pub bind: BindMethod,
    /// The account hrsync binds as (a DN, or for AD also `user@REALM`).
    #[serde(default)]
    pub bind_dn: String,
    /// The bind password. Never part of the file: the config loader reads
    /// it from `password_env` or `password_file` and sets it here.
    #[serde(skip)]
    pub password: SecretString,
    /// Where objects are searched (matching, `get`): usually the domain root,
    /// so moved objects are still found.
    pub base_dn: String,
    /// Where objects are created when no `parentDistinguishedName` is mapped
    /// (Entra's "Active Directory Container"). Defaults to `base_dn`.
    #[serde(default)]
    pub default_container: Option<String>,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of the CA(s) to trust instead of the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Verify the server certificate and name. Only for tests: off means
    /// anyone on the path can read the bind password (logged as a warning).
    #[serde(default = "default_true")]
    pub tls_verify: bool,
    /// Accept a simple bind over plain `ldap://` (no StartTLS) to a host
    /// that is not loopback, which sends the bind password across the
    /// network in clear. Refused unless this is set, and then warned about.
    #[serde(default)]
    pub allow_plaintext_bind: bool,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_operation_timeout")]
    pub operation_timeout_secs: u64,
    /// Connections kept open; operations are pipelined on them.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Operations in flight per connection at most.
    #[serde(default = "default_in_flight")]
    pub in_flight_per_connection: usize,
    /// Paged-results page size: at most 1000 for Active Directory (MaxPageSize),
    /// at most the server's size limit for OpenLDAP.
    #[serde(default = "default_page_size")]
    pub page_size: i32,
    pub profile: Profile,
    /// The RDN attribute of created objects (`cn`, or `uid` for OpenLDAP).
    #[serde(default = "default_naming_attribute")]
    pub naming_attribute: String,
    /// The attribute a non-DN `manager` value is matched against; defaults to
    /// `employeeID` (AD) or `employeeNumber` (inetOrgPerson).
    #[serde(default)]
    pub manager_match_attribute: Option<String>,
    /// Object classes of created objects; defaults per profile.
    #[serde(default)]
    pub object_classes: Option<Vec<String>>,
    /// Required for `inet-org-person` if `accountDisabled` is mapped or
    /// `disable` is used.
    #[serde(default)]
    pub disable: Option<DisableStrategy>,
}

/// A configuration that cannot work, found before any connection is made.
/// [`ConfigError::field`] names the key in `[target.connection]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("{field} {value:?} is not a distinguished name: {reason}")]
    Dn { field: &'static str, value: String, reason: String },
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("ca_file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
}

impl ConfigError {
    /// The key the problem is at, as a dotted path inside `[target.connection]`
    /// (`url`, `base_dn`, `disable.container`).
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::Url { .. } => "url",
            ConfigError::Dn { field, .. } | ConfigError::Invalid { field, .. } => field,
            ConfigError::CaFile { .. } => "ca_file",
        }
    }

    /// The cause without the field name (for messages that name the field
    /// on their own, as the config loader's do).
    pub fn reason(&self) -> String {
        match self {
            ConfigError::Url { url, reason } => format!("{url:?}: {reason}"),
            ConfigError::Dn { value, reason, .. } => {
                format!("{value:?} is not a distinguished name: {reason}")
            }
            ConfigError::Invalid { reason, .. } => reason.clone(),
            ConfigError::CaFile { path, reason } => format!("{}: {reason}", path.display()),
        }
    }
}

/// A setting that works but weakens security, for the operator's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The key, as in [`ConfigError::field`].
    pub field: &'static str,
    pub message: String,
}

/// Whether the URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`).
fn is_loopback_host(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        // [v6]:port
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl LdapConfig {
    /// A configuration with every optional field at its default.
    pub fn new(
        url: impl Into<String>,
        bind_dn: impl Into<String>,
        password: SecretString,
        base_dn: impl Into<String>,
        profile: Profile,
    ) -> Self {
        LdapConfig {
            url: url.into(),
            bind: BindMethod::Simple,
            bind_dn: bind_dn.into(),
            password,
            base_dn: base_dn.into(),
            default_container: None,
            starttls: false,
            ca_file: None,
            tls_verify: true,
            allow_plaintext_bind: false,
            connect_timeout_secs: default_connect_timeout(),
            operation_timeout_secs: default_operation_timeout(),
            pool_size: default_pool_size(),
            in_flight_per_connection: default_in_flight(),
            page_size: default_page_size(),
            profile,
            naming_attribute: default_naming_attribute(),
            manager_match_attribute: None,
            object_classes: None,
            disable: None,
        }
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }
    pub(crate) fn operation_timeout(&self) -> Duration {
        Duration::from_secs(self.operation_timeout_secs)
    }

    /// Whether the connection is protected by TLS (LDAPS or StartTLS).
    pub fn is_protected(&self) -> bool {
        self.url.to_ascii_lowercase().starts_with("ldaps://") || self.starttls
    }

    pub(crate) fn container(&self) -> &str {
        self.default_container.as_deref().unwrap_or(&self.base_dn)
    }

    pub(crate) fn manager_attribute(&self) -> &str {
        match (&self.manager_match_attribute, self.profile) {
            (Some(a), _) => a,
            (None, Profile::ActiveDirectory) => "employeeID",
            (None, Profile::InetOrgPerson) => "employeeNumber",
        }
    }

    pub(crate) fn classes(&self) -> Vec<String> {
        match (&self.object_classes, self.profile) {
            (Some(c), _) => c.clone(),
            (None, Profile::ActiveDirectory) => {
                ["top", "person", "organizationalPerson", "user"].map(String::from).to_vec()
            }
            (None, Profile::InetOrgPerson) => {
                ["top", "person", "organizationalPerson", "inetOrgPerson"]
                    .map(String::from)
                    .to_vec()
            }
        }
    }

    /// Whether a simple bind sends its password over a connection without
    /// TLS (`ldap://` without StartTLS; `ldapi://` is a local socket).
    fn plaintext_bind(&self) -> bool {
        self.bind == BindMethod::Simple
            && self.url.to_ascii_lowercase().starts_with("ldap://")
            && !self.starttls
    }

    /// Check everything that can be checked without a server; the first
    /// problem of [`LdapConfig::problems`].
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
        let lower = self.url.to_ascii_lowercase();
        let url_err =
            |reason: &str| ConfigError::Url { url: self.url.clone(), reason: reason.into() };
        let scheme_ok = lower.starts_with("ldap://")
            || lower.starts_with("ldaps://")
            || lower.starts_with("ldapi://");
        if !scheme_ok {
            out.push(url_err("must start with ldap://, ldaps:// or ldapi://"));
        } else if self.starttls && !lower.starts_with("ldap://") {
            out.push(url_err("starttls applies to ldap:// URLs only"));
        }
        // The password would cross the network in clear: only when asked for.
        if self.plaintext_bind() && !is_loopback_host(&self.url) && !self.allow_plaintext_bind {
            out.push(url_err(
                "a simple bind over plain ldap:// without StartTLS to a host that is not loopback sends the bind password across the network in clear; use ldaps:// or starttls = true (or set allow_plaintext_bind = true to accept this)",
            ));
        }
        if self.bind == BindMethod::Simple && self.bind_dn.is_empty() {
            out.push(ConfigError::Invalid {
                field: "bind_dn",
                reason: "required for a simple bind".into(),
            });
        }
        // An empty password would make the bind unauthenticated (anonymous).
        if self.bind == BindMethod::Simple && self.password.expose_secret().is_empty() {
            out.push(ConfigError::Invalid {
                field: "password_env",
                reason: "a simple bind needs the bind password: give `password_env` (an environment variable's name) or `password_file`".into(),
            });
        }
        let dn = |field: &'static str, value: &str| {
            Dn::parse(value).err().map(|e| ConfigError::Dn {
                field,
                value: value.into(),
                reason: e.to_string(),
            })
        };
        // An empty DN parses (the root DSE) but names no subtree to provision.
        if self.base_dn.trim().is_empty() {
            out.push(ConfigError::Invalid { field: "base_dn", reason: "must not be empty".into() });
        }
        out.extend(dn("base_dn", &self.base_dn));
        if let Some(c) = &self.default_container {
            out.extend(dn("default_container", c));
        }
        if let Err(e) = crate::service::tls_config(self) {
            out.push(e);
        }
        for (field, value) in [
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("operation_timeout_secs", self.operation_timeout_secs),
        ] {
            if value == 0 {
                out.push(ConfigError::Invalid { field, reason: "must be at least 1".into() });
            }
        }
        for (field, value) in [
            ("pool_size", self.pool_size),
            ("in_flight_per_connection", self.in_flight_per_connection),
        ] {
            if value == 0 {
                out.push(ConfigError::Invalid { field, reason: "must be at least 1".into() });
            }
        }
        if !(1..=1000).contains(&self.page_size) {
            out.push(ConfigError::Invalid {
                field: "page_size",
                reason: format!("{} is not in 1..=1000", self.page_size),
            });
        }
        if self.naming_attribute.is_empty() {
            out.push(ConfigError::Invalid {
                field: "naming_attribute",
                reason: "must not be empty".into(),
            });
        }
        match &self.disable {
            Some(_) if self.profile == Profile::ActiveDirectory => out.push(ConfigError::Invalid {
                field: "disable",
                reason: "Active Directory is always disabled through userAccountControl; remove the disable strategy".into(),
            }),
            Some(DisableStrategy::MoveTo { container }) => out.extend(dn("disable.container", container)),
            Some(DisableStrategy::Attribute { attribute, .. }) if attribute.is_empty() => {
                out.push(ConfigError::Invalid {
                    field: "disable.attribute",
                    reason: "must not be empty".into(),
                })
            }
            _ => {}
        }
        out
    }

    /// Settings that work but weaken security: certificate checks off, a
    /// bind password sent without TLS (to loopback, or allowed by
    /// `allow_plaintext_bind`).
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let mut out = Vec::new();
        if !self.tls_verify {
            out.push(ConfigWarning {
                field: "tls_verify",
                message: "tls_verify = false: the LDAP server's certificate is not checked, so anyone on the path can read the bind password (test set-ups only)".into(),
            });
        }
        // To a remote host this is a problem unless `allow_plaintext_bind`
        // accepts it (see `problems`); accepted or local, it is still said.
        if self.plaintext_bind() {
            let message = if is_loopback_host(&self.url) {
                "simple bind over plain ldap:// without StartTLS to a loopback host: the bind password is sent in clear on this machine".to_owned()
            } else {
                "simple bind over plain ldap:// without StartTLS to a host that is not loopback, accepted by allow_plaintext_bind = true: the bind password crosses the network in clear; use ldaps:// or starttls = true".to_owned()
            };
            out.push(ConfigWarning { field: "url", message });
        }
        out
    }
}
