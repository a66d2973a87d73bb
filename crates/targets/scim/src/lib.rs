//! hrsync's SCIM 2.0 target (RFC 7643/7644).
//!
//! [`ScimTarget`] implements [`hrsync_target::Target`] over one reqwest
//! client: requests shaped as a spec-compliant Entra client sends them
//! (`GET /Users?filter=userName eq "..."`, `POST /Users`, `PATCH
//! /Users/{id}` with only the changed attributes, disable by `active:
//! false`, `DELETE` only when the engine deletes), a bearer token or OAuth
//! 2.0 client credentials, at most `concurrency` requests in flight and
//! `rate_limit` per second, 429/503 waited out as `Retry-After` says.
//! Quirk switches ([`Quirks`]) for servers fitted to Entra's non-standard
//! habits are off by default.
//!
//! Layout, as for every target: `config.rs` (validated user config,
//! problems and security warnings named by field), `target.rs` (the trait
//! operations: the I/O driver, manager resolution), `service.rs` (HTTP
//! client, TLS, auth, concurrency and rate, throttling), `request_builder.rs`
//! (pure: SCIM paths, filter escaping, POST and PATCH bodies, flattening,
//! redaction), `health.rs` (`check`), `tests.rs` (unit tests);
//! `tests/integration.rs` runs against a real scim2-server started by
//! `hrsync-testkit`, including the target conformance suite.

mod config;
mod health;
pub mod request_builder;
mod schema;
mod service;
mod target;

#[cfg(test)]
mod tests;

pub use config::{AppProfile, AuthMethod, ConfigError, ConfigWarning, Quirks, ScimConfig};
pub use target::ScimTarget;
