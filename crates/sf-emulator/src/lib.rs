//! A faithful emulator of SAP SuccessFactors Employee Central's OData v2 API.
//!
//! No real tenant is reachable from our test machines, so this crate *is* our
//! SuccessFactors: every sync, writeback and auth test trusts it. It shares no
//! code with the hrsync connector (`source-sf`), so the connector cannot agree
//! with the emulator by sharing a bug.
//!
//! Layers:
//! - [`edm`]: the static `SFOData` schema (entity types, properties, navigations) and `$metadata`.
//! - [`odata`]: the protocol: query options, `$filter` language, JSON rendering, errors.
//!   Pure, no I/O; it sees HR data only through [`odata::entity::EntityNode`].
//! - `model`, `generate`, `events`, `upsert`: the HR data, the seeded population, HR events.
//! - `server`: the axum HTTP server, auth, paging, faults, request log, admin API.

pub mod edm;
pub mod odata;
