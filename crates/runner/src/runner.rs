//! The runner task and its handle. One task owns every flow's driver; all
//! else talks to it through [`RunnerHandle`], whose requests it takes one at
//! a time from a channel (the event loop accepts an enum of possible
//! events). A job (cycle, plan, on-demand) moves its flow's driver into the
//! job's future and gives it back when it ends, so a flow runs one job at a
//! time by construction and the loop keeps answering while jobs run.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use hrsync_engine::cycle::CycleReport;
use hrsync_store::CycleKind;
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::driver::{DriverError, FlowDriver, summary};
use crate::schedule::{Schedule, until_next};

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("no flow named `{0}`")]
    UnknownFlow(String),
    #[error("two flows are named `{0}`")]
    DuplicateFlow(String),
    #[error("the runner is stopping; no new job starts")]
    Stopping,
    #[error("the runner has stopped")]
    Gone,
    /// A job of the flow is running; what was asked needs the flow idle.
    #[error("flow `{0}` is running a job; try again when it is idle")]
    Busy(String),
    /// The job was running when a stop's deadline passed and was dropped;
    /// what it had not committed is redone by the flow's next cycle.
    #[error("the {job} of flow `{flow}` was interrupted by a stop")]
    Interrupted { flow: String, job: Job },
    /// The engine's own error, message and sources untouched.
    #[error(transparent)]
    Driver(DriverError),
}

/// What a flow is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Cycle(CycleKind),
    Plan { full: bool, person: Option<String> },
    OnDemand { person: String },
}

impl Job {
    fn is_cycle(&self) -> bool {
        matches!(self, Job::Cycle(_))
    }
}

impl fmt::Display for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Job::Cycle(CycleKind::Full) => f.write_str("full cycle"),
            Job::Cycle(CycleKind::Incremental) => f.write_str("incremental cycle"),
            Job::Cycle(CycleKind::OnDemand) => f.write_str("on-demand cycle"),
            Job::Plan { full, person: None } => {
                write!(f, "{} plan", if *full { "full" } else { "incremental" })
            }
            Job::Plan { person: Some(p), .. } => write!(f, "plan for {p}"),
            Job::OnDemand { person } => write!(f, "on-demand provisioning of {person}"),
        }
    }
}

/// A flow as the runner is given it.
pub struct FlowSpec {
    name: String,
    driver: Box<dyn FlowDriver>,
    schedule: Option<Schedule>,
}

impl FlowSpec {
    /// A flow that runs only what it is asked to.
    pub fn new(name: impl Into<String>, driver: impl FlowDriver + 'static) -> Self {
        FlowSpec { name: name.into(), driver: Box::new(driver), schedule: None }
    }

    /// Also runs incremental cycles on `schedule`, the first one at once.
    pub fn scheduled(self, schedule: Schedule) -> Self {
        FlowSpec { schedule: Some(schedule), ..self }
    }
}

/// The runner's state as [`RunnerHandle::status`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// A stop was requested: no new job starts.
    pub stopping: bool,
    pub flows: Vec<FlowStatus>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowStatus {
    pub name: String,
    /// Scheduled cycles are held (asked-for jobs still run).
    pub paused: bool,
    /// The job in flight and how long it has run.
    pub running: Option<(Job, Duration)>,
    /// Jobs asked for and waiting for the one in flight.
    pub queued: usize,
    /// When the next scheduled cycle is due, from now (zero: as soon as the
    /// flow is free); `None` without a schedule or once its limit is run.
    pub next_run_in: Option<Duration>,
    /// Scheduled cycles run so far.
    pub scheduled_cycles: u64,
}

