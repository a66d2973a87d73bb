//! Stopping `hrsync run` during a cycle, with the real binary against an
//! emulator whose every request is slow (so a cycle is in flight for
//! seconds): one SIGTERM lets the cycle finish; a second one, or the stop
//! timeout, cuts it, and the next `hrsync sync` ends exactly as a clean run.
//! And the lease ("one cycle at a time per flow", held in the state store):
//! a second process is refused while `run` holds it, and runs once the
//! holder is killed (taken over at once); a stalled holder loses it after
//! `lease_ttl` (the embedded target's file lock then still guards its file).

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BIN, TempDir, hrsync, snapshot, text, write_config};
use sf_emulator::{Emulator, RunningEmulator};

const WORKERS: usize = 60;
/// Small pages, each read slowly: a full cycle is a dozen slow requests.
const PAGE: u32 = 4;
const LATENCY: Duration = Duration::from_millis(250);

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// `hrsync run` at the default log level, its stderr collected as it comes.
struct Run {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Run {
    fn start(config: &Path, extra: &[&str]) -> Run {
        let mut child = Command::new(BIN)
            .args(["run", "--interval", "1h"])
            .args(extra)
            .arg("--config")
            .arg(config)
            .env("HRSYNC_TEST_SF_PASSWORD", sf_emulator::DEFAULT_PASSWORD)
            .env_remove("HRSYNC_LOG")
            .env_remove("HRSYNC_CRASH_AFTER")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hrsync run");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr pipe");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
        Run { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success(), "kill -{name}");
    }

