//! Kill hrsync at many points of a sync (after a page is read, after a
//! target write before its commit, after a commit, before the watermark
//! moves) and restart it: the target must end exactly as after a clean run,
//! with no duplicate account and no missed change.

use crate::common;

use std::os::unix::process::ExitStatusExt;

use common::{TempDir, hrsync, snapshot, text, write_config};
use sf_emulator::Emulator;
use sf_emulator::events::HrEvent;

const WORKERS: usize = 300;
const SEED: u64 = 77;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_any_point_and_restarted_ends_in_the_same_state() {
    let emu = Emulator::builder().workers(WORKERS).seed(SEED).start().await.expect("emulator");
    let base = emu.base_url();

    let clean = TempDir::new("clean");
    let config = write_config(&clean.0, &base, 40);
    let out = blocking(move || hrsync(&config, &["sync", "--full"], &[])).await;
    assert!(out.status.success(), "{}", text(&out));
    let want = snapshot(&clean.0);
    assert!(want.len() > WORKERS / 2, "{}", want.len());

    // Spread over the ~8 pages and ~300 writes of a full sync.
    let points =
        [1u64, 2, 3, 4, 6, 9, 13, 20, 30, 45, 60, 80, 100, 125, 150, 175, 200, 225, 250, 270, 285];
    for n in points {
        let dir = TempDir::new("crash");
        let config = write_config(&dir.0, &base, 40);
        let c = config.clone();
        let out = blocking(move || {
            hrsync(&c, &["sync", "--full"], &[("HRSYNC_CRASH_AFTER", n.to_string())])
        })
        .await;
        assert_eq!(
            out.status.signal(),
            Some(6),
            "crash point {n} must abort the process: {}",
            text(&out)
        );
        let c = config.clone();
        let out = blocking(move || hrsync(&c, &["sync", "--full"], &[])).await;
        assert!(out.status.success(), "restart after crash point {n}: {}", text(&out));
        assert_eq!(snapshot(&dir.0), want, "state after a crash at point {n} and a restart");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_an_incremental_cycle_loses_no_change() {
    let emu = Emulator::builder().workers(120).seed(SEED).start().await.expect("emulator");
    let dir = TempDir::new("incr");
    let config = write_config(&dir.0, &emu.base_url(), 5);
    let c = config.clone();
    let out = blocking(move || hrsync(&c, &["sync", "--full"], &[])).await;
    assert!(out.status.success(), "{}", text(&out));

    let active = emu.scenarios()[&sf_emulator::model::Scenario::Active].clone();
    for (i, p) in active.iter().take(12).enumerate() {
        emu.apply(&HrEvent::Transfer {
            person_id_external: p.clone(),
            effective: None,
            department: None,
            location: None,
            company: None,
            manager_id: None,
            job_title: Some(format!("Title {i}")),
        })
        .expect("transfer");
    }
    // Crash twice in the same incremental window, at different points.
    for n in [3u64, 9] {
        let c = config.clone();
        let out =
            blocking(move || hrsync(&c, &["sync"], &[("HRSYNC_CRASH_AFTER", n.to_string())])).await;
        assert_eq!(out.status.signal(), Some(6), "crash point {n}: {}", text(&out));
    }
    let c = config.clone();
    let out = blocking(move || hrsync(&c, &["sync"], &[])).await;
    assert!(out.status.success(), "{}", text(&out));
    let state = snapshot(&dir.0);
    for (i, p) in active.iter().take(12).enumerate() {
        assert_eq!(
            state[p.as_str()]["title"],
            format!("Title {i}"),
            "change of {p} applied after the crashes"
        );
    }
    emu.shutdown().await;
}
