//! hrsync's pure decisions, free of I/O by construction (this crate
//! depends on no runtime, store, target or network crate):
//!
//! - [`lifecycle`]: where a worker stands (active, leave, pre-hire,
//!   terminated) from SuccessFactors status and dates, and the record
//!   normalization that makes Entra-style mappings deterministic.
//! - [`plan`]: what one worker needs in the target ([`plan::Plan`]: create,
//!   update with attribute diffs, disable, delete, skip).
//! - [`Action`]: the name of what was done for a worker, in reports, the
//!   provisioning log and the store (one vocabulary everywhere).
//! - [`escrow`]: when a failed worker is tried again, and when a human is
//!   asked to look instead.
//! - [`guard`]: the accidental-deletion guard's arithmetic.
//!
//! Which attribute changes disable or enable an account is a cross-target
//! attribute convention, defined once in `hrsync_target::attr::disabling`.

pub mod escrow;
pub mod guard;
pub mod lifecycle;
pub mod plan;

mod action;

pub use action::Action;