    /// Polls until `stderr` holds `want`; fails (after killing the process)
    /// if it never does.
    async fn wait_for_log(&mut self, want: &str) {
        for _ in 0..600 {
            if self.stderr().contains(want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        panic!("hrsync run never logged {want:?}: {}", self.stderr());
    }

    /// The exit code; the process is killed and the test fails if it has
    /// not exited after a long bound (this is a hang guard, not a speed
    /// check: the assertions are on what happened).
    async fn exit_code(&mut self) -> Option<i32> {
        for _ in 0..1200 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader thread drain the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        panic!("hrsync run did not exit: {}", self.stderr());
    }
}

fn status(config: &Path) -> serde_json::Value {
    let out = hrsync(config, &["status", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

/// The status of cycle `id` in the history.
fn cycle_status(config: &Path, id: i64) -> String {
    let v = status(config);
    let cycles = v["cycles"].as_array().cloned().unwrap_or_default();
    cycles
        .iter()
        .find(|c| c["id"].as_i64() == Some(id))
        .and_then(|c| c["status"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no cycle {id}: {v}"))
}

/// Polls `status` until the first cycle is running and has committed at
/// least one page, so that a signal lands in the middle of it.
async fn wait_until_mid_cycle(run: &mut Run, config: &Path) {
    for _ in 0..600 {
        let c = config.to_owned();
        let v = blocking(move || status(&c)).await;
        let running =
            v["cycles"].as_array().is_some_and(|cs| cs.iter().any(|c| c["status"] == "running"));
        if running && v["accounts"]["active"].as_u64().unwrap_or(0) > 0 {
            return;
        }
        if run.child.try_wait().ok().flatten().is_some() {
            panic!("hrsync run exited early: {}", run.stderr());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = run.child.kill();
    panic!("no cycle in flight: {}", run.stderr());
}

type Accounts =
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, serde_json::Value>>;

/// What a clean full sync of the emulator gives.
async fn reference(base: &str) -> (TempDir, Accounts) {
    let dir = TempDir::new("stop-ref");
    let config = write_config(&dir.0, base, PAGE);
    let out = blocking(move || hrsync(&config, &["sync", "--full"], &[])).await;
    assert!(out.status.success(), "{}", text(&out));
    let want = snapshot(&dir.0);
    assert!(want.len() > WORKERS / 2, "{}", want.len());
    (dir, want)
}

async fn slow_emulator() -> RunningEmulator {
    Emulator::builder().workers(WORKERS).seed(11).latency(LATENCY).start().await.expect("emulator")
}

async fn setup(emu: &RunningEmulator, name: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(name);
    let config = write_config(&dir.0, &emu.base_url(), PAGE);
    // The state store is created (and its schema migrated) here, before
    // `run` starts: two processes opening a new store at once race on the
    // migration ("table ... already exists"), and the test polls `status`
    // while `run` starts.
    let c = config.clone();
    blocking(move || status(&c)).await;
    (dir, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_interrupts_the_cycle_and_the_next_sync_ends_clean() {
    let emu = slow_emulator().await;
    let (_ref_dir, want) = reference(&emu.base_url()).await;
    let (dir, config) = setup(&emu, "stop-twice").await;

    let mut run = Run::start(&config, &[]);
    wait_until_mid_cycle(&mut run, &config).await;
    run.signal("TERM");
    run.wait_for_log("SIGTERM: stopping").await;
    run.signal("TERM");
    let code = run.exit_code().await;
    let log = run.stderr();
    assert_eq!(code, Some(5), "exit code of an interrupted cycle: {log}");
    assert!(log.contains("SIGTERM again"), "{log}");
    assert!(
        log.contains("a second signal interrupted the incremental cycle of flow inbound"),
        "{log}"
    );
    assert!(!log.contains("Cycle finished"), "the cycle was cut, not finished: {log}");
    let c = config.clone();
    assert_eq!(blocking(move || cycle_status(&c, 1)).await, "running", "left as it was cut");

    let c = config.clone();
    let out = blocking(move || hrsync(&c, &["sync"], &[])).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("completed"), "{}", text(&out));
    let c = config.clone();
    assert_eq!(blocking(move || cycle_status(&c, 1)).await, "aborted", "marked at the next start");
    assert_eq!(snapshot(&dir.0), want, "the same accounts as a clean run");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sigterm_lets_the_cycle_in_flight_finish() {
    let emu = slow_emulator().await;
    let (_ref_dir, want) = reference(&emu.base_url()).await;
    let (dir, config) = setup(&emu, "stop-once").await;

    let mut run = Run::start(&config, &["--stop-timeout", "10m"]);
    wait_until_mid_cycle(&mut run, &config).await;
    run.signal("TERM");
    let code = run.exit_code().await;
    let log = run.stderr();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("SIGTERM: stopping"), "{log}");
    // The cycle's summary line at the default log level.
    assert!(log.contains("Cycle finished.") && log.contains("(full) completed"), "{log}");
    let c = config.clone();
    assert_eq!(blocking(move || cycle_status(&c, 1)).await, "completed");
    assert_eq!(snapshot(&dir.0), want);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stop_timeout_interrupts_a_cycle_that_does_not_finish_in_time() {
    let emu = slow_emulator().await;
    let (dir, config) = setup(&emu, "stop-timeout").await;

    let mut run = Run::start(&config, &["--stop-timeout", "0s"]);
    wait_until_mid_cycle(&mut run, &config).await;
    run.signal("INT");
    let code = run.exit_code().await;
    let log = run.stderr();
    assert_eq!(code, Some(5), "{log}");
    assert!(log.contains("SIGINT: stopping"), "{log}");
    assert!(log.contains("the stop timeout (0ns) interrupted the incremental cycle"), "{log}");
    let c = config.clone();
    assert_eq!(blocking(move || cycle_status(&c, 1)).await, "running");
    drop(dir);
    emu.shutdown().await;
}

/// The number of cycles in the history.
fn cycles(config: &Path) -> usize {
    status(config)["cycles"].as_array().map_or(0, Vec::len)
}

/// Starts `hrsync run` on a fast emulator and waits until its first cycle
/// has completed (the process then idles, holding the lease).
async fn holder(emu: &RunningEmulator, name: &str, state_extra: &str) -> (TempDir, PathBuf, Run) {
    let (dir, config) = setup(emu, name).await;
    let mut text = std::fs::read_to_string(&config).expect("read config");
    text.push_str(state_extra);
    std::fs::write(&config, text).expect("write config");
    let mut run = Run::start(&config, &[]);
    run.wait_for_log("Cycle finished").await;
    let c = config.clone();
    assert_eq!(blocking(move || cycle_status(&c, 1)).await, "completed");
    (dir, config, run)
}

/// `hrsync sync` on `config`, in a blocking task.
async fn sync(config: &Path) -> std::process::Output {
    let c = config.to_owned();
    blocking(move || hrsync(&c, &["sync"], &[])).await
}

fn refused_by_lease(out: &std::process::Output) -> bool {
    !out.status.success()
        && String::from_utf8_lossy(&out.stderr).contains("another hrsync is running cycles")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_is_refused_by_the_lease_and_runs_once_the_holder_is_killed() {
    let emu = Emulator::builder().workers(20).seed(12).start().await.expect("emulator");
    let (_dir, config, mut run) = holder(&emu, "lease-kill", "").await;

    let second = sync(&config).await;
    assert!(refused_by_lease(&second), "{}", text(&second));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("its lease is held by") && err.contains("flow `inbound`"), "{err}");
    let c = config.clone();
    assert_eq!(blocking(move || cycles(&c)).await, 1, "the refused process ran no cycle");

    // kill -9: no destructor runs, the lease row stays behind with a live
    // expiry; the next process sees its holder's pid is gone and takes over.
    run.signal("KILL");
    assert_eq!(run.exit_code().await, None, "killed by a signal");
    let next = sync(&config).await;
    assert!(next.status.success(), "{}", text(&next));
    assert!(String::from_utf8_lossy(&next.stdout).contains("completed"), "{}", text(&next));
    let c = config.clone();
    assert_eq!(blocking(move || cycles(&c)).await, 2);
    assert_eq!(cycle_status(&config, 2), "completed");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_holder_loses_the_lease_when_it_expires_and_the_target_lock_still_guards_its_file()
 {
    let emu = Emulator::builder().workers(20).seed(13).start().await.expect("emulator");
    // Renewed every 2 s; a stalled holder's lease is gone at most 6 s after
    // its last renewal.
    let (_dir, config, mut run) = holder(&emu, "lease-stall", "lease_ttl = \"6s\"\n").await;

    // SIGSTOP: the holder's pid still runs (so no take-over), but its keeper
    // no longer renews, as with a process hung or cut off on another host.
    run.signal("STOP");
    let stopped_at = std::time::Instant::now();
    let first = sync(&config).await;
    // The lease had at least 4 s left when the holder stopped: an attempt
    // that ended before then must have been refused (on a machine so loaded
    // that it did not, the check says nothing and is not made).
    if stopped_at.elapsed() < Duration::from_secs(4) {
        assert!(refused_by_lease(&first), "refused while the lease runs: {}", text(&first));
    }
    // Every attempt is refused until the lease expires; one after the
    // expiry runs. The bound only guards against a hang.
    let mut last = first;
    for _ in 0..120 {
        if !refused_by_lease(&last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        last = sync(&config).await;
    }
    // Past the lease, the embedded target's own file lock (held by the
    // stalled process, which still runs) refuses it: one process writes a
    // target file at a time, whatever the state says.
    let err = String::from_utf8_lossy(&last.stderr).into_owned();
    assert!(
        !last.status.success() && err.contains("is in use by another hrsync"),
        "{}",
        text(&last)
    );
    let c = config.clone();
    assert_eq!(blocking(move || cycles(&c)).await, 1, "no cycle ran beside the stalled one");

    run.signal("KILL");
    let _ = run.exit_code().await;
    let next = sync(&config).await;
    assert!(next.status.success(), "{}", text(&next));
    assert!(String::from_utf8_lossy(&next.stdout).contains("completed"), "{}", text(&next));
    let c = config.clone();
    assert_eq!(blocking(move || cycles(&c)).await, 2, "exactly one more cycle ran");
    emu.shutdown().await;
}
