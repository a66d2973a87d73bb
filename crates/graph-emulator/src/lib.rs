//! A **test double** of Microsoft Graph v1.0 (users, manager `$ref`,
//! `$batch`, throttling) and of the Entra token endpoint.
//!
//! No Graph endpoint is reachable from our test machines, so this crate
//! stands in for one in hrsync's tests. It is not Microsoft Graph and makes
//! no claim beyond the documented rules it enforces. It shares no code with
//! the Graph client target (`crates/targets/graph`), so the two cannot agree
//! by sharing a bug.
//!
//! Status: [`schema`] (the user type's property names and types, derived
//! from Microsoft's published v1.0 metadata), [`rules`], [`server`] (start,
//! base URL, in-memory tenant, shutdown), the [`users`] routes (create,
//! read, update, delete, list with `$filter` (`eq`, `in` up to 15 values,
//! served from per-tenant indexes)/`$select`/`$top`, manager
//! `$ref`), [`batch`] (`POST /v1.0/$batch`) and [`throttle`] (a sliding
//! window write limit, injected faults, `/_emulator/stats`) and [`auth`] (the token endpoint, Entra-shaped JWT access tokens
//! signed by [`issuer`], discovery and JWKS, and the
//! bearer check, enforced once an app is registered) exist so far.

pub mod auth;
pub mod batch;
pub mod issuer;
pub mod rules;
pub mod schema;
pub mod server;
pub mod throttle;
pub mod users;