/// How the runner ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Stopped {
    /// A stop was asked for and nothing was cut: no job was in flight, or
    /// every job in flight finished before the deadline.
    Requested,
    /// A stop's deadline passed with jobs in flight; they were dropped at
    /// their next `.await` (safe by the crash model: the next cycle redoes
    /// what was not committed and marks the cycle row aborted).
    Interrupted { by: Interrupt, jobs: Vec<(String, Job)> },
    /// Every handle was dropped, the jobs asked for are done, and no
    /// scheduled cycle can run any more (none is scheduled, or every
    /// scheduled flow is paused).
    HandlesDropped,
    /// Every scheduled flow ran its cycle limit (and the jobs asked for are
    /// done).
    ScheduleDone,
}

/// What cut the jobs in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The deadline of the first stop request passed.
    Deadline(Duration),
    /// A later stop request asked for an earlier end (a second signal).
    Request,
}

type Reply = oneshot::Sender<Result<CycleReport, RunnerError>>;

enum Request {
    Job { flow: String, job: Job, reply: Reply },
    Pause { flow: Option<String>, paused: bool, reply: oneshot::Sender<Result<(), RunnerError>> },
    Stop { deadline: Duration, reply: Option<oneshot::Sender<Stopped>> },
    Status { reply: oneshot::Sender<Status> },
    DropEscrow { flow: String, person: String, reply: oneshot::Sender<Result<bool, RunnerError>> },
}

/// How callers reach the runner; cheap to clone. When every handle is
/// dropped, a runner without a schedule finishes the jobs asked for and
/// returns; scheduled flows go on (only a stop or their limit ends them).
#[derive(Debug, Clone)]
pub struct RunnerHandle {
    tx: mpsc::UnboundedSender<Request>,
}

impl RunnerHandle {
    /// Run one cycle of `flow` now (after the job in flight, if any).
    pub async fn run_cycle(&self, flow: &str, kind: CycleKind) -> Result<CycleReport, RunnerError> {
        self.job(flow, Job::Cycle(kind)).await
    }

    /// A dry run of `flow` (of one worker with `person`).
    pub async fn plan(
        &self,
        flow: &str,
        full: bool,
        person: Option<&str>,
    ) -> Result<CycleReport, RunnerError> {
        self.job(flow, Job::Plan { full, person: person.map(str::to_owned) }).await
    }

    /// Provision one worker of `flow` now.
    pub async fn on_demand(&self, flow: &str, person: &str) -> Result<CycleReport, RunnerError> {
        self.job(flow, Job::OnDemand { person: person.to_owned() }).await
    }

    pub async fn job(&self, flow: &str, job: Job) -> Result<CycleReport, RunnerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Job { flow: flow.to_owned(), job, reply })?;
        rx.await.map_err(|_| RunnerError::Gone)?
    }

    /// Hold the scheduled cycles of `flow` (every flow with `None`); the
    /// job in flight finishes, asked-for jobs still run.
    pub async fn pause(&self, flow: Option<&str>) -> Result<(), RunnerError> {
        self.set_paused(flow, true).await
    }

    /// Scheduled cycles again; one that fell due meanwhile runs at once.
    pub async fn resume(&self, flow: Option<&str>) -> Result<(), RunnerError> {
        self.set_paused(flow, false).await
    }

    async fn set_paused(&self, flow: Option<&str>, paused: bool) -> Result<(), RunnerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Pause { flow: flow.map(str::to_owned), paused, reply })?;
        rx.await.map_err(|_| RunnerError::Gone)?
    }

    /// Stop: no new job starts, jobs waiting are refused, the jobs in flight
    /// get `deadline` to finish and are then dropped. Resolves when the
    /// runner has ended. A later stop with an earlier deadline shortens it.
    pub async fn stop(&self, deadline: Duration) -> Result<Stopped, RunnerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Stop { deadline, reply: Some(reply) })?;
        rx.await.map_err(|_| RunnerError::Gone)
    }

    /// [`stop`](Self::stop) without waiting for the end (signal handlers).
    pub fn request_stop(&self, deadline: Duration) -> Result<(), RunnerError> {
        self.send(Request::Stop { deadline, reply: None })
    }

    /// Remove `person`'s escrow in `flow` (whether there was one); refused
    /// with [`RunnerError::Busy`] while a job of the flow runs, so it never
    /// races a cycle that is retrying the worker.
    pub async fn drop_escrow(&self, flow: &str, person: &str) -> Result<bool, RunnerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::DropEscrow { flow: flow.to_owned(), person: person.to_owned(), reply })?;
        rx.await.map_err(|_| RunnerError::Gone)?
    }

    pub async fn status(&self) -> Result<Status, RunnerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Status { reply })?;
        rx.await.map_err(|_| RunnerError::Gone)
    }

    fn send(&self, request: Request) -> Result<(), RunnerError> {
        self.tx.send(request).map_err(|_| RunnerError::Gone)
    }
}

