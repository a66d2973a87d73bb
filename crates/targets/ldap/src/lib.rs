//! hrsync's LDAP and Active Directory target.
//!
//! [`LdapTarget`] implements [`hrsync_target::Target`] over ldap3 with a
//! small bounded pool of pipelined connections (`ldap://` + StartTLS or
//! `ldaps://`, simple bind or SASL EXTERNAL, a CA file or the system roots).
//! Two profiles: `active-directory` (`user` objects, `objectGUID` ids,
//! `userAccountControl`, `unicodePwd`, uniqueness across the domain) and
//! `inet-org-person` (OpenLDAP: `inetOrgPerson`, `entryUUID` ids, a
//! configurable disable strategy). See [`LdapTarget`] for the attribute
//! conventions (`parentDistinguishedName`, `accountDisabled`, `manager`, ...).
//!
//! Layout, as for every target: `config.rs` (validated user config: unknown
//! keys refused, problems and security warnings named by field),
//! `target.rs` (the trait operations: the I/O driver), `service.rs` (pool,
//! transport, error mapping), `request_builder.rs` (pure: changes sorted
//! into adds, modifies and modDNs, value conversions), `health.rs`
//! (`check`), `dn.rs` (RFC 4514/4515 escaping and DN parsing), `batch.rs`
//! (OR filters of the batched lookups and mapping their answers back),
//! `cache.rs` (taken values, manager DNs, reports waiting for their
//! manager), `tests.rs` (unit tests); `tests/integration.rs` (one binary,
//! a module per topic) runs against a real slapd and Samba AD DC, including
//! the target conformance suite.

pub mod batch;
mod cache;
mod config;
pub mod dn;
mod health;
pub mod request_builder;
mod service;
mod target;

#[cfg(test)]
mod tests;

pub use config::{BindMethod, ConfigError, ConfigWarning, DisableStrategy, LdapConfig, Profile};
pub use target::LdapTarget;
