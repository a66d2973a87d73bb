//! hrsync's Microsoft Graph (Entra ID) target, issue 16. So far: the
//! `[target.connection]` configuration of `kind = "graph"`, the pure
//! request builders (bodies, manager references, `$batch` building and
//! response parsing) and the app-only token client ([`token`]: certificate
//! client assertion PS256 with `x5t#S256`; workload identity federation
//! with a federated token file, re-read on every request, or an RS256 JWT
//! hrsync signs with `assertion_key_file`; or a client secret for
//! sandboxes; cached, one refresher, explanations of Entra's AADSTS
//! refusals). Schema checks and the target itself are not written yet.

pub mod config;

pub use config::GraphConfig;
pub mod request_builder;
pub mod token;

pub use token::{Presented, TokenClient, TokenError};
