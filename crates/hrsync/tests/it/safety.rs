//! Issue 13, safety items through the real binary: on-demand's exit codes.

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
