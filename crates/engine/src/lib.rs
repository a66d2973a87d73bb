//! hrsync's sync engine: runs a flow (a source, a compiled mapping, a
//! target and the flow's state) one cycle at a time.
//!
//! - [`cycle`]: the [`cycle::Engine`] and one run of it (read, import,
//!   match, unique values, decide, write/commit, deprovision).
//! - [`source`]: the seam to where records come from; [`inbound`] is
//!   SuccessFactors behind it (queries, pre-hire re-reads, lifecycle);
//!   [`directory`] is a flow's target read back (the writeback flow's source).
//! - [`flow`]: the compiled mapping of a flow.
//! - [`outcome`]: a worker's typed failure ([`WorkerError`]) and decision.
//! - [`lifecycle`], [`plan`], [`escrow`], [`guard`] and [`Action`] are the
//!   pure decisions of `hrsync-plan`, re-exported.

pub mod cycle;
pub mod directory;
pub mod flow;
pub mod inbound;
pub mod outcome;
pub mod source;

pub use hrsync_plan::{Action, escrow, guard, lifecycle, plan};
pub use outcome::WorkerError;
