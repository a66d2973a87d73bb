//! Running a cycle: read workers from SuccessFactors page by page, decide
//! per worker, apply to the target, record the outcome, and advance the
//! watermark only when every change of the window was applied or escrowed.
//!
//! Invariants:
//! - The watermark moves only in [`Store::finish_cycle`] of a cycle that read
//!   its whole window; a crash anywhere before that re-reads the window.
//! - A worker's target write happens before its store commit. If hrsync dies
//!   between the two, the next cycle finds no join, matches the object by its
//!   matching attribute and joins it: no duplicate, no lost change.
//! - One worker's failure (mapping error, target rejection) is escrowed with
//!   backoff and never stops the others.
//! - Disables and deletes are held until the end of the cycle and applied
//!   only if they stay under the accidental-deletion guard.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use hrsync_expr::{Clock, EvalContext, Outcome, SplitMix64, Uniqueness};
use hrsync_mapping::{CompiledMapping, CompiledScope, CompiledSource, Phase};
use hrsync_source_sf::wire::Projection;
use hrsync_source_sf::{Filter, PersonQuery, SfClient, SourceError, filter};
use hrsync_store::{
    Account, AccountStatus, Change as StoreChange, CycleId, CycleKind, CycleStatus, Escrow,
    LogEntry, Outcome as StoreOutcome, Step, Store, StoreError, WorkerState,
};
use hrsync_target::{AttributeUpdate, Target, TargetError, TargetObject};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value;

use crate::lifecycle::{self, Stage};
use crate::plan::{self, Actions, Desired, Existing, FlowRule, MappedWorker, Plan};

/// The compiled flow: what to read and how to map it.
#[derive(Clone)]
pub struct Flow {
    pub source: CompiledSource,
    pub mapping: CompiledMapping,
    pub scope: Option<CompiledScope>,
    /// Indices of the mappings whose values come from `SelectUniqueValue`.
    unique: Vec<usize>,
}

/// A mapping that does not compile.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Mapping(Vec<hrsync_mapping::MappingError>),
    #[error(transparent)]
    Scope(#[from] hrsync_mapping::scope::ScopeError),
    #[error(transparent)]
    Schema(#[from] hrsync_mapping::SchemaError),
}

impl Flow {
    /// Target attributes the engine looks workers up by, in precedence order.
    pub fn matching_attributes(&self) -> Vec<&str> {
        self.mapping.matching().into_iter().map(|m| m.config.target.as_str()).collect()
    }

    /// Target attributes the engine searches the target by: the matching
    /// ones and those whose values come from `SelectUniqueValue` (each
    /// candidate is a uniqueness lookup). Targets that index selectively
    /// should index these.
    pub fn lookup_attributes(&self) -> Vec<&str> {
        let mut out = self.matching_attributes();
        for m in self.unique_mappings() {
            if !out.contains(&m.config.target.as_str()) {
                out.push(m.config.target.as_str());
            }
        }
        out
    }

    /// The mappings whose values come from `SelectUniqueValue` (each
    /// candidate is a uniqueness question to the target).
    fn unique_mappings(&self) -> impl Iterator<Item = &hrsync_mapping::CompiledAttributeMapping> {
        self.unique.iter().filter_map(|&i| self.mapping.mappings().get(i))
    }

    /// Compile a mapping against a source schema: the mapped attributes'
    /// paths, the expressions (with static checks) and the scoping filter.
    pub fn compile(
        schema: &hrsync_mapping::SourceSchema,
        config: &hrsync_mapping::MappingConfig,
    ) -> Result<Flow, FlowError> {
        let mapping =
            CompiledMapping::compile(&config.mappings, schema).map_err(FlowError::Mapping)?;
        let scope = config.scope.as_ref().map(|s| s.compile(schema)).transpose()?;
        let mut names: Vec<&str> = mapping.referenced_attributes();
        if let Some(s) = &config.scope {
            names.extend(s.attributes());
        }
        let source = schema.compile(names)?;
        let unique = mapping
            .mappings()
            .iter()
            .enumerate()
            .filter(|(_, m)| uses_unique(m))
            .map(|(i, _)| i)
            .collect();
        Ok(Flow { source, mapping, scope, unique })
    }

    /// The `$expand` list: what the mapped attributes need plus what the
    /// lifecycle rule reads (employment status codes, users, termination info).
    /// The `$select` list: what the mapped attributes read plus what the
    /// lifecycle rule reads; `None` when a mapped path cannot be bounded
    /// (then everything is read).
    pub fn select(&self) -> Option<Vec<String>> {
        let mut s = self.source.select()?;
        for extra in [
            "personIdExternal",
            "employmentNav/startDate",
            "employmentNav/endDate",
            "employmentNav/assignmentClass",
            "employmentNav/userId",
            "employmentNav/jobInfoNav/startDate",
            "employmentNav/jobInfoNav/emplStatusNav/externalCode",
            "personEmpTerminationInfoNav/activeEmploymentsCount",
            "personEmpTerminationInfoNav/latestTerminationDate",
        ] {
            s.push(extra.to_owned());
        }
        s.sort();
        s.dedup();
        Some(s)
    }

    pub fn expand(&self) -> Vec<String> {
        let mut e: Vec<String> = self.source.expand().to_vec();
        for extra in [
            "employmentNav",
            "employmentNav/userNav",
            "employmentNav/jobInfoNav",
            "employmentNav/jobInfoNav/emplStatusNav",
            "personEmpTerminationInfoNav",
        ] {
            if !e.iter().any(|x| x == extra) {
                e.push(extra.to_owned());
            }
        }
        e
    }
}

/// Limits of the accidental-deletion guard: a cycle that would disable or
/// delete more accounts than either limit stops before doing so.
#[derive(Debug, Clone, Copy)]
pub struct DeletionGuard {
    pub max_count: u64,
    /// Share of the managed active accounts, 0.0..=1.0.
    pub max_share: f64,
}

/// Retry schedule for failed workers.
#[derive(Debug, Clone, Copy)]
pub struct EscrowPolicy {
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// After this many failed attempts the worker is flagged for a human.
    pub flag_after: u32,
}

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
    /// Ask SuccessFactors only for the properties the flow reads
    /// ([`Flow::select`]) instead of Entra's everything-expanded records.
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
            guard: DeletionGuard { max_count: 500, max_share: 0.2 },
            escrow: EscrowPolicy {
                first_retry: Duration::from_secs(60),
                max_retry: Duration::from_secs(6 * 3600),
                flag_after: 10,
            },
        }
    }
}

/// Why a cycle could not run to its end. Worker-level problems are not
/// errors: they are escrowed and reported in the [`CycleReport`].
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target could not make a page's writes durable.
    #[error(transparent)]
    Target(#[from] TargetError),
}

/// What a cycle did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CycleReport {
    pub cycle_id: CycleId,
    pub kind: String,
    pub window_from: Option<String>,
    pub window_to: String,
    /// Action -> workers (create, update, disable, delete, skip, failed).
    pub counts: BTreeMap<String, u64>,
    pub workers: u64,
    pub requests: u64,
    pub duration_ms: u64,
    pub status: String,
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
}

/// Whether a cycle writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Apply,
    /// Read the source and the target, decide, write nothing anywhere.
    DryRun,
}

/// Uniqueness answered by the target, for `SelectUniqueValue`. Expression
/// evaluation is synchronous; the target is async, so the question is asked
/// on the current runtime without blocking its other tasks.
struct TargetUniqueness<'a> {
    target: &'a dyn Target,
    attribute: &'a str,
}

impl Uniqueness for TargetUniqueness<'_> {
    fn is_taken(&self, candidate: &str) -> Result<bool, String> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return Err(
                "SelectUniqueValue needs the multi-threaded tokio runtime to ask the target".into(),
            );
        }
        tokio::task::block_in_place(|| {
            handle.block_on(self.target.is_taken(self.attribute, candidate, None))
        })
        .map_err(|e| e.to_string())
    }
}

