//! The user-facing configuration of an LDAP / AD target, validated once.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "strategy")]
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

/// Configuration of an [`crate::LdapTarget`].
#[derive(Debug, Clone, Deserialize)]
pub struct LdapConfig {
    /// `ldap://host[:port]` (with `starttls` to protect it) or `ldaps://host[:port]`.
    pub url: String,
    #[serde(default)]
    pub bind: BindMethod,
    /// The account hrsync binds as (a DN, or for AD also `user@REALM`).
    #[serde(default)]
    pub bind_dn: String,
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
    /// anyone on the path can read the bind password.
    #[serde(default = "default_true")]
    pub tls_verify: bool,
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

    /// Check everything that can be checked without a server.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let lower = self.url.to_ascii_lowercase();
        let url_err =
            |reason: &str| ConfigError::Url { url: self.url.clone(), reason: reason.into() };
        if !(lower.starts_with("ldap://")
            || lower.starts_with("ldaps://")
            || lower.starts_with("ldapi://"))
        {
            return Err(url_err("must start with ldap://, ldaps:// or ldapi://"));
        }
        if self.starttls && !lower.starts_with("ldap://") {
            return Err(url_err("starttls applies to ldap:// URLs only"));
        }
        let dn = |field: &'static str, value: &str| {
            Dn::parse(value).map(|_| ()).map_err(|e| ConfigError::Dn {
                field,
                value: value.into(),
                reason: e.to_string(),
            })
        };
        dn("base_dn", &self.base_dn)?;
        if let Some(c) = &self.default_container {
            dn("default_container", c)?;
        }
        if let Some(DisableStrategy::MoveTo { container }) = &self.disable {
            dn("disable.container", container)?;
        }
        if self.bind == BindMethod::Simple && self.bind_dn.is_empty() {
            return Err(ConfigError::Invalid {
                field: "bind_dn",
                reason: "required for a simple bind".into(),
            });
        }
        if self.pool_size == 0 || self.in_flight_per_connection == 0 {
            return Err(ConfigError::Invalid {
                field: "pool_size",
                reason: "pool_size and in_flight_per_connection must be at least 1".into(),
            });
        }
        if !(1..=1000).contains(&self.page_size) {
            return Err(ConfigError::Invalid {
                field: "page_size",
                reason: format!("{} is not in 1..=1000", self.page_size),
            });
        }
        if self.naming_attribute.is_empty() {
            return Err(ConfigError::Invalid {
                field: "naming_attribute",
                reason: "must not be empty".into(),
            });
        }
        if self.profile == Profile::ActiveDirectory && self.disable.is_some() {
            return Err(ConfigError::Invalid {
                field: "disable",
                reason: "Active Directory is always disabled through userAccountControl; remove the disable strategy".into(),
            });
        }
        Ok(())
    }
}
