//! hrsync's runner: the library a command or a server drives to run flows.
//!
//! One task ([`Runner::run`]) owns every flow's engine (behind
//! [`FlowDriver`]) and its schedule: an incremental cycle every interval,
//! brought forward by the flow's effective-date wake-ups. Everything else
//! talks to it through a cloneable [`RunnerHandle`]: run a cycle, plan,
//! provision one worker on demand, pause, resume, stop, status. A flow runs
//! one job at a time; distinct flows run side by side. A stop lets the jobs
//! in flight finish within a deadline and then drops them, which the
//! engine's crash model makes safe (ARCHITECTURE.md). [`StopSignals`] maps
//! SIGTERM/SIGINT onto stop requests.

mod driver;
pub mod metric;
mod runner;
mod schedule;
mod signals;

pub use driver::{DriverError, FlowDriver, summary};
pub use runner::{
    FlowSpec, FlowStatus, Interrupt, Job, Runner, RunnerError, RunnerHandle, Status, Stopped,
    run_once,
};
pub use schedule::Schedule;
pub use signals::StopSignals;

/// The flow every config has today: SuccessFactors into the target. The
/// store's name for it, so the runner's flow and the state rows it keys
/// cannot drift apart.
pub const INBOUND: &str = hrsync_store::INBOUND;
