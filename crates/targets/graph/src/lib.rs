//! hrsync's Microsoft Graph (Entra ID) target, issue 16. Stage 1 only: the
//! `[target.connection]` configuration of `kind = "graph"`. The token client,
//! request builders, schema checks and the target itself are not written yet.

pub mod config;

pub use config::GraphConfig;
pub mod request_builder;
