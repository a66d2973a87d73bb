//! Running a cycle: read a flow's records page by page, decide per worker,
//! apply to the target, record the outcome, and advance the watermark only
//! when every change of the window was applied or escrowed.
//!
//! A cycle is a [`Cycle`] value (its id, kind, start, mode, report, held
//! deprovisionings and page pipeline), driven by the [`Engine`] through
//! the steps named by the modules:
//! [`read`] (the source's pages, read ahead on their own task, and
//! [`import`]ed there) -> [`matching`] (one `find_many` per matching
//! attribute per page) -> [`unique`] (the page's `SelectUniqueValue`
//! candidates, one `taken` per attribute) -> [`decide`] (map and plan, in
//! page order) -> [`pipeline`] (writes in flight across pages; a page is
//! flushed and committed once its writes are back, pages in order) ->
//! [`deprovision`] (held disables and deletes, under the guard).
//!
//! Invariants:
//! - The watermark moves only in [`Store::finish_cycle`] of a cycle that read
//!   its whole window; a crash anywhere before that re-reads the window.
//! - A worker's target write happens before its store commit. If hrsync dies
//!   between the two, the next cycle finds no join, matches the object by its
//!   matching attribute and joins it: no duplicate, no lost change.
//! - One worker's failure (mapping error, target rejection) is escrowed and
//!   never stops the others; a permanent one is flagged at once. A target
//!   out of reach is no worker's failure: it stops the cycle ([`down`]).
//! - Disables and deletes are held until the end of the cycle and applied
//!   only if they stay under the accidental-deletion guard.
//! - A dry run ([`Engine::plan`]) writes nothing: not to the target, not to
//!   the store.

mod decide;
mod demands;
mod deprovision;
mod down;
mod import;
mod matching;
mod pipeline;
mod read;
mod unique;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hrsync_expr::{Clock, SplitMix64};
use hrsync_source_sf::SfClient;
use hrsync_store::{CycleId, CycleKind, CycleStatus, LogEntry, LogStatus, Step, Store, StoreError};
use hrsync_target::{Target, TargetError};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::Action;
pub use crate::escrow::EscrowPolicy;
pub use crate::flow::{CompiledFlow, FlowError};
pub use crate::guard::DeletionGuard;
use crate::inbound::{SfOptions, SfSource};
pub use crate::outcome::WorkerError;
use crate::plan::Actions;
use crate::source::{Read, Source, SourceError};

use deprovision::Held;
use pipeline::Pipeline;

/// Engine settings (from the config file).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Name of the watermark in the store.
    pub watermark_scope: String,
    pub page_size: u32,
    pub actions: Actions,
    /// The company's time zone: dates are calendar days there.
    pub time_zone: TimeZone,
    /// Provision pre-hires this many days before their first day.
    pub prehire_lead_days: i64,
    /// Provision Onboarding 2.0 pre-hires (user status `e`).
    pub onboarding_prehires: bool,
    /// Re-read this much before the watermark, against clock skew between
    /// hrsync and SuccessFactors.
    pub overlap: Duration,
    /// Ask SuccessFactors only for the properties the flow reads instead
    /// of Entra's everything-expanded records.
    pub select: bool,
    /// Target writes in flight at once (across pages).
    pub concurrency: usize,
    pub guard: DeletionGuard,
    pub escrow: EscrowPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            watermark_scope: "successfactors:PerPerson".into(),
            page_size: 500,
            actions: Actions::default(),
            time_zone: TimeZone::UTC,
            prehire_lead_days: 14,
            onboarding_prehires: true,
            overlap: Duration::from_secs(10),
            select: false,
            concurrency: 32,
            guard: DeletionGuard::default(),
            escrow: EscrowPolicy::default(),
        }
    }
}

impl Settings {
    /// The SuccessFactors source options these settings carry.
    pub fn sf_options(&self) -> SfOptions {
        SfOptions {
            page_size: self.page_size,
            select: self.select,
            time_zone: self.time_zone.clone(),
            onboarding_prehires: self.onboarding_prehires,
        }
    }
}

