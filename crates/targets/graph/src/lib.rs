//! hrsync's Microsoft Graph (Entra ID) target, issue 16.
//!
//! [`GraphTarget`] implements [`hrsync_target::Target`] over Microsoft
//! Graph v1.0 `/users`: find by `$filter` (values escaped), create with the
//! properties Graph requires and a generated password that is never stored,
//! PATCH only what changed, disable with `accountEnabled: false` and a leave
//! date, delete only when the engine deletes, manager by `$ref`. Writes are
//! collected into `$batch` requests of up to 20 (per-item outcomes, per-item
//! 429 retried without resending what succeeded) under a write budget below
//! Graph's 3,000 writes per 150 s.
//!
//! Layout, as for every target: `config.rs` (validated user config, problems
//! and warnings named by field), `target.rs` (the trait operations),
//! `service.rs` (HTTP client, token, concurrency, write budget, throttling,
//! the `$batch` collector), `request_builder.rs` (pure: bodies, manager
//! references, `$batch` building and parsing), `properties.rs` (pure:
//! flat mapping attributes to typed, nested Graph properties and back),
//! `rules.rs` (pure: Graph's documented rules for user properties as
//! requirements the engine checks per worker before sending),
//! `token.rs` (the app-only token client: certificate client assertion
//! PS256 with `x5t#S256`; workload identity federation with a federated
//! token file, re-read on every request, or an RS256 JWT hrsync signs with
//! `assertion_key_file`; or a client secret for sandboxes; cached, one
//! refresher, explanations of Entra's AADSTS refusals), `health.rs`
//! (`check`); `tests/it` runs against `graph-emulator`, the
//! Graph test double, including the target conformance suite.

pub mod config;
mod health;
pub mod properties;
pub mod request_builder;
pub mod rules;
pub mod service;
mod target;
pub mod token;

pub use config::GraphConfig;
pub use request_builder::eq_filter;
pub use service::{Bearer, NoBearer, Stats};
pub use target::{BuildError, GraphTarget};
pub use token::{Presented, TokenClient, TokenError};