/// Run one job on a flow and return its report: a runner with that flow
/// alone, for one-shot commands (`hrsync sync`, `plan`, `on-demand`).
pub async fn run_once(
    flow: &str,
    driver: impl FlowDriver + 'static,
    job: Job,
) -> Result<CycleReport, RunnerError> {
    let (handle, runner) = Runner::new(vec![FlowSpec::new(flow, driver)])?;
    let (report, _) = tokio::join!(
        async move {
            // Dropping the only handle afterwards lets the runner return.
            handle.job(flow, job).await
        },
        runner.run()
    );
    report
}

/// The runner task: drive it with [`Runner::run`].
pub struct Runner {
    flows: Vec<Slot>,
    rx: mpsc::UnboundedReceiver<Request>,
    /// Some handle is still alive.
    open: bool,
    stop: Option<StopState>,
}

struct StopState {
    at: Instant,
    by: Interrupt,
    replies: Vec<oneshot::Sender<Stopped>>,
}

struct Slot {
    name: String,
    /// `None` while a job holds it.
    driver: Option<Box<dyn FlowDriver>>,
    schedule: Option<Schedule>,
    /// When the next scheduled cycle is due; `None` without a schedule or
    /// once its limit is run.
    next_run: Option<Instant>,
    scheduled_cycles: u64,
    paused: bool,
    queue: VecDeque<(Job, Reply)>,
    running: Option<Running>,
    /// Wall-clock start of the last cycle (the time it read due wake-ups).
    last_cycle_start: Option<Timestamp>,
}

struct Running {
    job: Job,
    scheduled: bool,
    since: Instant,
    started: Timestamp,
    reply: Option<Reply>,
}

struct Finished {
    flow: usize,
    driver: Box<dyn FlowDriver>,
    result: Result<CycleReport, DriverError>,
}

type JobFuture = Pin<Box<dyn Future<Output = Finished>>>;

