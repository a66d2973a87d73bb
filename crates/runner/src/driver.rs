//! The seam between the runner and an engine: what the runner asks of a
//! flow. The runner's logic is tested against a fake; the one real
//! implementation, for [`Engine`], is here so that a change of the engine's
//! signatures is adapted in this file only.

use async_trait::async_trait;
use hrsync_engine::cycle::{CycleReport, Engine};
use hrsync_store::{CycleKind, Store};
use hrsync_target::Target;
use jiff::Timestamp;

/// Why a flow's job could not run to its end, as the engine said it. Boxed
/// so that flows over different engines (inbound, writeback) share one
/// runner; the message and source chain are the engine's, untouched.
pub type DriverError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One flow's engine as the runner drives it. The runner calls at most one
/// of these at a time per driver, and may drop a future it started (a stop
/// whose deadline passed): an implementation must leave its durable state
/// consistent at every `.await` (the engine's crash model: writes not
/// committed are redone by the next cycle).
///
/// The futures need not be `Send`: the engine's are not (its SQLite store
/// is `Send` but not `Sync`), so the runner's own future is driven where it
/// is built (`block_on`, or a thread of its own), while the driver itself
/// is `Send` so that a [`Runner`](crate::Runner) can be moved to that thread.
#[async_trait(?Send)]
pub trait FlowDriver: Send {
    /// One cycle that writes (incremental or full).
    async fn run_cycle(&mut self, kind: CycleKind) -> Result<CycleReport, DriverError>;
    /// A dry run: what a cycle (or provisioning `person` alone) would do.
    async fn plan(
        &mut self,
        kind: CycleKind,
        person: Option<&str>,
    ) -> Result<CycleReport, DriverError>;
    /// Provision one worker now, whatever the watermark.
    async fn on_demand(&mut self, person: &str) -> Result<CycleReport, DriverError>;
    /// The earliest effective-date wake-up the flow's state holds (a
    /// termination at end of day, a future-dated change, a pre-hire's lead
    /// time), due or not.
    fn next_wakeup(&self) -> Result<Option<Timestamp>, DriverError>;
    /// Remove a worker's escrow (an operator gave up on it); whether there
    /// was one. Called only while no job of the flow runs.
    fn drop_escrow(&mut self, person: &str) -> Result<bool, DriverError>;
}

#[async_trait(?Send)]
impl<S, T> FlowDriver for Engine<S, T>
where
    S: Store + 'static,
    T: Target + 'static,
{
    async fn run_cycle(&mut self, kind: CycleKind) -> Result<CycleReport, DriverError> {
        Ok(Engine::run_cycle(self, kind).await?)
    }

    async fn plan(
        &mut self,
        kind: CycleKind,
        person: Option<&str>,
    ) -> Result<CycleReport, DriverError> {
        Ok(Engine::plan(self, kind, person).await?)
    }

    async fn on_demand(&mut self, person: &str) -> Result<CycleReport, DriverError> {
        Ok(Engine::on_demand(self, person).await?)
    }

    fn next_wakeup(&self) -> Result<Option<Timestamp>, DriverError> {
        Ok(self.store().next_wakeup()?)
    }

    fn drop_escrow(&mut self, person: &str) -> Result<bool, DriverError> {
        Ok(self.store_mut().drop_escrow(person)?)
    }
}

/// One-paragraph summary of a cycle for people: the line `hrsync sync`
/// prints and `hrsync run` logs for every cycle.
pub fn summary(r: &CycleReport) -> String {
    let counts: Vec<String> = r.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let mut s = format!(
        "cycle {} ({}) {}: {} workers in {:.1} s ({:.0} workers/s), {} requests; {}",
        r.cycle_id,
        r.kind,
        r.status,
        r.workers,
        r.duration_ms as f64 / 1000.0,
        r.rate(),
        r.requests,
        if counts.is_empty() { "nothing to do".to_owned() } else { counts.join(", ") }
    );
    if let Some(m) = &r.message {
        s.push('\n');
        s.push_str(m);
    }
    // The message quotes HR data and servers' error bodies: escaped here,
    // once, so the runner's log line and every command's output are safe
    // on a terminal.
    hrsync_display::escape_keeping_lines(&s).into_owned()
}