/// The sync engine for one flow.
pub struct Engine<S: Store, T: Target> {
    sf: Arc<SfClient>,
    /// Shared with the read-ahead task, which imports records as it parses them.
    flow: Arc<Flow>,
    store: S,
    /// Shared with the writes in flight, which outlive a page.
    target: Arc<T>,
    clock: Arc<dyn Clock + Send + Sync>,
    settings: Settings,
    /// Randomness for `RandomString`/`Guid` in mappings: seeded from the
    /// clock; not secret material (initial passwords are the target's job).
    random: std::sync::Mutex<SplitMix64>,
    /// `$select` when [`Settings::select`] is on (empty: everything).
    select: Vec<String>,
    /// The same paths applied while parsing, whether or not `$select` is
    /// sent (`None` when a mapped path cannot be bounded).
    keep: Option<Arc<Projection>>,
    mode: Mode,
    /// Collect per-worker log entries into the report (plan, on-demand).
    detail: bool,
    progress: Option<ProgressHook>,
    crash: Option<Arc<dyn Fn(&'static str) + Send + Sync>>,
}

type ProgressHook = Box<dyn Fn(&CycleReport) + Send + Sync>;

/// A deprovisioning held until the end of the cycle.
struct Held {
    person_id: String,
    plan: Plan,
    account: Account,
    steps: Vec<Step>,
}

impl<S: Store, T: Target + 'static> Engine<S, T> {
    pub fn new(
        sf: SfClient,
        flow: Flow,
        store: S,
        target: T,
        clock: Arc<dyn Clock + Send + Sync>,
        settings: Settings,
    ) -> Self {
        let seed = clock.now().as_nanosecond() as u64;
        let select = flow.select().unwrap_or_default();
        let keep = (!select.is_empty()).then(|| Arc::new(Projection::from_paths(&select)));
        Engine {
            sf: Arc::new(sf),
            flow: Arc::new(flow),
            store,
            target: Arc::new(target),
            clock,
            settings,
            random: std::sync::Mutex::new(SplitMix64(seed)),
            select,
            keep,
            mode: Mode::Apply,
            detail: false,
            progress: None,
            crash: None,
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

    pub fn target(&self) -> &T {
        &self.target
    }

    /// Run one cycle. `Incremental` falls back to a full read when no
    /// watermark exists yet.
    pub async fn run_cycle(&mut self, requested: CycleKind) -> Result<CycleReport, EngineError> {
        self.mode = Mode::Apply;
        self.detail = false;
        self.cycle(requested, None).await
    }

    /// A dry run: what a cycle (or, with `person`, provisioning that one
    /// worker) would do. Reads SuccessFactors and the target; writes nothing
    /// to either, nor to the store. The report's `details` hold one entry per
    /// worker with its steps and attribute changes.
    pub async fn plan(
        &mut self,
        requested: CycleKind,
        person: Option<&str>,
    ) -> Result<CycleReport, EngineError> {
        self.mode = Mode::DryRun;
        self.detail = true;
        let r = self.cycle(requested, person).await;
        self.mode = Mode::Apply;
        r
    }

    /// Provision one worker now, whatever the watermark, and report every
    /// step. Does not move the watermark.
    pub async fn on_demand(&mut self, person: &str) -> Result<CycleReport, EngineError> {
        self.mode = Mode::Apply;
        self.detail = true;
        self.cycle(CycleKind::OnDemand, Some(person)).await
    }

    async fn cycle(
        &mut self,
        requested: CycleKind,
        person: Option<&str>,
    ) -> Result<CycleReport, EngineError> {
        let started = Instant::now();
        let now = self.clock.now();
        let dry = self.mode == Mode::DryRun;
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
        let cycle = if dry { 0 } else { self.store.begin_cycle(kind, window, now)? };
        let mut report = CycleReport {
            cycle_id: cycle,
            kind: format!("{kind:?}").to_lowercase(),
            window_from: window.map(|w| w.0.to_string()),
            window_to: now.to_string(),
            ..Default::default()
        };
        let mut held = Vec::new();
        let mut pipe = Pipeline::default();
        let read = self
            .read_and_process(&mut pipe, cycle, kind, window, person, now, &mut report, &mut held)
            .await;
        let result = self.settle(&mut pipe, cycle, person, now, &mut report, read).await;
        if dry {
            report.duration_ms = started.elapsed().as_millis() as u64;
            result?;
            if let Some(msg) = self.apply_held(cycle, held, now, &mut report).await? {
                report.status = "guarded".into();
                report.message = Some(msg);
            } else {
                report.status = "planned".into();
            }
            return Ok(report);
        }
        // An on-demand run provisions one worker; it never moves the watermark.
        let advance_ok = kind != CycleKind::OnDemand;
        let (status, message, advance) = match result {
            Err(e) => {
                let msg = e.to_string();
                self.finish(
                    cycle,
                    &mut report,
                    started,
                    CycleStatus::Failed,
                    Some(msg),
                    now,
                    false,
                )?;
                return Err(e);
            }
            Ok(()) => match self.apply_held(cycle, held, now, &mut report).await? {
                Some(guard_msg) => (CycleStatus::Guarded, Some(guard_msg), false),
                None if report.counts.get("failed").copied().unwrap_or(0) > 0 => {
                    (CycleStatus::CompletedWithErrors, None, advance_ok)
                }
                None => (CycleStatus::Completed, None, advance_ok),
            },
        };
        self.finish(cycle, &mut report, started, status, message, now, advance)?;
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        cycle: CycleId,
        report: &mut CycleReport,
        started: Instant,
        status: CycleStatus,
        message: Option<String>,
        now: Timestamp,
        advance: bool,
    ) -> Result<(), EngineError> {
        report.duration_ms = started.elapsed().as_millis() as u64;
        report.status = serde_json::to_value(status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        report.message = message.clone();
        let summary = serde_json::to_value(&*report).unwrap_or(Value::Null);
        self.crash_point("before-finish-cycle");
        let scope = self.settings.watermark_scope.clone();
        self.store.finish_cycle(
            cycle,
            status,
            &summary,
            message.as_deref(),
            self.clock.now(),
            advance.then_some((scope.as_str(), now)),
        )?;
        Ok(())
    }

    fn query(&self, filter: Filter, now: Timestamp) -> PersonQuery {
        PersonQuery {
            filter: Some(filter),
            expand: self.flow.expand(),
            select: if self.settings.select { self.select.clone() } else { vec![] },
            keep: self.keep.clone(),
            // Slices as of the company's today, not SuccessFactors' UTC today.
            as_of: Some(now.to_zoned_datetime(self.settings.time_zone.clone()).date()),
            page_size: self.settings.page_size,
            snapshot: true,
        }
    }

    /// After the reading (`read`, whatever stopped it): the writes already
    /// sent are awaited and recorded, so nothing the target did goes
    /// unrecorded; then the wake-ups of the workers read are cleared.
    async fn settle(
        &mut self,
        pipe: &mut Pipeline,
        cycle: CycleId,
        person: Option<&str>,
        now: Timestamp,
        report: &mut CycleReport,
        read: Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let settled = self.commit_landed(pipe, cycle, now, report, true).await;
        read?;
        settled?;
        if self.mode == Mode::Apply && person.is_none() {
            self.store
                .clear_wakeups(&pipe.seen.iter().map(String::as_str).collect::<Vec<_>>(), now)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn read_and_process(
        &mut self,
        pipe: &mut Pipeline,
        cycle: CycleId,
        kind: CycleKind,
        window: Option<(Timestamp, Timestamp)>,
        person: Option<&str>,
        now: Timestamp,
        report: &mut CycleReport,
        held: &mut Vec<Held>,
    ) -> Result<(), EngineError> {
        // Workers due for a retry or a wake-up are read by id whatever the window.
        let mut extra: Vec<String> = Vec::new();
        if person.is_none() {
            extra.extend(self.store.due_escrows(now, 10_000)?.into_iter().map(|e| e.person_id));
            extra.extend(self.store.due_wakeups(now)?.into_iter().map(|w| w.person_id));
        }
        extra.sort();
        extra.dedup();

        let filters: Vec<Filter> = match (kind, window, person) {
            (_, _, Some(id)) => vec![filter::person(id)],
            (CycleKind::Incremental, Some((from, to)), None) => {
                let delta = filter::delta(from, to);
                let probe = self.query(delta.clone(), now);
                report.requests += 1;
                report.queries.push(probe.relative_url().replacen(
                    "PerPerson?",
                    "PerPerson/$count?",
                    1,
                ));
                if self.sf.count(&probe).await? == 0 { vec![] } else { vec![delta] }
            }
            _ => vec![
                filter::full_sync(ceil_second(now)),
                filter::missing_termination_info(ceil_second(now)),
            ],
        };
        for f in filters {
            let query = self.query(f, now);
            report.queries.push(query.relative_url());
            // The next page is fetched and parsed on another task while this
            // one is processed: reading and writing overlap.
            let importer =
                Importer { flow: Arc::clone(&self.flow), now, tz: self.settings.time_zone.clone() };
            let mut pages = prefetch(Arc::clone(&self.sf), query, importer);
            while let Some(records) = pages.recv().await {
                let records = records?;
                report.requests += 1;
                pipe.seen.extend(records.iter().filter_map(|r| r.pid.clone()));
                self.feed(pipe, cycle, records, now, false, report, held).await?;
            }
        }
        let extra: Vec<String> = extra.into_iter().filter(|id| !pipe.seen.contains(id)).collect();
        for chunk in extra.chunks(50) {
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let query = self.query(Filter::is_in("personIdExternal", ids.iter().copied()), now);
            report.queries.push(query.relative_url());
            let sf = Arc::clone(&self.sf);
            let mut pages = sf.persons(&query)?;
            while let Some(page) = pages.next_page().await? {
                report.requests += 1;
                let records = self.import_page(page.records, now);
                self.feed(pipe, cycle, records, now, false, report, held).await?;
            }
        }
        Ok(())
    }

    fn import_page(&self, records: Vec<Value>, now: Timestamp) -> Vec<Imported> {
        records.into_iter().map(|r| import(&self.flow, r, now, &self.settings.time_zone)).collect()
    }

    /// Put one page of records through its stages; its outcomes are
    /// committed (in one transaction) once all its writes are back. The
    /// target is asked once per page, not once per worker:
    /// 1. per worker: lifecycle, pre-hire handling, source values, scoping;
    /// 2. matching: one [`Target::find_many`] per matching attribute;
    /// 3. the page's `SelectUniqueValue` candidates: one [`Target::taken`]
    ///    per attribute;
    /// 4. mapping and planning in page order, a value picked by an earlier
    ///    worker of the page, or of a page whose writes are still in flight,
    ///    counting as taken, so the picks are exactly those of
    ///    one-worker-at-a-time processing;
    /// 5. the creates and updates, at most [`Settings::concurrency`] in
    ///    flight across pages: stages 2 and 3 of a page run while the
    ///    previous page's writes are still out, so the target never idles
    ///    at a page boundary;
    /// 6. when all of a page's writes are back (and every earlier page is
    ///    committed): one flush of the target, then one store commit.
    #[allow(clippy::too_many_arguments)]
    async fn feed(
        &mut self,
        pipe: &mut Pipeline,
        cycle: CycleId,
        records: Vec<Imported>,
        now: Timestamp,
        prehire_view: bool,
        report: &mut CycleReport,
        held: &mut Vec<Held>,
    ) -> Result<(), EngineError> {
        // A worker read again, or a matching value a write in flight sets or
        // changes, must see those writes: the earlier pages land first.
        if self.depends_on_writes(pipe, &records) {
            self.commit_landed(pipe, cycle, now, report, true).await?;
        }
        self.crash_point("page-read");
        let ids: Vec<&str> = records.iter().filter_map(|r| r.pid.as_deref()).collect();
        let mut states = self.store.load(&ids)?;
        let mut slots = Vec::with_capacity(records.len());
        let mut pids = HashSet::with_capacity(records.len());
        let mut prehires: BTreeMap<jiff::civil::Date, Vec<String>> = BTreeMap::new();
        for record in records {
            let Some(pid) = record.pid.clone() else {
                tracing::warn!(message = "Skipping a PerPerson record without personIdExternal.");
                *report.counts.entry("failed".into()).or_default() += 1;
                continue;
            };
            // A pre-hire's second read is the same worker again.
            if !prehire_view {
                report.workers += 1;
            }
            let state = states.remove(&pid).unwrap_or_default();
            match self.prepare(record, state, now, prehire_view) {
                Prepared::Slot(s) => {
                    pids.insert(pid);
                    slots.push(s);
                }
                // Read again below, as of the start date: not part of this page.
                Prepared::Requery(start, pid) => prehires.entry(start).or_default().push(pid),
            }
        }
        let carried = pipe.picked();
        let this = &*self;
        let unique = this
            .alongside(pipe, now, async {
                this.match_page(&mut slots).await;
                this.page_candidates(&slots, carried).await
            })
            .await;
        self.decide_and_write(pipe, slots, pids, unique, now, held).await;
        self.commit_landed(pipe, cycle, now, report, false).await?;
        // Pre-hires: SuccessFactors returns little before the start date; read
        // them again as of their start date, as Entra does.
        for (start, ids) in prehires {
            for chunk in ids.chunks(50) {
                let f = filter::prehire(
                    &chunk.iter().map(String::as_str).collect::<Vec<_>>(),
                    self.settings.onboarding_prehires,
                );
                let mut query = self.query(f, now);
                query.as_of = Some(start);
                report.queries.push(query.relative_url());
                let sf = Arc::clone(&self.sf);
                let mut pages = sf.persons(&query)?;
                while let Some(page) = pages.next_page().await? {
                    report.requests += 1;
                    let records = self.import_page(page.records, now);
                    Box::pin(self.feed(pipe, cycle, records, now, true, report, held)).await?;
                }
            }
        }
        Ok(())
    }

    /// Whether a page must wait for the writes in flight: it holds a worker
    /// of a page not committed yet, or a matching value that a write in
    /// flight sets or changes (its `find_many` could miss the object being
    /// created and create a second one).
    fn depends_on_writes(&self, pipe: &Pipeline, records: &[Imported]) -> bool {
        if pipe.pages.is_empty() {
            return false;
        }
        if records.iter().any(|r| {
            r.pid.as_ref().is_some_and(|p| pipe.pages.iter().any(|page| page.pids.contains(p)))
        }) {
            return true;
        }
        if pipe.pages.iter().all(|p| p.matching.is_empty()) {
            return false;
        }
        let attributes: Vec<String> =
            self.flow.mapping.matching().iter().map(|m| m.config.target.to_lowercase()).collect();
        records.iter().any(|r| {
            r.matching.iter().zip(&attributes).any(|(value, attribute)| {
                let Ok(Some(v)) = value else { return false };
                let key = (attribute.clone(), v.to_lowercase());
                pipe.pages.iter().any(|p| p.matching.contains(&key))
            })
        })
    }

    /// The matching-attribute values a create or update sets or changes
    /// (attribute and value in lower case).
    fn matching_values(&self, plan: &Plan) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for m in self.flow.mapping.matching() {
            let name = m.config.target.as_str();
            let mut add = |v: &Value| {
                if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                    out.push((name.to_lowercase(), s.to_lowercase()));
                }
            };
            match plan {
                Plan::Create { attributes } => {
                    if let Some(v) = attributes.get(name) {
                        add(v);
                    }
                }
                Plan::Update { changes, .. } => {
                    for c in changes.iter().filter(|c| c.attribute.eq_ignore_ascii_case(name)) {
                        add(&c.old);
                        add(&c.new);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Run `work` while concluding the writes in flight as they come back.
    async fn alongside<F: std::future::Future>(
        &self,
        pipe: &mut Pipeline,
        now: Timestamp,
        work: F,
    ) -> F::Output {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| {
            while let std::task::Poll::Ready(Some(w)) = pipe.writes.poll_next_unpin(cx) {
                self.land(pipe, w, now);
            }
            work.as_mut().poll(cx)
        })
        .await
    }

    /// Conclude a write that came back into its page.
    fn land(&self, pipe: &mut Pipeline, (page, i, r, result): Written, now: Timestamp) {
        let slot = self.conclude(*r, result, now);
        pipe.land(page, i, slot);
    }

    /// Commit, in order, the pages at the head of the pipeline whose writes
    /// are all back; with `all`, wait for every write first.
    async fn commit_landed(
        &mut self,
        pipe: &mut Pipeline,
        cycle: CycleId,
        now: Timestamp,
        report: &mut CycleReport,
        all: bool,
    ) -> Result<(), EngineError> {
        if all {
            while let Some(w) = pipe.writes.next().await {
                self.land(pipe, w, now);
            }
        }
        while let Some(page) = pipe.pop_landed() {
            let mut outcomes = Vec::with_capacity(page.slots.len());
            for slot in page.slots.into_iter().flatten() {
                if let Slot::Done(outcome, action) = slot {
                    *report.counts.entry(action).or_default() += 1;
                    outcomes.push(*outcome);
                }
            }
            self.record(cycle, outcomes, report).await?;
        }
        Ok(())
    }

    /// Stage 1: what needs the store — pre-hire lead time and re-read — on
    /// top of the pure import ([`import`]) done on the read-ahead task.
    fn prepare(
        &self,
        imported: Imported,
        state: WorkerState,
        now: Timestamp,
        prehire_view: bool,
    ) -> Prepared {
        let tz = &self.settings.time_zone;
        let Imported { pid, life, import, source, scope, matching } = imported;
        let pid = pid.unwrap_or_default();
        let mut steps = vec![import];
        let mut wakeups = life.wakeups;
        if let Stage::PreHire { start } = life.stage {
            let lead_start = start
                .checked_sub(jiff::Span::new().days(self.settings.prehire_lead_days))
                .unwrap_or(start);
            let today = now.to_zoned_datetime(tz.clone()).date();
            if lead_start > today && state.account.is_none() {
                if let Ok(at) = lead_start.to_zoned_datetime(tz.clone()) {
                    wakeups.push((at.timestamp(), format!("pre-hire lead time before {start}")));
                }
                let log = log_entry(
                    now,
                    "skip",
                    "skipped",
                    None,
                    steps,
                    vec![],
                    Some(format!("pre-hire starting {start}: provisioned from {lead_start}")),
                );
                return Prepared::Slot(Slot::Done(
                    Box::new(StoreOutcome {
                        person_id: pid,
                        account: StoreChange::Keep,
                        escrow: StoreChange::Clear,
                        wakeups: StoreChange::Set(wakeups),
                        log: Some(log),
                    }),
                    "skip".into(),
                ));
            }
            if !prehire_view {
                return Prepared::Requery(start, pid);
            }
        }
        let (in_scope, scope_step) = scope;
        steps.push(scope_step);
        if let Some(a) = &state.account {
            steps.push(step("match", "success", format!("joined to {}", a.target_id)));
        }
        Prepared::Slot(Slot::Ready(Box::new(Ready {
            pid,
            state,
            source,
            in_scope,
            steps,
            wakeups,
            matching,
            matched: None,
            error: None,
        })))
    }

    /// Stage 2: look the page's unjoined workers up by the matching
    /// attributes in precedence order, one `find_many` per attribute.
    async fn match_page(&self, slots: &mut [Slot]) {
        let mut waiting: Vec<usize> = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Slot::Ready(r) if r.state.account.is_none()))
            .map(|(i, _)| i)
            .collect();
        let (flow, target) = (&self.flow, &self.target);
        // Target id -> the worker of this page it was matched to.
        let mut claimed: HashMap<String, String> = HashMap::new();
        for (k, m) in flow.mapping.matching().into_iter().enumerate() {
            if waiting.is_empty() {
                break;
            }
            if m.expr().is_none() {
                continue;
            }
            let attribute = m.config.target.as_str();
            let mut asked: Vec<(usize, String)> = Vec::new();
            let mut next = Vec::new();
            for &i in &waiting {
                let Some(Slot::Ready(r)) = slots.get_mut(i) else { continue };
                match r.matching.get(k).cloned().unwrap_or(Ok(None)) {
                    Ok(Some(v)) => asked.push((i, v)),
                    Ok(None) => next.push(i),
                    Err(e) => r.error = Some(format!("matching attribute {attribute}: {e}")),
                }
            }
            let mut values: Vec<String> = asked.iter().map(|(_, v)| v.clone()).collect();
            values.sort_unstable();
            values.dedup();
            let found = if values.is_empty() {
                Ok(Default::default())
            } else {
                target.find_many(attribute, &values).await
            };
            for (i, value) in asked {
                let Some(Slot::Ready(r)) = slots.get_mut(i) else { continue };
                let objects = match &found {
                    Ok(f) => f.get(&value).map(Vec::as_slice).unwrap_or_default(),
                    Err(e) => {
                        r.error = Some(e.to_string());
                        continue;
                    }
                };
                match objects {
                    [] => {
                        r.steps.push(step(
                            "match",
                            "success",
                            format!("{attribute} = {value:?}: no object"),
                        ));
                        next.push(i);
                    }
                    [one] => {
                        // An object joins one worker: another worker that
                        // matches it (a matching attribute that is not
                        // unique) fails alone instead of the page's commit.
                        let holder = match claimed.get(&one.id) {
                            Some(pid) => Ok(Some(pid.clone())),
                            None => self
                                .store
                                .account_by_target(&one.id)
                                .map(|a| a.map(|a| a.person_id).filter(|p| *p != r.pid)),
                        };
                        match holder {
                            Ok(None) => {
                                r.steps.push(step(
                                    "match",
                                    "success",
                                    format!("{attribute} = {value:?}: object {}", one.id),
                                ));
                                claimed.insert(one.id.clone(), r.pid.clone());
                                r.matched = Some(one.clone());
                            }
                            Ok(Some(other)) => {
                                r.error = Some(format!(
                                    "{attribute} = {value:?} matches object {}, which is joined to worker {other}",
                                    one.id
                                ))
                            }
                            Err(e) => {
                                r.error = Some(format!(
                                    "{attribute} = {value:?} matches object {}: {e}",
                                    one.id
                                ))
                            }
                        }
                    }
                    many => {
                        r.error = Some(format!(
                            "{attribute} = {value:?} matches {} objects in the target (DuplicateTargetEntries)",
                            many.len()
                        ));
                    }
                }
            }
            next.sort_unstable();
            waiting = next;
        }
    }

    /// Stage 3: the `SelectUniqueValue` candidates every worker of the page
    /// may ask about, checked with one `taken` per attribute. The candidates
    /// are found by evaluating those mappings once with every candidate
    /// answered "taken" (so all are listed). A target that cannot answer
    /// leaves its attribute unasked: stage 4 then asks per candidate, and a
    /// failure there escrows only the worker concerned.
    async fn page_candidates(
        &self,
        slots: &[Slot],
        carried: HashMap<String, HashSet<String>>,
    ) -> PageUnique {
        let mut wanted: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut scratch = SplitMix64(0);
        for slot in slots {
            let Slot::Ready(r) = slot else { continue };
            if r.error.is_some() || !r.in_scope {
                continue;
            }
            let phase = r.phase();
            for m in self.flow.unique_mappings() {
                if phase == Phase::Update && m.config.apply == hrsync_mapping::Apply::OnCreate {
                    continue;
                }
                let Some(e) = m.expr() else { continue };
                let recorder = Recorder::default();
                let mut ctx = EvalContext::new(&*self.clock, &mut scratch, Some(&recorder));
                let _ = hrsync_expr::eval(e, &r.source, &mut ctx);
                wanted.entry(m.config.target.as_str()).or_default().extend(recorder.0.into_inner());
            }
        }
        let mut page = PageUnique { carried, ..PageUnique::default() };
        for (attribute, mut candidates) in wanted {
            candidates.sort_unstable();
            candidates.dedup();
            match self.target.taken(attribute, &candidates).await {
                Ok(taken) => {
                    let answers = page.asked.entry(attribute.to_owned()).or_default();
                    for c in candidates {
                        let t = taken.contains(&c);
                        *answers.entry(c.to_lowercase()).or_default() |= t;
                    }
                }
                Err(e) => {
                    tracing::warn!(message = "Could not check a page's unique-value candidates; checking per worker.", attribute, error = %e)
                }
            }
        }
        page
    }

    /// Stage 4: map and plan one worker (page order). Writes go to stage 5;
    /// everything else is concluded here.
    fn decide(
        &self,
        mut r: Box<Ready>,
        unique: &PageUnique,
        now: Timestamp,
        held: &mut Vec<Held>,
    ) -> Slot {
        if let Some(error) = r.error.take() {
            return self.conclude(*r, Err(error), now);
        }
        let phase = r.phase();
        let mut desired = BTreeMap::new();
        let mut errors = Vec::new();
        // Disjoint borrows: the mappings are read while the random source is
        // advanced and the target is asked about uniqueness.
        let mut random = self.random.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (flow, target, clock, random) = (&self.flow, &self.target, &self.clock, &mut *random);
        // A scoped-out worker's plan needs no mapped value (skip, disable or
        // delete): mapping it would only ask the target about unique values
        // it will never use (and reserve them in the page) or fail it on a
        // required attribute.
        let mappings = if r.in_scope { flow.mapping.mappings() } else { &[] };
        for (i, m) in mappings.iter().enumerate() {
            if phase == Phase::Update && m.config.apply == hrsync_mapping::Apply::OnCreate {
                continue;
            }
            let attribute = m.config.target.as_str();
            // On update, the worker's own value does not make a candidate taken.
            let own = match &r.state.account {
                Some(a) if flow.unique.contains(&i) => {
                    a.exported.get(attribute).and_then(Value::as_str).map(str::to_lowercase)
                }
                _ => None,
            };
            let uniq = PageUniqueness {
                page: unique,
                attribute,
                own,
                fallback: TargetUniqueness { target: &**target, attribute },
            };
            let mut ctx = EvalContext::new(&**clock, random, Some(&uniq));
            let outcome = match m.expr() {
                Some(e) => hrsync_expr::eval(e, &r.source, &mut ctx),
                None => Ok(Outcome::Value(hrsync_expr::Value::Null)),
            };
            match outcome {
                Ok(Outcome::IgnoreFlow) => {}
                Ok(Outcome::Value(v)) => {
                    let mut value = v.to_json();
                    if value.is_null()
                        && phase == Phase::Create
                        && let Some(d) = &m.config.default
                    {
                        value = Value::String(d.clone());
                    }
                    let rule = FlowRule {
                        always: m.config.flow == hrsync_mapping::Flow::Always,
                        on_create_only: m.config.apply == hrsync_mapping::Apply::OnCreate,
                    };
                    desired.insert(m.config.target.clone(), Desired { value, rule });
                }
                Err(e) => errors.push(format!("{attribute}: {e}")),
            }
        }
        if phase == Phase::Create && r.in_scope {
            for m in flow.mapping.mappings().iter().filter(|m| m.config.required) {
                let empty = desired.get(&m.config.target).is_none_or(|d| match &d.value {
                    Value::Null => true,
                    Value::String(s) => s.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    _ => false,
                });
                if empty {
                    errors.push(format!(
                        "{}: required, but the mapping gives no value",
                        m.config.target
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return self.conclude(
                *r,
                Err(format!("mapping failed for {}", errors.join("; "))),
                now,
            );
        }
        let worker = MappedWorker {
            person_id: r.pid.clone(),
            in_scope: r.in_scope,
            scope_detail: String::new(),
            desired,
        };
        let existing = match (&r.state.account, &r.matched) {
            (Some(a), _) => Existing::Joined {
                target_id: &a.target_id,
                exported: &a.exported,
                disabled: a.status != AccountStatus::Active,
            },
            (None, Some(o)) => Existing::Matched { target_id: &o.id, attributes: &o.attributes },
            (None, None) => Existing::Absent,
        };
        let plan = plan::plan(&worker, &existing, self.settings.actions);
        if self.mode == Mode::DryRun {
            let result = self.dry_run(&r.pid, plan, &r.state, &mut r.steps, held);
            return self.conclude(*r, Ok(result), now);
        }
        match plan {
            p @ (Plan::Create { .. } | Plan::Update { .. }) => Slot::Write(r, p),
            p @ (Plan::Disable { .. } | Plan::Delete { .. }) => {
                let result = match r.state.account.clone() {
                    Some(account) => {
                        held.push(Held {
                            person_id: r.pid.clone(),
                            plan: p,
                            account: account.clone(),
                            steps: r.steps.clone(),
                        });
                        Ok(("held".into(), None, Some(account.target_id), vec![]))
                    }
                    None => Err("deprovisioning without a join".into()),
                };
                self.conclude(*r, result, now)
            }
            Plan::Skip { reason, target_id } => {
                r.steps.push(step("export", "skipped", reason));
                self.conclude(*r, Ok(("skip".into(), None, target_id, vec![])), now)
            }
        }
    }

    /// Stages 4 and 5 interleaved: each worker is decided in page order and
    /// its create or update sent at once, at most [`Settings::concurrency`]
    /// in flight (across pages), so the target works while the next workers
    /// are mapped. The page joins the pipeline; its outcomes are concluded
    /// as its writes come back.
    async fn decide_and_write(
        &self,
        pipe: &mut Pipeline,
        slots: Vec<Slot>,
        pids: HashSet<String>,
        unique: PageUnique,
        now: Timestamp,
        held: &mut Vec<Held>,
    ) {
        let limit = self.settings.concurrency.max(1);
        let seq = pipe.first + pipe.pages.len() as u64;
        pipe.pages.push_back(InFlight {
            slots: Vec::with_capacity(slots.len()),
            outstanding: 0,
            pids,
            picked: HashMap::new(),
            matching: HashSet::new(),
        });
        // Pages leave the pipeline only in `commit_landed`: this one stays last.
        let last = pipe.pages.len() - 1;
        for (i, slot) in slots.into_iter().enumerate() {
            let slot = match slot {
                Slot::Ready(r) => self.decide(r, &unique, now, held),
                other => other,
            };
            let Slot::Write(r, plan) = slot else {
                pipe.pages[last].slots.push(Some(slot));
                continue;
            };
            let matching = self.matching_values(&plan);
            let page = &mut pipe.pages[last];
            page.slots.push(None);
            page.outstanding += 1;
            page.matching.extend(matching);
            pipe.writes.push(Box::pin(write(
                Arc::clone(&self.target),
                self.crash.clone(),
                seq,
                i,
                r,
                plan,
                now,
            )));
            // One poll sends the request; completed writes are concluded.
            while let Some(Some(w)) = pipe.writes.next().now_or_never() {
                self.land(pipe, w, now);
            }
            while pipe.writes.len() >= limit {
                if let Some(w) = pipe.writes.next().await {
                    self.land(pipe, w, now);
                }
            }
        }
        pipe.pages[last].picked = unique.picked.into_inner();
    }

    /// The store outcome and log entry of a worker.
    fn conclude(&self, r: Ready, result: Result<Decided, String>, now: Timestamp) -> Slot {
        let Ready { pid, state, mut steps, wakeups, .. } = r;
        match result {
            Ok((action, account, target_id, modified)) => {
                let status = if action == "skip" { "skipped" } else { "success" };
                // A held deprovisioning is logged when it is applied (or guarded).
                let log = (action != "held")
                    .then(|| log_entry(now, &action, status, target_id, steps, modified, None));
                Slot::Done(
                    Box::new(StoreOutcome {
                        person_id: pid,
                        account: account.map_or(StoreChange::Keep, StoreChange::Set),
                        escrow: StoreChange::Clear,
                        wakeups: StoreChange::Set(wakeups),
                        log,
                    }),
                    action,
                )
            }
            Err(error) => {
                let escrow = self.escrow_after(&pid, state.escrow.as_ref(), &error, now);
                tracing::warn!(message = "Worker failed; escrowed for retry.", person = %pid, %error, attempts = escrow.attempts);
                steps.push(step("export", "failure", error.clone()));
                let log = log_entry(
                    now,
                    "none",
                    "failure",
                    state.account.as_ref().map(|a| a.target_id.clone()),
                    steps,
                    vec![],
                    Some(error),
                );
                Slot::Done(
                    Box::new(StoreOutcome {
                        person_id: pid,
                        account: StoreChange::Keep,
                        escrow: StoreChange::Set(escrow),
                        wakeups: StoreChange::Keep,
                        log: Some(log),
                    }),
                    "failed".into(),
                )
            }
        }
    }

    fn escrow_after(
        &self,
        pid: &str,
        previous: Option<&Escrow>,
        error: &str,
        now: Timestamp,
    ) -> Escrow {
        let attempts = previous.map_or(1, |e| e.attempts + 1);
        let p = self.settings.escrow;
        let factor = 1u32.checked_shl(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
        let wait = p.first_retry.saturating_mul(factor).min(p.max_retry);
        let wait = jiff::SignedDuration::try_from(wait).unwrap_or_default();
        Escrow {
            person_id: pid.to_owned(),
            attempts,
            first_failed_at: previous.map_or(now, |e| e.first_failed_at),
            last_failed_at: now,
            next_attempt_at: now.checked_add(wait).unwrap_or(now),
            last_error: error.to_owned(),
            flagged: attempts >= p.flag_after,
        }
    }

    /// What `plan` reports for a decided worker, without touching anything.
    fn dry_run(
        &self,
        pid: &str,
        plan: Plan,
        state: &WorkerState,
        steps: &mut Vec<Step>,
        held: &mut Vec<Held>,
    ) -> (String, Option<Account>, Option<String>, Vec<hrsync_store::AttributeChange>) {
        let action = plan.action().to_owned();
        match plan {
            Plan::Create { attributes } => {
                steps.push(step(
                    "export",
                    "planned",
                    format!("would create with {} attributes", attributes.len()),
                ));
                let modified = attributes
                    .into_iter()
                    .map(|(k, v)| hrsync_store::AttributeChange {
                        attribute: k,
                        old: Value::Null,
                        new: v,
                    })
                    .collect();
                (action, None, None, modified)
            }
            Plan::Update { target_id, changes, join } => {
                steps.push(step(
                    "export",
                    "planned",
                    format!(
                        "would update {} attributes{}",
                        changes.len(),
                        if join { " and join" } else { "" }
                    ),
                ));
                let modified = changes
                    .into_iter()
                    .map(|c| hrsync_store::AttributeChange {
                        attribute: c.attribute,
                        old: c.old,
                        new: c.new,
                    })
                    .collect();
                (action, None, Some(target_id), modified)
            }
            p @ (Plan::Disable { .. } | Plan::Delete { .. }) => {
                if let Some(account) = state.account.clone() {
                    held.push(Held {
                        person_id: pid.to_owned(),
                        plan: p,
                        account: account.clone(),
                        steps: steps.clone(),
                    });
                    return ("held".into(), None, Some(account.target_id), vec![]);
                }
                ("skip".into(), None, None, vec![])
            }
            Plan::Skip { reason, target_id } => {
                steps.push(step("export", "skipped", reason));
                ("skip".into(), None, target_id, vec![])
            }
        }
    }

    /// Apply held disables/deletes unless they exceed the guard; returns the
    /// guard's message when it stopped them.
    async fn apply_held(
        &mut self,
        cycle: CycleId,
        held: Vec<Held>,
        now: Timestamp,
        report: &mut CycleReport,
    ) -> Result<Option<String>, EngineError> {
        report.counts.remove("held");
        if held.is_empty() {
            return Ok(None);
        }
        let managed = self.store.account_counts()?.active.max(1);
        let n = held.len() as u64;
        let share = n as f64 / managed as f64;
        if n > self.settings.guard.max_count || share > self.settings.guard.max_share {
            let msg = format!(
                "accidental-deletion guard: this cycle would disable or delete {n} of {managed} managed accounts ({:.1} %), over the limit ({} accounts or {:.1} %); nothing was disabled or deleted",
                share * 100.0,
                self.settings.guard.max_count,
                self.settings.guard.max_share * 100.0
            );
            tracing::error!(message = "Deletion guard stopped the cycle.", %msg);
            return Ok(Some(msg));
        }
        let mut outcomes = Vec::new();
        if self.mode == Mode::DryRun {
            for h in held {
                let (action, detail) = match &h.plan {
                    Plan::Disable { .. } => ("disable", "would disable"),
                    _ => ("delete", "would delete"),
                };
                let mut steps = h.steps;
                steps.push(step("export", "planned", detail.into()));
                *report.counts.entry(action.to_owned()).or_default() += 1;
                let log = log_entry(
                    now,
                    action,
                    "planned",
                    Some(h.account.target_id.clone()),
                    steps,
                    vec![],
                    None,
                );
                report.details.push(LogEntry { person_id: h.person_id, ..log });
            }
            return Ok(None);
        }
        for h in held {
            let (result, action) = match &h.plan {
                Plan::Disable { target_id } => (self.target.disable(target_id).await, "disable"),
                Plan::Delete { target_id } => (self.target.delete(target_id).await, "delete"),
                _ => continue,
            };
            let mut steps = h.steps;
            let outcome = match result {
                Ok(()) | Err(TargetError::NotFound { .. }) if action == "delete" => {
                    steps.push(step("export", "success", "deleted".into()));
                    StoreOutcome {
                        person_id: h.person_id.clone(),
                        account: StoreChange::Clear,
                        escrow: StoreChange::Clear,
                        wakeups: StoreChange::Clear,
                        log: Some(log_entry(
                            now,
                            action,
                            "success",
                            Some(h.account.target_id.clone()),
                            steps,
                            vec![],
                            None,
                        )),
                    }
                }
                Ok(()) => {
                    steps.push(step("export", "success", "disabled".into()));
                    let mut account = h.account.clone();
                    account.status = AccountStatus::Disabled;
                    account.updated_at = now;
                    StoreOutcome {
                        person_id: h.person_id.clone(),
                        account: StoreChange::Set(account),
                        escrow: StoreChange::Clear,
                        wakeups: StoreChange::Keep,
                        log: Some(log_entry(
                            now,
                            action,
                            "success",
                            Some(h.account.target_id.clone()),
                            steps,
                            vec![],
                            None,
                        )),
                    }
                }
                Err(e) => {
                    let escrow = self.escrow_after(&h.person_id, None, &e.to_string(), now);
                    StoreOutcome {
                        person_id: h.person_id.clone(),
                        account: StoreChange::Keep,
                        escrow: StoreChange::Set(escrow),
                        wakeups: StoreChange::Keep,
                        log: Some(log_entry(
                            now,
                            action,
                            "failure",
                            Some(h.account.target_id.clone()),
                            steps,
                            vec![],
                            Some(e.to_string()),
                        )),
                    }
                }
            };
            let counted = if outcome.escrow == StoreChange::Clear { action } else { "failed" };
            *report.counts.entry(counted.to_owned()).or_default() += 1;
            outcomes.push(outcome);
        }
        self.record(cycle, outcomes, report).await?;
        Ok(None)
    }
}

impl<S: Store, T: Target + 'static> Engine<S, T> {
    /// Commit outcomes (apply mode) and keep their log entries for the report
    /// when detail is on.
    async fn record(
        &mut self,
        cycle: CycleId,
        mut outcomes: Vec<StoreOutcome>,
        report: &mut CycleReport,
    ) -> Result<(), EngineError> {
        if self.detail {
            for o in &outcomes {
                if let Some(log) = &o.log {
                    report.details.push(LogEntry {
                        person_id: o.person_id.clone(),
                        cycle_id: cycle,
                        ..log.clone()
                    });
                }
            }
        }
        if self.mode == Mode::Apply {
            // The target's writes must be durable before the store says
            // they happened.
            self.target.flush().await?;
            forget_unapplied(&mut outcomes, self.target.unapplied());
            self.crash_point("before-commit");
            self.store.commit(cycle, &outcomes)?;
            self.crash_point("after-commit");
        }
        if let Some(p) = &self.progress {
            p(report);
        }
        Ok(())
    }
}

/// A value the target accepted but has not applied (see
/// [`Target::unapplied`]) is recorded as not exported: the next cycle sees
/// it differ from the mapped value and sends it again.
fn forget_unapplied(outcomes: &mut [StoreOutcome], unapplied: Vec<(String, String)>) {
    if unapplied.is_empty() {
        return;
    }
    let mut by_object: HashMap<String, Vec<String>> = HashMap::new();
    for (id, attribute) in unapplied {
        by_object.entry(id.to_lowercase()).or_default().push(attribute);
    }
    for o in outcomes {
        let StoreChange::Set(account) = &mut o.account else { continue };
        let Some(attributes) = by_object.get(&account.target_id.to_lowercase()) else { continue };
        for (name, value) in account.exported.iter_mut() {
            if attributes.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                tracing::debug!(person = %o.person_id, attribute = %name, "not applied by the target yet; sent again next cycle");
                *value = Value::Null;
            }
        }
    }
}

/// Pages of a query, read ahead by one on their own task, which also
/// imports each record ([`import`]: pure, so it runs beside the processing
/// of the previous page on the other core). Dropping the receiver stops the
/// reader.
fn prefetch(
    sf: Arc<SfClient>,
    query: PersonQuery,
    importer: Importer,
) -> tokio::sync::mpsc::Receiver<Result<Vec<Imported>, SourceError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let mut pages = match sf.persons(&query) {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        loop {
            let next = pages.next_page().await.transpose();
            let last = !matches!(next, Some(Ok(_)));
            match next {
                Some(item) => {
                    let item = item.map(|page| {
                        page.records
                            .into_iter()
                            .map(|r| import(&importer.flow, r, importer.now, &importer.tz))
                            .collect()
                    });
                    if tx.send(item).await.is_err() || last {
                        return;
                    }
                }
                None => return,
            }
        }
    });
    rx
}

/// What the read-ahead task needs to import records.
struct Importer {
    flow: Arc<Flow>,
    now: Timestamp,
    tz: TimeZone,
}

/// A record as read: its lifecycle, source values and scoping. The record
/// itself is dropped once its values are extracted.
struct Imported {
    pid: Option<String>,
    life: lifecycle::Lifecycle,
    /// The `import` step of the provisioning log.
    import: Step,
    source: hrsync_mapping::SourceRecord,
    /// In scope, and the `scope` step.
    scope: (bool, Step),
    /// Its value of each matching attribute, in precedence order
    /// ([`Matching`]).
    matching: Matching,
}

/// A worker's value of each matching attribute, in precedence order (`None`:
/// no value, the next attribute is tried; `Err`: the expression failed).
/// Evaluated once, at import: the page's `find_many` and the check against
/// the writes in flight both read it.
type Matching = Vec<Result<Option<String>, String>>;

/// Normalize, decide the lifecycle, extract the mapped source values and
/// evaluate the scoping filter: everything about a record that needs
/// neither the store nor the target.
fn import(flow: &Flow, mut record: Value, now: Timestamp, tz: &TimeZone) -> Imported {
    let pid = person_id(&record).map(str::to_owned);
    let notes = lifecycle::normalize(&mut record, now, tz);
    let life = lifecycle::decide(&record, now, tz);
    let import = step("import", "success", format!("stage {:?}{}", life.stage, notes_text(&notes)));
    let source = flow.source.extract(&record);
    let scope = match &flow.scope {
        Some(scope) => {
            let r = scope.evaluate(&source);
            (
                r.in_scope,
                step("scope", if r.in_scope { "success" } else { "skipped" }, format!("{r:?}")),
            )
        }
        None => (true, step("scope", "success", "no scoping filter".into())),
    };
    // As of the cycle's start, like the rest of the import; a matching
    // value drawn at random would never match anything anyway.
    let (clock, mut random) =
        (hrsync_expr::FixedClock(now), SplitMix64(now.as_nanosecond() as u64));
    let matching = flow
        .mapping
        .matching()
        .into_iter()
        .map(|m| match m.expr() {
            Some(expr) => {
                matching_value(expr, &source, &clock, &mut random).map_err(|e| e.to_string())
            }
            None => Ok(None),
        })
        .collect();
    Imported { pid, life, import, source, scope, matching }
}

/// A write that came back: its page (sequence number), its place in the
/// page, the worker and the outcome.
type Written = (u64, usize, Box<Ready>, Result<Decided, String>);

type WriteFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Written> + Send>>;

/// Pages not committed yet, oldest first, and their writes in flight. A
/// page is committed once all its writes are back and every older page is
/// committed, so the store never records a write that has not happened and
/// a crash loses at most uncommitted pages (whose writes the next cycle
/// finds by the matching attributes).
#[derive(Default)]
struct Pipeline {
    pages: std::collections::VecDeque<InFlight>,
    /// The sequence number of `pages[0]`.
    first: u64,
    writes: FuturesUnordered<WriteFuture>,
    /// Every worker read by the cycle's main queries (not the retries).
    seen: HashSet<String>,
}

/// A page in the pipeline, and what a later page must not assume before
/// its writes are back.
struct InFlight {
    /// Page order; `None` while the worker's write is out.
    slots: Vec<Option<Slot>>,
    outstanding: usize,
    pids: HashSet<String>,
    /// Attribute -> `SelectUniqueValue` values its workers picked (lower case).
    picked: HashMap<String, HashSet<String>>,
    /// (attribute, value) in lower case: matching values its writes set or change.
    matching: HashSet<(String, String)>,
}

impl Pipeline {
    fn land(&mut self, page: u64, i: usize, slot: Slot) {
        let Some(p) = page.checked_sub(self.first).and_then(|k| self.pages.get_mut(k as usize))
        else {
            return;
        };
        if let Some(place) = p.slots.get_mut(i) {
            *place = Some(slot);
            p.outstanding = p.outstanding.saturating_sub(1);
        }
    }

    /// The oldest page, when all its writes are back.
    fn pop_landed(&mut self) -> Option<InFlight> {
        if self.pages.front()?.outstanding > 0 {
            return None;
        }
        self.first += 1;
        self.pages.pop_front()
    }

    /// The values picked by the pages not committed yet: the next page's
    /// uniqueness answers may predate their writes.
    fn picked(&self) -> HashMap<String, HashSet<String>> {
        let mut out: HashMap<String, HashSet<String>> = HashMap::new();
        for p in &self.pages {
            for (attribute, values) in &p.picked {
                out.entry(attribute.clone()).or_default().extend(values.iter().cloned());
            }
        }
        out
    }
}

/// Apply one create or update to the target (stage 5). Owns what it needs:
/// a write may still be out when its page's engine call has returned.
async fn write<T: Target + ?Sized>(
    target: Arc<T>,
    crash: Option<Arc<dyn Fn(&'static str) + Send + Sync>>,
    page: u64,
    i: usize,
    mut r: Box<Ready>,
    plan: Plan,
    now: Timestamp,
) -> Written {
    let crash_point = |name| {
        if let Some(f) = &crash {
            f(name);
        }
    };
    let result = async {
        let pid = r.pid.as_str();
        let mut exported = r.state.account.as_ref().map(|a| a.exported.clone()).unwrap_or_default();
        match plan {
            Plan::Create { attributes } => {
                let obj = target.create(&attributes).await.map_err(|e| e.to_string())?;
                crash_point("after-create");
                r.steps.push(step("export", "success", format!("created {}", obj.id)));
                let modified = attributes
                    .iter()
                    .map(|(k, v)| hrsync_store::AttributeChange {
                        attribute: k.clone(),
                        old: Value::Null,
                        new: v.clone(),
                    })
                    .collect();
                exported.extend(attributes);
                let account = Account {
                    person_id: pid.to_owned(),
                    target_id: obj.id.clone(),
                    status: AccountStatus::Active,
                    exported,
                    created_at: now,
                    updated_at: now,
                };
                Ok(("create".into(), Some(account), Some(obj.id), modified))
            }
            Plan::Update { target_id, changes, join } => {
                if !changes.is_empty() {
                    let updates: Vec<AttributeUpdate> = changes
                        .iter()
                        .map(|c| AttributeUpdate {
                            name: c.attribute.clone(),
                            value: c.new.clone(),
                        })
                        .collect();
                    target.update(&target_id, &updates).await.map_err(|e| e.to_string())?;
                    crash_point("after-update");
                }
                r.steps.push(step(
                    "export",
                    "success",
                    format!(
                        "updated {} attributes{}",
                        changes.len(),
                        if join { ", joined" } else { "" }
                    ),
                ));
                if join && let Some(m) = &r.matched {
                    for (k, v) in &m.attributes {
                        exported.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                let modified = changes
                    .into_iter()
                    .map(|c| {
                        exported.insert(c.attribute.clone(), c.new.clone());
                        hrsync_store::AttributeChange {
                            attribute: c.attribute,
                            old: c.old,
                            new: c.new,
                        }
                    })
                    .collect();
                let (created_at, status) = r
                    .state
                    .account
                    .as_ref()
                    .map_or((now, AccountStatus::Active), |a| (a.created_at, a.status));
                let account = Account {
                    person_id: pid.to_owned(),
                    target_id: target_id.clone(),
                    status,
                    exported,
                    created_at,
                    updated_at: now,
                };
                Ok(("update".into(), Some(account), Some(target_id), modified))
            }
            _ => Err("internal: only creates and updates are written in stage 5".into()),
        }
    }
    .await;
    (page, i, r, result)
}

/// A decided worker: action, new account state, target id, modified attributes.
type Decided = (String, Option<Account>, Option<String>, Vec<hrsync_store::AttributeChange>);

/// A worker on its way through a page's stages.
enum Slot {
    /// Concluded: the store outcome and the action counted in the report.
    Done(Box<StoreOutcome>, String),
    /// Waiting to be matched and mapped.
    Ready(Box<Ready>),
    /// Decided; the create or update is written in stage 5.
    Write(Box<Ready>, Plan),
}

enum Prepared {
    Slot(Slot),
    /// A pre-hire to read again as of its start date.
    Requery(jiff::civil::Date, String),
}

struct Ready {
    pid: String,
    state: WorkerState,
    source: hrsync_mapping::SourceRecord,
    in_scope: bool,
    steps: Vec<Step>,
    wakeups: Vec<(Timestamp, String)>,
    matching: Matching,
    /// Found by a matching attribute (no join yet).
    matched: Option<TargetObject>,
    /// Matching failed: the worker is escrowed with this error.
    error: Option<String>,
}

impl Ready {
    fn phase(&self) -> Phase {
        if self.state.account.is_some() || self.matched.is_some() {
            Phase::Update
        } else {
            Phase::Create
        }
    }
}

/// A worker's value of a matching attribute; `None` when it has none (the
/// next matching attribute is tried).
fn matching_value(
    expr: &hrsync_expr::Expr,
    source: &hrsync_mapping::SourceRecord,
    clock: &dyn Clock,
    random: &mut SplitMix64,
) -> Result<Option<String>, hrsync_expr::EvalError> {
    let mut ctx = EvalContext::new(clock, random, None);
    Ok(match hrsync_expr::eval(expr, source, &mut ctx)? {
        Outcome::Value(v) => {
            v.as_str_lossy().filter(|s| !s.is_empty()).map(std::borrow::Cow::into_owned)
        }
        Outcome::IgnoreFlow => None,
    })
}

fn uses_unique(m: &hrsync_mapping::CompiledAttributeMapping) -> bool {
    m.expr().is_some_and(|e| e.source().to_ascii_lowercase().contains("selectuniquevalue"))
}

/// Uniqueness answers for one page (stage 3) and the values its workers
/// picked so far (stage 4). Keys are lower case: a case variant of a taken
/// or picked value counts as taken, as Active Directory compares them.
#[derive(Default)]
struct PageUnique {
    /// Attribute -> candidate -> taken in the target.
    asked: HashMap<String, HashMap<String, bool>>,
    /// Attribute -> values picked by earlier workers of the page.
    picked: RefCell<HashMap<String, HashSet<String>>>,
    /// Attribute -> values picked by the pages whose writes were still in
    /// flight when this page was asked about (the answers may predate them).
    carried: HashMap<String, HashSet<String>>,
}

/// Stage 3's listener: answers "taken" to every candidate so that
/// `SelectUniqueValue` names them all.
#[derive(Default)]
struct Recorder(RefCell<Vec<String>>);

impl Uniqueness for Recorder {
    fn is_taken(&self, candidate: &str) -> Result<bool, String> {
        self.0.borrow_mut().push(candidate.to_owned());
        Ok(true)
    }
}

/// Stage 4's uniqueness: the picks of the page and of the pages in flight,
/// then the page's answers, then
/// (a candidate stage 3 did not see, e.g. one with `RandomString`) the
/// target itself. A candidate answered "free" is picked: `SelectUniqueValue`
/// returns the first free candidate.
struct PageUniqueness<'a> {
    page: &'a PageUnique,
    attribute: &'a str,
    /// The worker's own current value (lower case), never taken for itself.
    own: Option<String>,
    fallback: TargetUniqueness<'a>,
}

impl Uniqueness for PageUniqueness<'_> {
    fn is_taken(&self, candidate: &str) -> Result<bool, String> {
        let key = candidate.to_lowercase();
        if self.own.as_deref() == Some(key.as_str()) {
            return Ok(false);
        }
        let picked = |p: &HashMap<String, HashSet<String>>| {
            p.get(self.attribute).is_some_and(|p| p.contains(&key))
        };
        if picked(&self.page.picked.borrow()) || picked(&self.page.carried) {
            return Ok(true);
        }
        let taken = match self.page.asked.get(self.attribute).and_then(|a| a.get(&key)) {
            Some(t) => *t,
            None => self.fallback.is_taken(candidate)?,
        };
        if !taken {
            self.page.picked.borrow_mut().entry(self.attribute.to_owned()).or_default().insert(key);
        }
        Ok(taken)
    }
}

/// SuccessFactors filter literals carry whole seconds (as Entra sends them):
/// windows are widened to whole seconds so a change stamped in the cycle's
/// last second is not left for the next cycle. Overlap is harmless: applying
/// a worker twice changes nothing the second time.
fn floor_second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

fn ceil_second(t: Timestamp) -> Timestamp {
    let f = floor_second(t);
    if f == t { t } else { f.checked_add(jiff::SignedDuration::from_secs(1)).unwrap_or(t) }
}

fn person_id(record: &Value) -> Option<&str> {
    record.get("personIdExternal").and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn step(name: &str, status: &str, detail: String) -> Step {
    Step { name: name.into(), status: status.into(), detail }
}

fn notes_text(notes: &[lifecycle::Note]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    format!("; {}", notes.iter().map(|n| n.0.as_str()).collect::<Vec<_>>().join("; "))
}

fn log_entry(
    at: Timestamp,
    action: &str,
    status: &str,
    target_id: Option<String>,
    steps: Vec<Step>,
    modified: Vec<hrsync_store::AttributeChange>,
    error: Option<String>,
) -> LogEntry {
    LogEntry {
        id: 0,
        cycle_id: 0,
        person_id: String::new(),
        at,
        action: action.into(),
        status: status.into(),
        target_id,
        steps,
        modified,
        error,
    }
}
