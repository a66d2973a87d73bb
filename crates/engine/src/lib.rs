//! hrsync's sync engine.
//!
//! - [`lifecycle`]: where a worker stands (active, leave, pre-hire,
//!   terminated) from status and dates, and the record normalization that
//!   makes Entra-style mappings deterministic. Pure.

pub mod lifecycle;
