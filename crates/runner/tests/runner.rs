//! The runner against a fake flow driver, in tokio's paused time: every
//! wait is stepped, nothing sleeps, and the instants below are exact
//! virtual times, not measurements.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hrsync_engine::cycle::CycleReport;
use hrsync_runner::{
    DriverError, FlowDriver, FlowSpec, Interrupt, Job, Runner, RunnerError, Schedule, Stopped,
    run_once,
};
use hrsync_store::{CycleKind, CycleStatus};
use jiff::Timestamp;
use tokio::time::{Instant, sleep};

const MIN: Duration = Duration::from_secs(60);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// One job a fake driver ran.
#[derive(Debug, Clone)]
struct Entry {
    flow: &'static str,
    job: String,
    started: Instant,
    /// `None`: failed or cut.
    ended: Option<Instant>,
}

/// What the fake drivers did, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Entry>>>);

impl Log {
    fn entries(&self) -> Vec<Entry> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Start times of `flow`'s jobs, from `t0`.
    fn starts(&self, flow: &str, t0: Instant) -> Vec<Duration> {
        self.entries().iter().filter(|e| e.flow == flow).map(|e| e.started - t0).collect()
    }

    fn start(&self, flow: &'static str, job: String) -> usize {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.push(Entry { flow, job, started: Instant::now(), ended: None });
        v.len() - 1
    }

    fn end(&self, i: usize) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v[i].ended = Some(Instant::now());
    }
}

struct Fake {
    name: &'static str,
    log: Log,
    /// How long each job takes (virtual time).
    takes: Duration,
    fail: bool,
    wakeup: Arc<Mutex<Option<Timestamp>>>,
    cycles: i64,
}

impl Fake {
    fn new(name: &'static str, log: &Log) -> Self {
        Fake {
            name,
            log: log.clone(),
            takes: Duration::ZERO,
            fail: false,
            wakeup: Arc::default(),
            cycles: 0,
        }
    }

    fn taking(self, takes: Duration) -> Self {
        Fake { takes, ..self }
    }

    fn failing(self) -> Self {
        Fake { fail: true, ..self }
    }

    fn waking_at(self, at: Timestamp) -> Self {
        Fake { wakeup: Arc::new(Mutex::new(Some(at))), ..self }
    }

    /// `what` comes back as the report's message.
    async fn job(&mut self, kind: CycleKind, what: String) -> Result<CycleReport, DriverError> {
        let i = self.log.start(self.name, what.clone());
        sleep(self.takes).await;
        if self.fail {
            return Err(format!("{}: SuccessFactors unreachable", self.name).into());
        }
        self.log.end(i);
        self.cycles += 1;
        Ok(CycleReport {
            cycle_id: self.cycles,
            kind,
            window_from: None,
            window_to: String::new(),
            counts: BTreeMap::new(),
            workers: 0,
            requests: 0,
            duration_ms: 0,
            status: CycleStatus::Completed,
            message: Some(what),
            queries: Vec::new(),
            details: Vec::new(),
        })
    }
}

#[async_trait(?Send)]
impl FlowDriver for Fake {
    async fn run_cycle(&mut self, kind: CycleKind) -> Result<CycleReport, DriverError> {
        self.job(kind, format!("{kind:?}")).await
    }

    async fn plan(
        &mut self,
        kind: CycleKind,
        person: Option<&str>,
    ) -> Result<CycleReport, DriverError> {
        self.job(kind, format!("plan {kind:?} {}", person.unwrap_or("-"))).await
    }

    async fn on_demand(&mut self, person: &str) -> Result<CycleReport, DriverError> {
        self.job(CycleKind::OnDemand, format!("on-demand {person}")).await
    }

    fn next_wakeup(&self) -> Result<Option<Timestamp>, DriverError> {
        Ok(*self.wakeup.lock().unwrap_or_else(|e| e.into_inner()))
    }
    fn drop_escrow(&mut self, _: &str) -> Result<bool, DriverError> {
        Ok(false)
    }
}

fn flow(fake: Fake, schedule: Schedule) -> FlowSpec {
    FlowSpec::new(fake.name, fake).scheduled(schedule)
}

#[tokio::test(start_paused = true)]
async fn scheduled_cycles_run_an_interval_after_the_last_one_ended_until_the_limit() {
    let log = Log::default();
    let t0 = Instant::now();
    let (handle, runner) = Runner::new(vec![flow(
        Fake::new("inbound", &log).taking(secs(5)),
        Schedule::every(MIN).limit(3),
    )])
    .expect("runner");
    assert_eq!(runner.run().await, Stopped::ScheduleDone);
    assert_eq!(log.starts("inbound", t0), [secs(0), secs(65), secs(130)]);
    assert!(
        log.entries().iter().all(|e| e.job == "Incremental" && e.ended.is_some()),
        "{:?}",
        log.entries()
    );
    assert!(matches!(handle.status().await, Err(RunnerError::Gone)));
}

