//! Two inbound flows in one config and one state file, with the real
//! binary: `inbound` into `target.sqlite`, `apps` into `apps.sqlite`. Each
//! keeps its own watermark, joins, escrow and history; a worker failing in
//! one flow leaves its row in the other untouched.

use std::path::Path;

use hrsync_store::Store;
use hrsync_store_sqlite::SqliteStore;
use hrsync_target::Target;
use hrsync_target_embedded::EmbeddedTarget;
use sf_emulator::Emulator;

use crate::common::{TempDir, hrsync, snapshot, text, write_config};

const APPS: &str = r#"
[[flows]]
name = "apps"
mapping = "builtin:sf-to-ad"
time_zone = "UTC"
actions = ["create", "update", "disable"]
[flows.target]
kind = "embedded"
path = "apps.sqlite"
"#;

fn json(config: &Path, args: &[&str]) -> serde_json::Value {
    let out = hrsync(config, args, &[]);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out)))
}

fn cycles(status: &serde_json::Value) -> usize {
    status["cycles"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_flows_keep_their_own_state_and_a_failure_in_one_leaves_the_other_alone() {
    let emu = Emulator::builder().workers(20).seed(21).start().await.expect("emulator");
    let dir = TempDir::new("two-flows");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    let mut text_cfg = std::fs::read_to_string(&config).expect("read config");
    text_cfg.push_str(APPS);
    std::fs::write(&config, text_cfg).expect("write config");

    // The inbound flow alone first.
    let c = config.clone();
    let out = tokio::task::spawn_blocking(move || hrsync(&c, &["sync", "--flow", "inbound"], &[]))
        .await
        .expect("task");
    assert!(out.status.success(), "{}", text(&out));
    let inbound_accounts = snapshot(&dir.0);
    assert!(inbound_accounts.len() > 10, "{}", inbound_accounts.len());
    assert!(!dir.0.join("apps.sqlite").exists(), "--flow inbound left apps alone");
    let worker = inbound_accounts.keys().next().expect("a worker").clone();

    // Two objects in the apps target claim that worker's employeeID: its
    // match there finds both (Entra's DuplicateTargetEntries) and it fails
    // in `apps` only.
    {
        let apps = EmbeddedTarget::open(&dir.0.join("apps.sqlite"), &[]).expect("apps target");
        for n in 0..2 {
            let attrs = [
                ("employeeID".to_owned(), serde_json::json!(worker)),
                ("cn".to_owned(), serde_json::json!(format!("squatter {n}"))),
            ]
            .into_iter()
            .collect();
            apps.create(&attrs).await.expect("seed apps");
        }
        apps.flush().await.expect("flush");
    }

    // Every flow: inbound (incremental, nothing new) and apps (its first,
    // full cycle).
    let c = config.clone();
    let out = tokio::task::spawn_blocking(move || hrsync(&c, &["sync"], &[])).await.expect("task");
    assert_eq!(out.status.code(), Some(3), "apps had a failure: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("flow inbound: ") && stdout.contains("flow apps: "), "{stdout}");

    let c = config.clone();
    let (inbound, apps) = tokio::task::spawn_blocking(move || {
        (json(&c, &["status", "--json"]), json(&c, &["status", "--json", "--flow", "apps"]))
    })
    .await
    .expect("task");
    assert_eq!(inbound["flow"], "inbound");
    assert_eq!(apps["flow"], "apps");
    assert_eq!(cycles(&inbound), 2, "{inbound}");
    assert_eq!(cycles(&apps), 1, "{apps}");
    assert!(inbound["escrow"].as_array().is_some_and(Vec::is_empty), "{inbound}");
    let escrow = apps["escrow"].as_array().expect("escrow");
    assert_eq!(escrow.len(), 1, "{apps}");
    assert_eq!(escrow[0]["person"], worker.as_str());
    assert!(escrow[0]["error"].as_str().is_some_and(|e| e.contains("matches 2 objects")), "{apps}");
    assert_eq!(
        apps["accounts"]["active"].as_u64(),
        Some(inbound["accounts"]["active"].as_u64().expect("count") - 1),
        "everyone but the failed worker joined in apps: {apps} {inbound}"
    );

    // The rows themselves: the worker's inbound join is as the first sync
    // left it; in apps it has escrow and no join.
    let state = dir.0.join("state.sqlite");
    let inbound_store = SqliteStore::open(&state, "inbound").expect("inbound state");
    let apps_store = SqliteStore::open(&state, "apps").expect("apps state");
    let mine = inbound_store.load(&[worker.as_str()]).expect("load")[worker.as_str()].clone();
    let join = mine.join.expect("inbound join kept");
    assert!(mine.escrow.is_none(), "no inbound escrow for {worker}");
    assert_eq!(join.exported["employeeID"], worker.as_str());
    let theirs = apps_store.load(&[worker.as_str()]).expect("load");
    let theirs = &theirs[worker.as_str()];
    assert!(theirs.join.is_none(), "no apps join for {worker}");
    assert!(theirs.escrow.as_ref().is_some_and(|e| e.attempts == 1), "{theirs:?}");
    assert_eq!(snapshot(&dir.0), inbound_accounts, "the inbound target is untouched");

    // Watermarks are per flow: another inbound cycle moves only inbound's.
    let apps_watermark = apps["watermark"].clone();
    assert!(apps_watermark.is_string(), "{apps}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let c = config.clone();
    let (inbound2, apps2) = tokio::task::spawn_blocking(move || {
        let out = hrsync(&c, &["sync", "--flow", "inbound"], &[]);
        assert!(out.status.success(), "{}", text(&out));
        (json(&c, &["status", "--json"]), json(&c, &["status", "--json", "--flow", "apps"]))
    })
    .await
    .expect("task");
    assert_eq!(cycles(&inbound2), 3);
    assert_ne!(inbound2["watermark"], inbound["watermark"], "inbound's watermark moved");
    assert_eq!(apps2["watermark"], apps_watermark, "apps' watermark stayed");
    assert_eq!(cycles(&apps2), 1);
    assert_eq!(apps2["escrow"], apps["escrow"], "apps' escrow untouched by an inbound cycle");

    // The log is per flow too.
    let c = config.clone();
    let w = worker.clone();
    let (log_in, log_apps) = tokio::task::spawn_blocking(move || {
        (
            json(&c, &["logs", "--json", "--person", &w]),
            json(&c, &["logs", "--json", "--person", &w, "--flow", "apps"]),
        )
    })
    .await
    .expect("task");
    let statuses = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|e| e["status"].as_str().unwrap_or("").to_owned()).collect())
            .unwrap_or_default()
    };
    assert!(statuses(&log_in).iter().all(|s| s == "success" || s == "skipped"), "{log_in}");
    assert_eq!(statuses(&log_apps), ["failure"], "{log_apps}");

    // A flow that does not exist is named as such.
    let out = hrsync(&config, &["status", "--flow", "nope"], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no flow named `nope`; its flows are `inbound`, `apps`"),
        "{}",
        text(&out)
    );
    emu.shutdown().await;
}
