//! hrsync's Microsoft Graph (Entra ID) target, issue 16. So far: the
//! `[target.connection]` configuration of `kind = "graph"` and the pure
//! request builders (bodies, manager references, `$batch` building and
//! response parsing) and Graph's rules for user properties as
//! [`hrsync_target::requirements::Requirement`]s ([`rules`]). The token
//! client and the target itself are not written yet.

pub mod config;

pub use config::GraphConfig;
pub mod request_builder;
pub mod rules;
