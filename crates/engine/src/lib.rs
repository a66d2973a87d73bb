//! hrsync's sync engine.
//!
//! - [`lifecycle`]: where a worker stands (active, leave, pre-hire,
//!   terminated) from status and dates, and the record normalization that
//!   makes Entra-style mappings deterministic. Pure.
//! - [`plan`]: what one worker needs in the target (create, update with
//!   attribute diffs, disable, delete, skip). Pure.

pub mod cycle;
pub mod lifecycle;
pub mod plan;