impl Runner {
    /// The runner over `flows` (names unique) and the first handle to it.
    pub fn new(flows: Vec<FlowSpec>) -> Result<(RunnerHandle, Runner), RunnerError> {
        let now = Instant::now();
        let mut slots: Vec<Slot> = Vec::with_capacity(flows.len());
        for f in flows {
            if slots.iter().any(|s| s.name == f.name) {
                return Err(RunnerError::DuplicateFlow(f.name));
            }
            slots.push(Slot {
                next_run: f.schedule.filter(|s| s.limit != Some(0)).map(|_| now),
                name: f.name,
                driver: Some(f.driver),
                schedule: f.schedule,
                scheduled_cycles: 0,
                paused: false,
                queue: VecDeque::new(),
                running: None,
                last_cycle_start: None,
            });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        Ok((RunnerHandle { tx }, Runner { flows: slots, rx, open: true, stop: None }))
    }

    /// Serve requests and run the schedule until stopped (see [`Stopped`]).
    pub async fn run(mut self) -> Stopped {
        let mut jobs: FuturesUnordered<JobFuture> = FuturesUnordered::new();
        loop {
            if let Some(stop) = &self.stop
                && !jobs.is_empty()
                && Instant::now() >= stop.at
            {
                // Dropping the futures cuts each job at its current `.await`.
                drop(std::mem::take(&mut jobs));
                let by = stop.by;
                let cut = self.interrupt();
                return self.end(Stopped::Interrupted { by, jobs: cut });
            }
            self.start_due(&mut jobs);
            if jobs.is_empty() {
                if self.stop.is_some() {
                    return self.end(Stopped::Requested);
                }
                let idle = self.queues_empty() && !self.schedule_live();
                if idle && self.flows.iter().any(|s| s.schedule.is_some()) {
                    return self.end(Stopped::ScheduleDone);
                }
                if idle && !self.open {
                    return self.end(Stopped::HandlesDropped);
                }
            }
            let timer = self.next_timer(!jobs.is_empty());
            if jobs.is_empty() && !self.open && timer.is_none() {
                // Nothing can happen any more: no handle to resume a paused
                // flow or to stop.
                return self.end(Stopped::HandlesDropped);
            }
            tokio::select! {
                biased;
                Some(done) = jobs.next(), if !jobs.is_empty() => self.finished(done),
                request = self.rx.recv(), if self.open => match request {
                    Some(r) => self.request(r),
                    None => self.open = false,
                },
                () = tokio::time::sleep_until(timer.unwrap_or_else(Instant::now)), if timer.is_some() => {}
            }
        }
    }

    /// Starts what each free flow has to do: a job asked for first, else a
    /// scheduled cycle that is due.
    fn start_due(&mut self, jobs: &mut FuturesUnordered<JobFuture>) {
        let now = Instant::now();
        let scheduling = self.stop.is_none();
        for (i, slot) in self.flows.iter_mut().enumerate() {
            if slot.running.is_some() {
                continue;
            }
            let (job, scheduled, reply) = if let Some((job, reply)) = slot.queue.pop_front() {
                (job, false, Some(reply))
            } else if scheduling && !slot.paused && slot.next_run.is_some_and(|at| at <= now) {
                (Job::Cycle(CycleKind::Incremental), true, None)
            } else {
                continue;
            };
            let Some(driver) = slot.driver.take() else { continue };
            tracing::debug!(flow = %slot.name, job = %job, scheduled, "Job started.");
            if scheduled {
                // Provisional, for status: the cycle's end sets the real one.
                slot.next_run = slot.schedule.map(|s| now + s.interval);
            }
            slot.running = Some(Running {
                job: job.clone(),
                scheduled,
                since: now,
                started: Timestamp::now(),
                reply,
            });
            jobs.push(start(i, driver, job));
        }
    }

    fn finished(&mut self, done: Finished) {
        let now = Instant::now();
        let slot = &mut self.flows[done.flow];
        let Some(running) = slot.running.take() else { return };
        slot.driver = Some(done.driver);
        log_finished(&slot.name, &running, &done.result);
        crate::metric::record_job(&slot.name, &running.job, &done.result);
        if running.job.is_cycle() {
            slot.last_cycle_start = Some(running.started);
        }
        if running.scheduled {
            slot.scheduled_cycles += 1;
        }
        slot.reschedule(&running.job, done.result.is_ok(), now);
        if let Some(reply) = running.reply {
            // The caller may have gone; the job is done either way.
            let _ = reply.send(done.result.map_err(RunnerError::Driver));
        }
    }

    fn request(&mut self, request: Request) {
        match request {
            Request::Job { flow, job, reply } => {
                if self.stop.is_some() {
                    let _ = reply.send(Err(RunnerError::Stopping));
                    return;
                }
                match self.flows.iter_mut().find(|s| s.name == flow) {
                    Some(slot) => slot.queue.push_back((job, reply)),
                    None => {
                        let _ = reply.send(Err(RunnerError::UnknownFlow(flow)));
                    }
                }
            }
            Request::Pause { flow, paused, reply } => {
                let mut found = false;
                for slot in &mut self.flows {
                    if flow.as_deref().is_none_or(|f| f == slot.name) {
                        slot.paused = paused;
                        found = true;
                        tracing::info!(flow = %slot.name, "{}", if paused { "Paused." } else { "Resumed." });
                    }
                }
                let _ = reply.send(match flow {
                    Some(f) if !found => Err(RunnerError::UnknownFlow(f)),
                    _ => Ok(()),
                });
            }
            Request::DropEscrow { flow, person, reply } => {
                let result = match self.flows.iter_mut().find(|s| s.name == flow) {
                    _ if self.stop.is_some() => Err(RunnerError::Stopping),
                    None => Err(RunnerError::UnknownFlow(flow.clone())),
                    Some(slot) => match &mut slot.driver {
                        Some(driver) if slot.queue.is_empty() => {
                            driver.drop_escrow(&person).map_err(RunnerError::Driver)
                        }
                        _ => Err(RunnerError::Busy(flow.clone())),
                    },
                };
                if matches!(result, Ok(true)) {
                    tracing::info!(flow = %shown(&flow), person = %shown(&person), "Escrow dropped.");
                }
                let _ = reply.send(result);
            }
            Request::Stop { deadline, reply } => self.stop(deadline, reply),
            Request::Status { reply } => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn stop(&mut self, deadline: Duration, reply: Option<oneshot::Sender<Stopped>>) {
        let now = Instant::now();
        let at = now.checked_add(deadline).unwrap_or_else(far_future);
        match &mut self.stop {
            Some(stop) => {
                if at < stop.at {
                    stop.at = at;
                    stop.by = Interrupt::Request;
                }
                stop.replies.extend(reply);
            }
            None => {
                let running: Vec<String> = self
                    .flows
                    .iter()
                    .filter_map(|s| s.running.as_ref().map(|r| format!("{} of {}", r.job, s.name)))
                    .collect();
                if !running.is_empty() {
                    tracing::info!(
                        in_flight = %running.join(", "),
                        deadline = ?deadline,
                        "Stopping: the jobs in flight get the deadline to finish."
                    );
                }
                for slot in &mut self.flows {
                    for (_, reply) in slot.queue.drain(..) {
                        let _ = reply.send(Err(RunnerError::Stopping));
                    }
                }
                self.stop = Some(StopState {
                    at,
                    by: Interrupt::Deadline(deadline),
                    replies: reply.into_iter().collect(),
                });
            }
        }
    }

    fn status(&self) -> Status {
        let now = Instant::now();
        Status {
            stopping: self.stop.is_some(),
            flows: self
                .flows
                .iter()
                .map(|s| FlowStatus {
                    name: s.name.clone(),
                    paused: s.paused,
                    running: s.running.as_ref().map(|r| (r.job.clone(), now - r.since)),
                    queued: s.queue.len(),
                    next_run_in: s.next_run.map(|at| at.saturating_duration_since(now)),
                    scheduled_cycles: s.scheduled_cycles,
                })
                .collect(),
        }
    }

    /// The jobs in flight are gone: their callers are told, and the log
    /// says what was cut.
    fn interrupt(&mut self) -> Vec<(String, Job)> {
        let mut cut = Vec::new();
        for slot in &mut self.flows {
            if let Some(running) = slot.running.take() {
                tracing::warn!(
                    flow = %slot.name,
                    job = %shown(&running.job),
                    after = ?running.since.elapsed(),
                    "Interrupted; what it had not committed is redone by the next cycle."
                );
                if let Some(reply) = running.reply {
                    let _ = reply.send(Err(RunnerError::Interrupted {
                        flow: slot.name.clone(),
                        job: running.job.clone(),
                    }));
                }
                cut.push((slot.name.clone(), running.job));
            }
        }
        cut
    }

    fn end(mut self, stopped: Stopped) -> Stopped {
        for slot in &mut self.flows {
            for (_, reply) in slot.queue.drain(..) {
                let _ = reply.send(Err(RunnerError::Stopping));
            }
        }
        if let Some(stop) = self.stop.take() {
            for reply in stop.replies {
                let _ = reply.send(stopped.clone());
            }
        }
        stopped
    }

    fn queues_empty(&self) -> bool {
        self.flows.iter().all(|s| s.queue.is_empty())
    }

    /// Some flow still has scheduled cycles to run.
    fn schedule_live(&self) -> bool {
        self.flows.iter().any(|s| s.next_run.is_some())
    }

    /// The next moment the loop must look again without a request or a job
    /// ending: a scheduled cycle falling due, or the stop deadline.
    fn next_timer(&self, jobs_in_flight: bool) -> Option<Instant> {
        let scheduling = self.stop.is_none();
        let due = self
            .flows
            .iter()
            .filter(|s| scheduling && !s.paused && s.running.is_none())
            .filter_map(|s| s.next_run);
        let deadline = self.stop.as_ref().filter(|_| jobs_in_flight).map(|s| s.at);
        due.chain(deadline).min()
    }
}

impl Slot {
    /// After a job: a cycle puts the next scheduled one an interval away
    /// (a failed one too: the interval is the retry delay); a job that
    /// wrote may have added an effective-date wake-up that brings it
    /// forward.
    fn reschedule(&mut self, job: &Job, ok: bool, now: Instant) {
        let Some(schedule) = self.schedule else { return };
        if schedule.limit.is_some_and(|l| self.scheduled_cycles >= l) {
            self.next_run = None;
            return;
        }
        if job.is_cycle() {
            self.next_run = Some(now + schedule.interval);
        }
        let wrote = matches!(job, Job::Cycle(_) | Job::OnDemand { .. });
        if !(ok && wrote) {
            return;
        }
        let Some(driver) = &self.driver else { return };
        let wakeup = match driver.next_wakeup() {
            Ok(w) => w,
            Err(error) => {
                tracing::warn!(flow = %self.name, error = %shown(&error), "Reading the next wake-up failed; waiting the interval.");
                return;
            }
        };
        let wait = until_next(schedule.interval, wakeup, self.last_cycle_start, Timestamp::now());
        let at = now + wait;
        self.next_run = Some(self.next_run.map_or(at, |n| n.min(at)));
    }
}

fn start(flow: usize, mut driver: Box<dyn FlowDriver>, job: Job) -> JobFuture {
    Box::pin(async move {
        let result = match &job {
            Job::Cycle(kind) => driver.run_cycle(*kind).await,
            Job::Plan { full, person } => {
                let kind = if *full { CycleKind::Full } else { CycleKind::Incremental };
                driver.plan(kind, person.as_deref()).await
            }
            Job::OnDemand { person } => driver.on_demand(person).await,
        };
        Finished { flow, driver, result }
    })
}

/// Every cycle is logged at info with its summary line; a scheduled one
/// that failed is an error (nobody else hears of it), an asked-for one
/// goes back to its caller.
fn log_finished(flow: &str, running: &Running, result: &Result<CycleReport, DriverError>) {
    let elapsed = running.since.elapsed();
    match (result, &running.job) {
        (Ok(report), Job::Cycle(_) | Job::OnDemand { .. }) => {
            tracing::info!(flow, summary = %summary(report), "Cycle finished.");
        }
        (Ok(_), Job::Plan { .. }) => {
            tracing::debug!(flow, job = %running.job, ?elapsed, "Plan finished.");
        }
        (Err(error), _) if running.scheduled => {
            tracing::error!(flow, error = %shown(error), "Cycle failed; retrying next interval.");
        }
        (Err(error), job) => {
            tracing::info!(flow, job = %shown(job), error = %shown(error), "Job failed.")
        }
    }
}

/// An error for the log: its chain can quote a server's body or HR data.
fn shown(error: &impl std::fmt::Display) -> String {
    hrsync_display::escape_keeping_lines(&error.to_string()).into_owned()
}

fn far_future() -> Instant {
    // About 30 years: later than any deadline anyone means.
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}