/// Why a cycle could not run to its end. Worker-level problems are not
/// errors: they are escrowed and reported in the [`CycleReport`].
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Source(SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target could not make a page's writes durable.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The target cannot be reached or refuses hrsync's credentials: the
    /// cycle stopped as a whole (see `down.rs`).
    #[error(
        "the {target} target cannot be reached, so the cycle stopped: {error}; no worker was escrowed and the watermark did not move (the next cycle starts over)"
    )]
    TargetUnreachable { target: &'static str, error: TargetError },
    /// SuccessFactors' clock and this machine's differ by more than a day:
    /// a window on either would be wrong, so no cycle runs.
    #[error(
        "SuccessFactors' clock says {server}, this machine's {local}: more than a day apart, so the cycle stopped and the watermark did not move; fix the clock (NTP) of whichever is wrong"
    )]
    ClockSkew { server: Timestamp, local: Timestamp },
}

/// Source and hrsync clocks further apart than this are warned about.
const SKEW_WARN: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);
/// ... and further apart than this, refused.
const SKEW_REFUSE: jiff::SignedDuration = jiff::SignedDuration::from_secs(86_400);

/// What a cycle did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CycleReport {
    pub cycle_id: CycleId,
    pub kind: CycleKind,
    pub window_from: Option<String>,
    pub window_to: String,
    /// Action -> workers.
    pub counts: BTreeMap<Action, u64>,
    pub workers: u64,
    pub requests: u64,
    pub duration_ms: u64,
    pub status: CycleStatus,
    pub message: Option<String>,
    /// The first URL of every query sent (later pages follow `__next`).
    pub queries: Vec<String>,
    /// Per-worker detail: filled by [`Engine::plan`] and [`Engine::on_demand`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<LogEntry>,
}

impl CycleReport {
    /// Workers per second over the cycle's wall time.
    pub fn rate(&self) -> f64 {
        if self.duration_ms == 0 {
            0.0
        } else {
            self.workers as f64 * 1000.0 / self.duration_ms as f64
        }
    }

    /// How many workers got `action`.
    pub fn count(&self, action: Action) -> u64 {
        self.counts.get(&action).copied().unwrap_or(0)
    }

    fn add(&mut self, action: Action) {
        *self.counts.entry(action).or_default() += 1;
    }
}

/// Whether a cycle writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Apply,
    /// Read the source and the target, decide, write nothing anywhere.
    DryRun,
}