#[tokio::test(start_paused = true)]
async fn an_effective_date_wakeup_brings_the_next_cycle_forward() {
    let log = Log::default();
    let t0 = Instant::now();
    let at = Timestamp::now() + jiff::SignedDuration::from_secs(20);
    let fake = Fake::new("inbound", &log).waking_at(at);
    let (_handle, runner) =
        Runner::new(vec![flow(fake, Schedule::every(MIN).limit(2))]).expect("runner");
    assert_eq!(runner.run().await, Stopped::ScheduleDone);
    let starts = log.starts("inbound", t0);
    // 20 s of wall time after the first cycle started, less the few
    // microseconds of real time the first cycle took.
    assert_eq!(starts.len(), 2);
    assert!(starts[1] <= secs(20) && starts[1] > secs(19), "{starts:?}");
}

#[tokio::test(start_paused = true)]
async fn a_wakeup_the_last_cycle_saw_due_and_left_waits_the_interval_instead_of_spinning() {
    let log = Log::default();
    let t0 = Instant::now();
    let fake =
        Fake::new("inbound", &log).waking_at(Timestamp::now() - jiff::SignedDuration::from_secs(1));
    let (_handle, runner) =
        Runner::new(vec![flow(fake, Schedule::every(MIN).limit(3))]).expect("runner");
    assert_eq!(runner.run().await, Stopped::ScheduleDone);
    assert_eq!(log.starts("inbound", t0), [secs(0), secs(60), secs(120)]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_cycle_is_retried_after_the_interval_even_with_a_wakeup_due() {
    let log = Log::default();
    let t0 = Instant::now();
    let fake = Fake::new("inbound", &log).failing().waking_at(Timestamp::now());
    let (_handle, runner) =
        Runner::new(vec![flow(fake, Schedule::every(MIN).limit(2))]).expect("runner");
    assert_eq!(runner.run().await, Stopped::ScheduleDone);
    assert_eq!(log.starts("inbound", t0), [secs(0), secs(60)]);
    assert!(log.entries().iter().all(|e| e.ended.is_none()), "both failed");
}

#[tokio::test(start_paused = true)]
async fn jobs_asked_for_run_one_at_a_time_in_order_and_each_caller_gets_its_report() {
    let log = Log::default();
    let (handle, runner) =
        Runner::new(vec![FlowSpec::new("inbound", Fake::new("inbound", &log).taking(secs(10)))])
            .expect("runner");
    let client = async move {
        let (full, od, plan) = tokio::join!(
            handle.run_cycle("inbound", CycleKind::Full),
            handle.on_demand("inbound", "1001"),
            handle.plan("inbound", false, Some("1002")),
        );
        // `handle` is dropped here: the runner returns once nothing is left.
        (full, od, plan)
    };
    let (stopped, (full, od, plan)) = tokio::join!(runner.run(), client);
    assert_eq!(stopped, Stopped::HandlesDropped);
    assert_eq!(full.expect("full").message.as_deref(), Some("Full"));
    assert_eq!(od.expect("on-demand").message.as_deref(), Some("on-demand 1001"));
    assert_eq!(plan.expect("plan").message.as_deref(), Some("plan Incremental 1002"));
    let entries = log.entries();
    assert_eq!(entries.len(), 3);
    for pair in entries.windows(2) {
        let ended = pair[0].ended.expect("ended");
        assert!(pair[1].started >= ended, "never two jobs of one flow at once: {entries:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn status_shows_the_job_in_flight_and_a_stop_lets_it_finish_within_the_deadline() {
    let log = Log::default();
    let (handle, runner) =
        Runner::new(vec![flow(Fake::new("inbound", &log).taking(secs(100)), Schedule::every(MIN))])
            .expect("runner");
    let client = async move {
        sleep(secs(10)).await;
        let status = handle.status().await.expect("status");
        let stopped = handle.stop(secs(200)).await.expect("stop");
        (status, stopped)
    };
    let (stopped, (status, reply)) = tokio::join!(runner.run(), client);
    assert_eq!(stopped, Stopped::Requested);
    assert_eq!(reply, Stopped::Requested);
    assert!(!status.stopping);
    let f = &status.flows[0];
    assert_eq!(f.name, "inbound");
    assert_eq!(f.running, Some((Job::Cycle(CycleKind::Incremental), secs(10))));
    assert_eq!(f.next_run_in, Some(secs(50)), "an interval after the start until it ends");
    assert!(!f.paused);
    let entries = log.entries();
    assert_eq!(entries.len(), 1, "no cycle starts after the stop: {entries:?}");
    assert!(entries[0].ended.is_some(), "the cycle in flight finished");
}

#[tokio::test(start_paused = true)]
async fn the_stop_deadline_interrupts_a_cycle_and_its_caller_is_told() {
    let log = Log::default();
    let t0 = Instant::now();
    let (handle, runner) =
        Runner::new(vec![FlowSpec::new("inbound", Fake::new("inbound", &log).taking(secs(1000)))])
            .expect("runner");
    let client = async move {
        let cycle = handle.run_cycle("inbound", CycleKind::Incremental);
        let stop = async {
            sleep(secs(10)).await;
            handle.stop(secs(30)).await
        };
        tokio::join!(cycle, stop)
    };
    let (stopped, (cycle, reply)) = tokio::join!(runner.run(), client);
    let want = Stopped::Interrupted {
        by: Interrupt::Deadline(secs(30)),
        jobs: vec![("inbound".into(), Job::Cycle(CycleKind::Incremental))],
    };
    assert_eq!(stopped, want);
    assert_eq!(reply.expect("stop reply"), want);
    assert!(matches!(cycle, Err(RunnerError::Interrupted { .. })), "{cycle:?}");
    assert_eq!(Instant::now() - t0, secs(40), "cut at the deadline");
    assert_eq!(log.entries()[0].ended, None, "the cycle never reached its end");
}

#[tokio::test(start_paused = true)]
async fn a_second_stop_request_cuts_the_cycle_at_once() {
    let log = Log::default();
    let t0 = Instant::now();
    let (handle, runner) = Runner::new(vec![flow(
        Fake::new("inbound", &log).taking(secs(1000)),
        Schedule::every(MIN),
    )])
    .expect("runner");
    let client = async move {
        sleep(secs(10)).await;
        handle.request_stop(secs(30)).expect("first stop");
        sleep(secs(5)).await;
        handle.request_stop(Duration::ZERO).expect("second stop");
        // The runner is gone once it stopped.
        sleep(secs(1)).await;
        handle.status().await
    };
    let (stopped, status) = tokio::join!(runner.run(), client);
    assert_eq!(
        stopped,
        Stopped::Interrupted {
            by: Interrupt::Request,
            jobs: vec![("inbound".into(), Job::Cycle(CycleKind::Incremental))]
        }
    );
    assert!(matches!(status, Err(RunnerError::Gone)), "{status:?}");
    assert_eq!(log.entries()[0].started - t0, secs(0));
    assert_eq!(log.entries()[0].ended, None);
    assert_eq!(t0.elapsed(), secs(16));
}

#[tokio::test(start_paused = true)]
async fn a_stop_between_cycles_ends_at_once_and_refuses_waiting_and_new_jobs() {
    let log = Log::default();
    let (handle, runner) =
        Runner::new(vec![FlowSpec::new("inbound", Fake::new("inbound", &log).taking(secs(100)))])
            .expect("runner");
    let client = async move {
        let first = handle.run_cycle("inbound", CycleKind::Incremental);
        let waiting = handle.run_cycle("inbound", CycleKind::Full);
        let stop = async {
            sleep(secs(1)).await;
            let stopped = handle.stop(secs(1000)).await;
            let late = handle.on_demand("inbound", "1001").await;
            (stopped, late)
        };
        tokio::join!(first, waiting, stop)
    };
    let (stopped, (first, waiting, (reply, late))) = tokio::join!(runner.run(), client);
    assert_eq!(stopped, Stopped::Requested);
    assert_eq!(reply.expect("stop"), Stopped::Requested);
    assert!(first.is_ok(), "the cycle in flight finished: {first:?}");
    assert!(matches!(waiting, Err(RunnerError::Stopping)), "{waiting:?}");
    assert!(matches!(late, Err(RunnerError::Gone)), "{late:?}");
    assert_eq!(log.entries().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn pause_holds_scheduled_cycles_but_not_asked_for_ones_and_resume_runs_a_due_one_at_once() {
    let log = Log::default();
    let t0 = Instant::now();
    let (handle, runner) =
        Runner::new(vec![flow(Fake::new("inbound", &log), Schedule::every(MIN).limit(2))])
            .expect("runner");
    let client = async move {
        sleep(secs(1)).await;
        handle.pause(None).await.expect("pause");
        sleep(secs(29)).await;
        handle.run_cycle("inbound", CycleKind::Incremental).await.expect("asked-for cycle");
        sleep(secs(170)).await;
        let status = handle.status().await.expect("status");
        let unknown = handle.pause(Some("writeback")).await;
        assert!(matches!(unknown, Err(RunnerError::UnknownFlow(f)) if f == "writeback"));
        handle.resume(Some("inbound")).await.expect("resume");
        status
    };
    let (stopped, status) = tokio::join!(runner.run(), client);
    assert_eq!(stopped, Stopped::ScheduleDone, "the schedule outlives the handles");
    let f = &status.flows[0];
    assert!(f.paused);
    assert_eq!(f.scheduled_cycles, 1);
    assert_eq!(f.next_run_in, Some(Duration::ZERO), "due, held by the pause");
    assert_eq!(log.starts("inbound", t0), [secs(0), secs(30), secs(200)]);
}

#[tokio::test(start_paused = true)]
async fn two_flows_run_side_by_side_each_on_its_own_schedule() {
    let log = Log::default();
    let t0 = Instant::now();
    let (handle, runner) = Runner::new(vec![
        flow(Fake::new("inbound", &log).taking(secs(50)), Schedule::every(MIN).limit(2)),
        flow(Fake::new("writeback", &log).taking(secs(1)), Schedule::every(secs(10)).limit(3)),
    ])
    .expect("runner");
    let client = async move {
        sleep(secs(5)).await;
        handle.status().await.expect("status")
    };
    let (stopped, status) = tokio::join!(runner.run(), client);
    assert_eq!(stopped, Stopped::ScheduleDone);
    assert_eq!(log.starts("inbound", t0), [secs(0), secs(110)]);
    assert_eq!(log.starts("writeback", t0), [secs(0), secs(11), secs(22)]);
    let names: Vec<&str> = status.flows.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["inbound", "writeback"]);
    assert!(status.flows[0].running.is_some());
    assert_eq!(status.flows[1].running, None, "writeback's first cycle ended at 1 s");
    assert_eq!(status.flows[1].next_run_in, Some(secs(6)));
}

#[tokio::test(start_paused = true)]
async fn unknown_flows_duplicate_names_and_driver_errors_are_told_as_such() {
    let log = Log::default();
    let dup = Runner::new(vec![
        FlowSpec::new("inbound", Fake::new("inbound", &log)),
        FlowSpec::new("inbound", Fake::new("inbound", &log)),
    ]);
    assert!(matches!(dup, Err(RunnerError::DuplicateFlow(f)) if f == "inbound"));

    let once = run_once("inbound", Fake::new("inbound", &log), Job::Cycle(CycleKind::Full)).await;
    assert_eq!(once.expect("report").kind, CycleKind::Full);

    let (handle, runner) =
        Runner::new(vec![FlowSpec::new("inbound", Fake::new("inbound", &log).failing())])
            .expect("runner");
    let client = async move {
        (
            handle.run_cycle("other", CycleKind::Full).await,
            handle.run_cycle("inbound", CycleKind::Full).await,
        )
    };
    let (_, (other, failed)) = tokio::join!(runner.run(), client);
    assert!(matches!(other, Err(RunnerError::UnknownFlow(f)) if f == "other"));
    let failed = failed.expect_err("the driver failed");
    assert_eq!(
        failed.to_string(),
        "inbound: SuccessFactors unreachable",
        "the engine's message, untouched"
    );
}

#[tokio::test(start_paused = true)]
async fn a_paused_schedule_with_no_handle_left_ends_instead_of_waiting_for_ever() {
    let log = Log::default();
    let (handle, runner) =
        Runner::new(vec![flow(Fake::new("inbound", &log), Schedule::every(MIN))]).expect("runner");
    let client = async move {
        sleep(secs(1)).await;
        handle.pause(None).await.expect("pause");
    };
    let (stopped, ()) = tokio::join!(runner.run(), client);
    assert_eq!(stopped, Stopped::HandlesDropped);
    assert_eq!(log.entries().len(), 1);
}

/// The summary line the runner logs for every cycle (and `hrsync sync`
/// prints) quotes the cycle message, which can carry a server's error body
/// or an HR name: its control and direction characters arrive escaped, its
/// own line breaks kept.
#[test]
fn the_cycle_summary_escapes_what_came_from_outside() {
    let report = CycleReport {
        cycle_id: 7,
        kind: CycleKind::Full,
        window_from: None,
        window_to: String::new(),
        counts: BTreeMap::new(),
        workers: 1,
        requests: 1,
        duration_ms: 10,
        status: CycleStatus::CompletedWithErrors,
        message: Some("1 failed\nworker p1: target said \u{1b}[2J\u{202e}gpj.exe".into()),
        queries: Vec::new(),
        details: Vec::new(),
    };
    let line = hrsync_runner::summary(&report);
    assert!(!line.contains('\u{1b}') && !line.contains('\u{202e}'), "{line:?}");
    assert!(line.contains("\\u{1b}[2J\\u{202e}gpj.exe"), "{line:?}");
    assert_eq!(line.lines().count(), 3, "the message's own lines stay: {line:?}");
}
