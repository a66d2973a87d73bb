//! A faithful emulator of SAP SuccessFactors Employee Central's OData v2 API.
//!
//! No real tenant is reachable from our test machines, so this crate *is* our
//! SuccessFactors: every sync, writeback and auth test trusts it. It shares no
//! code with the hrsync connector, so the connector cannot agree with the
//! emulator by sharing a bug. The protocol layer lives in `sf-odata`.

pub mod generate;
pub mod model;
pub mod refdata;
pub mod time;
pub mod nodes;
mod schema;