type ProgressHook = Box<dyn Fn(&CycleReport) + Send + Sync>;
type CrashHook = Arc<dyn Fn(&'static str) + Send + Sync>;

/// The sync engine for one flow: a source, a compiled mapping, a target
/// and the flow's state store.
pub struct Engine<S: Store, T: Target> {
    /// Shared with the read-ahead task.
    source: Arc<dyn Source>,
    /// Shared with the read-ahead task, which imports records as it reads them.
    flow: Arc<CompiledFlow>,
    store: S,
    /// Shared with the writes in flight, which outlive a page.
    target: Arc<T>,
    clock: Arc<dyn Clock + Send + Sync>,
    settings: Settings,
    /// Randomness for `RandomString`/`Guid` in mappings: seeded from the
    /// clock; not secret material (initial passwords are the target's job).
    random: std::sync::Mutex<SplitMix64>,
    progress: Option<ProgressHook>,
    crash: Option<CrashHook>,
    /// What the target demands of the values sent, read at each cycle's start.
    demands: demands::Demands,
    /// One worker with detail (on-demand, `plan --person`): show the
    /// target's requests (previews in a dry run, the exchanges otherwise).
    show_requests: bool,
    /// The error that showed the target out of reach in this cycle, if one
    /// did (set from the writes in flight too, hence the lock).
    down: std::sync::Mutex<Option<TargetError>>,
}

/// One run of a flow: everything that lives as long as the cycle.
struct Cycle {
    id: CycleId,
    /// The cycle's start: the window's end, "today" for effective dates.
    now: Timestamp,
    /// Where the watermark moves if the cycle completes: the window's end,
    /// or the source's own clock when that is behind hrsync's (the source
    /// stamps changes by its clock; see [`Engine::follow_source_clock`]).
    watermark: Timestamp,
    mode: Mode,
    /// Collect per-worker log entries into the report (plan, on-demand).
    detail: bool,
    /// On-demand or `plan --person`: only this worker.
    person: Option<String>,
    report: CycleReport,
    /// Disables and deletes waiting for the guard.
    held: Vec<Held>,
    pipe: Pipeline,
    /// Why records could not be processed at all (no usable person id):
    /// the watermark does not move past them.
    unreadable: Vec<String>,
}

impl Cycle {
    fn apply(&self) -> bool {
        self.mode == Mode::Apply
    }
}

impl<S: Store, T: Target + 'static> Engine<S, T> {
    /// The inbound flow: SuccessFactors records into `target`.
    pub fn new(
        sf: SfClient,
        flow: CompiledFlow,
        store: S,
        target: T,
        clock: Arc<dyn Clock + Send + Sync>,
        settings: Settings,
    ) -> Self {
        let source = SfSource::new(sf, &flow, settings.sf_options());
        Self::with_source(Arc::new(source), flow, store, target, clock, settings)
    }

    /// A flow over any source.
    pub fn with_source(
        source: Arc<dyn Source>,
        flow: CompiledFlow,
        store: S,
        target: T,
        clock: Arc<dyn Clock + Send + Sync>,
        settings: Settings,
    ) -> Self {
        let seed = clock.now().as_nanosecond() as u64;
        Engine {
            source,
            flow: Arc::new(flow),
            store,
            target: Arc::new(target),
            clock,
            settings,
            random: std::sync::Mutex::new(SplitMix64(seed)),
            progress: None,
            crash: None,
            demands: demands::Demands::default(),
            show_requests: false,
            down: std::sync::Mutex::new(None),
        }
    }

    /// Called after every page with the report so far (progress bars).
    pub fn on_progress(&mut self, f: impl Fn(&CycleReport) + Send + Sync + 'static) {
        self.progress = Some(Box::new(f));
    }

    /// A test seam: called at every point where a crash must be survivable
    /// (after a page is read, after a target write before its commit, after a
    /// commit, before the watermark moves). The crash tests install a hook
    /// that aborts the process at the n-th point.
    pub fn on_crash_point(&mut self, f: Arc<dyn Fn(&'static str) + Send + Sync>) {
        self.crash = Some(f);
    }

    fn crash_point(&self, name: &'static str) {
        if let Some(f) = &self.crash {
            f(name);
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, to write outside a cycle (an operator dropping a
    /// worker's escrow); the caller serializes it with the flow's cycles.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    pub fn target(&self) -> &T {
        &self.target
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Run one cycle. `Incremental` falls back to a full read when no
    /// watermark exists yet.
    pub async fn run_cycle(&mut self, requested: CycleKind) -> Result<CycleReport, EngineError> {
        self.cycle(requested, None, Mode::Apply, false).await
    }

    /// A dry run: what a cycle (or, with `person`, provisioning that one
    /// worker) would do. Reads the source and the target; writes nothing
    /// to either, nor to the store. The report's `details` hold one entry
    /// per worker with its steps and attribute changes.
    pub async fn plan(
        &mut self,
        requested: CycleKind,
        person: Option<&str>,
    ) -> Result<CycleReport, EngineError> {
        self.cycle(requested, person, Mode::DryRun, true).await
    }

    /// Provision one worker now, whatever the watermark, and report every
    /// step. Does not move the watermark.
    pub async fn on_demand(&mut self, person: &str) -> Result<CycleReport, EngineError> {
        self.cycle(CycleKind::OnDemand, Some(person), Mode::Apply, true).await
    }

    async fn cycle(
        &mut self,
        requested: CycleKind,
        person: Option<&str>,
        mode: Mode,
        detail: bool,
    ) -> Result<CycleReport, EngineError> {
        let started = Instant::now();
        let now = self.clock.now();
        let dry = mode == Mode::DryRun;
        if !dry {
            self.store.abort_running_cycles(now)?;
        }
        let watermark = self.store.watermark(&self.settings.watermark_scope)?;
        let kind = match (requested, watermark, person) {
            (_, _, Some(_)) => CycleKind::OnDemand,
            (CycleKind::Incremental, None, None) => CycleKind::Full,
            (k, _, None) => k,
        };
        let overlap = jiff::SignedDuration::try_from(self.settings.overlap).unwrap_or_default();
        let window = match (kind, watermark) {
            (CycleKind::Incremental, Some(w)) => {
                Some((floor_second(w.checked_sub(overlap).unwrap_or(w)), ceil_second(now)))
            }
            _ => None,
        };
        let scope = match (kind, person) {
            (CycleKind::Full, None) => hrsync_target::CycleScope::All,
            _ => hrsync_target::CycleScope::Some,
        };
        self.target.begin_cycle(scope).await;
        self.source.mark_time();
        self.reset_down();
        self.demands = demands::Demands::load(&*self.target).await;
        self.show_requests = detail && person.is_some();
        self.target.record_exchanges(self.show_requests && !dry);
        let id = if dry { 0 } else { self.store.begin_cycle(kind, window, now)? };
        let mut c = Cycle {
            id,
            now,
            watermark: now,
            mode,
            detail,
            person: person.map(str::to_owned),
            report: CycleReport {
                cycle_id: id,
                kind,
                window_from: window.map(|w| w.0.to_string()),
                window_to: now.to_string(),
                counts: BTreeMap::new(),
                workers: 0,
                requests: 0,
                duration_ms: 0,
                status: CycleStatus::Running,
                message: None,
                queries: Vec::new(),
                details: Vec::new(),
            },
            held: Vec::new(),
            pipe: Pipeline::default(),
            unreadable: Vec::new(),
        };
        let main = match (person, window) {
            (Some(id), _) => Read::Person(id.to_owned()),
            (None, Some((from, to))) => Read::Changed { from, to },
            (None, None) => Read::All,
        };
        let read = self.read_cycle(&mut c, main).await;
        let result = self.settle(&mut c, read).await;
        let result = self.unless_down(result).and_then(|()| self.follow_source_clock(&mut c));
        if self.show_requests && !dry {
            let exchanges = self.target.take_exchanges();
            self.target.record_exchanges(false);
            if let Some(d) =
                c.report.details.iter_mut().find(|d| person == Some(d.person_id.as_str()))
            {
                d.steps
                    .extend(exchanges.into_iter().map(|e| step("request", LogStatus::Success, e)));
            }
        }
        if dry {
            c.report.duration_ms = started.elapsed().as_millis() as u64;
            result?;
            match self.apply_held(&mut c).await? {
                Some(msg) => {
                    c.report.status = CycleStatus::Guarded;
                    c.report.message = Some(msg);
                }
                None => c.report.status = CycleStatus::Planned,
            }
            c.report.message = self.with_demands(c.report.message.take());
            return Ok(c.report);
        }
        // An on-demand run provisions one worker; it never moves the
        // watermark. Nor does a cycle that read records it could not
        // process: they are read again next time.
        let advance_ok = kind != CycleKind::OnDemand && c.unreadable.is_empty();
        let held = match result {
            Ok(()) => self.apply_held(&mut c).await,
            Err(e) => Err(e),
        };
        let (status, message, advance) = match held {
            Err(e) => {
                self.finish(&mut c, started, CycleStatus::Failed, Some(e.to_string()), false)?;
                return Err(e);
            }
            Ok(held) => match held {
                Some(guard_msg) => (CycleStatus::Guarded, Some(guard_msg), false),
                None if !c.unreadable.is_empty() => {
                    let mut listed: Vec<&str> =
                        c.unreadable.iter().map(String::as_str).take(5).collect();
                    if c.unreadable.len() > 5 {
                        listed.push("...");
                    }
                    let msg = format!(
                        "{} record(s) could not be processed ({}); the watermark stays where it was, so they are read again next cycle",
                        c.unreadable.len(),
                        listed.join("; ")
                    );
                    (CycleStatus::CompletedWithErrors, Some(msg), false)
                }
                None if c.report.count(Action::Failed) > 0 => {
                    (CycleStatus::CompletedWithErrors, None, advance_ok)
                }
                None => (CycleStatus::Completed, None, advance_ok),
            },
        };
        let message = self.with_demands(message);
        self.finish(&mut c, started, status, message, advance)?;
        Ok(c.report)
    }

    /// Compare the source's clock (its first answer of the cycle) with
    /// hrsync's at the cycle's start. A source behind hrsync stamps changes
    /// made after the read with times before the window's end, so the
    /// watermark moves only to the source's time: the next window starts
    /// early enough to see them. Warned above 30 s, refused above a day.
    fn follow_source_clock(&self, c: &mut Cycle) -> Result<(), EngineError> {
        let Some(server) = self.source.server_time() else { return Ok(()) };
        let skew = server.duration_since(c.now);
        if skew.abs() > SKEW_REFUSE {
            return Err(EngineError::ClockSkew { server, local: c.now });
        }
        if skew.abs() > SKEW_WARN {
            tracing::warn!(
                message = "SuccessFactors' clock and this machine's differ; the watermark follows SuccessFactors'.",
                skew_seconds = skew.as_secs(),
                server = %server,
                local = %c.now,
            );
        }
        // The Date header has whole seconds: the floor never runs ahead of
        // the source.
        c.watermark = c.watermark.min(floor_second(server));
        Ok(())
    }

    /// `message` followed by the account of the target's demands, if any.
    fn with_demands(&self, message: Option<String>) -> Option<String> {
        let mapped: Vec<&str> =
            self.flow.mapping.mappings().iter().map(|m| m.config.target.as_str()).collect();
        match (message, self.demands.summary(&mapped)) {
            (Some(m), Some(d)) => Some(format!("{m}\n{d}")),
            (m, d) => m.or(d),
        }
    }

    fn finish(
        &mut self,
        c: &mut Cycle,
        started: Instant,
        status: CycleStatus,
        message: Option<String>,
        advance: bool,
    ) -> Result<(), EngineError> {
        c.report.duration_ms = started.elapsed().as_millis() as u64;
        c.report.status = status;
        c.report.message = message.clone();
        let summary = serde_json::to_value(&c.report).unwrap_or(serde_json::Value::Null);
        self.crash_point("before-finish-cycle");
        let scope = self.settings.watermark_scope.clone();
        self.store.finish_cycle(
            c.id,
            status,
            &summary,
            message.as_deref(),
            self.clock.now(),
            advance.then_some((scope.as_str(), c.watermark)),
        )?;
        Ok(())
    }
}

/// Windows are whole seconds (SuccessFactors filter literals carry whole
/// seconds, as Entra sends them): widened so a change stamped in the
/// cycle's last second is not left for the next cycle. Overlap is
/// harmless: applying a worker twice changes nothing the second time.
pub(crate) fn floor_second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

pub(crate) fn ceil_second(t: Timestamp) -> Timestamp {
    let f = floor_second(t);
    if f == t { t } else { f.checked_add(jiff::SignedDuration::from_secs(1)).unwrap_or(t) }
}

/// The target writes of a plan's attribute changes (`null` removes).
pub(super) fn updates(changes: &[crate::plan::Change]) -> Vec<hrsync_target::AttributeUpdate> {
    changes
        .iter()
        .map(|c| hrsync_target::AttributeUpdate { name: c.attribute.clone(), value: c.new.clone() })
        .collect()
}

/// A provisioning-log step.
fn step(name: &str, status: LogStatus, detail: String) -> Step {
    Step { name: name.into(), status, detail }
}
