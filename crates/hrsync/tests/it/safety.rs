//! Issue 13, safety items through the real binary: on-demand acts on exactly
//! the person asked for and exits the same way in text and JSON mode.

use crate::common;

use common::{TempDir, hrsync, text, write_config};
use sf_emulator::Emulator;

/// Item 20: `--json` reports an unknown worker with exit 4, as text mode
/// does (it exited 0), and a known one with 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_json_exits_like_text_mode() {
    let emu = Emulator::builder().workers(5).seed(1).start().await.expect("emulator");
    let dir = TempDir::new("od-json");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    let known = emu.scenarios()[&sf_emulator::model::Scenario::Active][0].clone();
    for (id, json, want) in
        [("no-such-worker", false, 4), ("no-such-worker", true, 4), (known.as_str(), true, 0)]
    {
        let c = config.clone();
        let id = id.to_owned();
        let out = tokio::task::spawn_blocking(move || {
            let mut args = vec!["on-demand", id.as_str()];
            if json {
                args.push("--json");
            }
            hrsync(&c, &args, &[])
        })
        .await
        .expect("task");
        assert_eq!(out.status.code(), Some(want), "json={json}: {}", text(&out));
    }
    emu.shutdown().await;
}

/// A proxy in front of the emulator that widens every by-id query for
/// `asked` into `personIdExternal in 'asked','other'`: a source answering a
/// by-id read with a second person (a tenant comparing ids loosely, a proxy).
async fn widening_proxy(upstream: String, asked: String, other: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let up = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (up, asked, other) = (up.clone(), asked.clone(), other.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let mut lines: Vec<String> =
                    head.trim_end().split("\r\n").map(str::to_owned).collect();
                lines.retain(|l| !l.to_ascii_lowercase().starts_with("connection:"));
                lines[0] = lines[0].replace(
                    &format!("personIdExternal%20eq%20%27{asked}%27"),
                    &format!("personIdExternal%20in%20%27{asked}%27,%27{other}%27"),
                );
                let request = format!("{}\r\nConnection: close\r\n\r\n", lines.join("\r\n"));
                let mut server = tokio::net::TcpStream::connect(&up).await.expect("upstream");
                server.write_all(request.as_bytes()).await.expect("forward");
                let mut answer = Vec::new();
                server.read_to_end(&mut answer).await.expect("answer");
                let _ = client.write_all(&answer).await;
            });
        }
    });
    format!("http://{addr}")
}

/// Item 20: on-demand provisions exactly the person asked for, even when
/// SuccessFactors returns another one too (it provisioned both, and
/// reported the first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_provisions_only_the_person_asked_for() {
    let emu = Emulator::builder().workers(8).seed(1).start().await.expect("emulator");
    let active = emu.scenarios()[&sf_emulator::model::Scenario::Active].clone();
    let (asked, other) = (active[0].clone(), active[1].clone());
    let proxy = widening_proxy(emu.base_url(), asked.clone(), other.clone()).await;
    let dir = TempDir::new("od-only");
    let config = write_config(&dir.0, &proxy, 50);
    let c = config.clone();
    let a = asked.clone();
    let out = tokio::task::spawn_blocking(move || hrsync(&c, &["on-demand", &a], &[]))
        .await
        .expect("task");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let c = config.clone();
    let logs = tokio::task::spawn_blocking(move || hrsync(&c, &["logs", "--json"], &[]))
        .await
        .expect("task");
    let logs = String::from_utf8_lossy(&logs.stdout).into_owned();
    assert!(logs.contains(&format!("\"{asked}\"")), "the asked worker is logged: {logs}");
    assert!(
        !logs.contains(&format!("\"{other}\"")),
        "the worker nobody asked for got no log entry (and no account): {logs}"
    );
    emu.shutdown().await;
}

/// Item 18 through the binary: a state that had history and comes back as
/// 0 bytes is refused by sync and status alike, naming the file (it was
/// silently treated as new: joins, escrow and wake-ups lost without a word),
/// and nothing is provisioned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_emptied_after_a_sync_is_refused_not_started_over() {
    let emu = Emulator::builder().workers(5).seed(1).start().await.expect("emulator");
    let dir = TempDir::new("emptied-state");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    let c = config.clone();
    let first = tokio::task::spawn_blocking(move || hrsync(&c, &["sync", "--full"], &[]))
        .await
        .expect("task");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let state = dir.0.join("state.sqlite");
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.0.join(format!("state.sqlite{side}")));
    }
    std::fs::write(&state, b"").expect("truncate");
    let target_before = std::fs::read(dir.0.join("target.sqlite")).expect("target");
    for args in [&["sync", "--full"][..], &["status"][..]] {
        let c = config.clone();
        let out = tokio::task::spawn_blocking(move || hrsync(&c, args, &[])).await.expect("task");
        let all = text(&out);
        assert!(!out.status.success(), "{args:?} ran on an emptied state: {all}");
        assert!(all.contains("state.sqlite"), "{args:?} names the file: {all}");
    }
    assert_eq!(std::fs::metadata(&state).expect("state").len(), 0, "the state was not recreated");
    assert_eq!(
        std::fs::read(dir.0.join("target.sqlite")).expect("target"),
        target_before,
        "nothing was provisioned"
    );
    emu.shutdown().await;
}
