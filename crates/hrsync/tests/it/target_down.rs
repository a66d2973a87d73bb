//! A directory out of reach fails the cycle as a whole (issue 13, item 9):
//! with a wrong bind password or slapd stopped, `hrsync sync` exits
//! nonzero naming the target and the cause, the state's watermark does not
//! move and no worker is escrowed or flagged; once fixed, the next sync
//! does everything the failed ones could not (everyone provisioned, the
//! change made while slapd was down applied).

use crate::common;
use crate::crash_ldap::{PASSWORD_VAR, make_tree, snapshot, write_config};

use std::path::Path;

use common::{TempDir, hrsync, text};
use hrsync_store::{CycleStatus, Store};
use hrsync_store_sqlite::SqliteStore;
use hrsync_testkit::Slapd;
use sf_emulator::Emulator;
use sf_emulator::events::HrEvent;
use sf_emulator::model::Scenario;

const WORKERS: usize = 60;

async fn sync(config: &Path, password: &str, full: bool) -> std::process::Output {
    let env = vec![(PASSWORD_VAR, password.to_owned())];
    let config = config.to_path_buf();
    let args: &'static [&'static str] = if full { &["sync", "--full"] } else { &["sync"] };
    tokio::task::spawn_blocking(move || hrsync(&config, args, &env)).await.expect("blocking task")
}

/// The state file's watermark, escrows and newest cycle.
fn state(dir: &Path) -> (Option<jiff::Timestamp>, usize, hrsync_store::Cycle) {
    let store = SqliteStore::open(&dir.join("state.sqlite"), hrsync_store::INBOUND).expect("state");
    let watermark = store.watermark("successfactors:PerPerson").expect("watermark");
    let escrows = store.escrows().expect("escrows").len();
    let cycle = store.cycles(1).expect("cycles").into_iter().next().expect("a cycle was recorded");
    (watermark, escrows, cycle)
}

fn assert_failed_naming(out: &std::process::Output, cause: &str) {
    assert!(!out.status.success(), "the sync must fail: {}", text(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the ldap target cannot be reached") && stderr.contains(cause),
        "the error names the target and {cause:?}: {}",
        text(out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_directory_fails_the_sync_and_moves_nothing() {
    let mut slapd = Slapd::start().expect("slapd starts (needs the slapd package)");
    let emu = Emulator::builder().workers(WORKERS).seed(91).start().await.expect("emulator");
    let dir = TempDir::new("target-down");
    let base = make_tree(&slapd, "down");
    let config = write_config(&dir.0, &emu.base_url(), &slapd, &base);

    // Wrong bind password: a failed cycle, nothing provisioned, no escrow.
    let out = sync(&config, "not-the-password", true).await;
    assert_failed_naming(&out, "invalidCredentials");
    let (watermark, escrows, cycle) = state(&dir.0);
    assert_eq!(watermark, None, "the watermark did not move");
    assert_eq!(escrows, 0, "no worker escrowed for the target's fault");
    assert_eq!(cycle.status, CycleStatus::Failed, "{cycle:?}");
    assert!(cycle.message.unwrap_or_default().contains("invalidCredentials"));
    assert!(snapshot(&slapd, &base).await.is_empty());

    // Fixed: the next sync provisions everyone.
    let out = sync(&config, slapd.service_password(), true).await;
    assert!(out.status.success(), "{}", text(&out));
    let provisioned = snapshot(&slapd, &base).await;
    assert!(provisioned.len() > WORKERS * 8 / 10, "{}", provisioned.len());
    let (watermark, escrows, _) = state(&dir.0);
    assert!(watermark.is_some());
    assert_eq!(escrows, 0);

    // A name change, then slapd stops: the incremental sync fails as a
    // whole and leaves the watermark where it was.
    let renamed = emu.scenarios()[&Scenario::Active][0].clone();
    emu.apply(&HrEvent::NameChange {
        person_id_external: renamed.clone(),
        effective: None,
        first_name: None,
        last_name: Some("Downtime-Renamed".into()),
        preferred_name: None,
    })
    .expect("name change");
    slapd.stop();
    let out = sync(&config, slapd.service_password(), false).await;
    assert_failed_naming(&out, "cannot connect to ldap://");
    let (after, escrows, cycle) = state(&dir.0);
    assert_eq!(after, watermark, "the watermark did not move");
    assert_eq!(escrows, 0, "no worker escrowed for the target's fault");
    assert_eq!(cycle.status, CycleStatus::Failed, "{cycle:?}");

    // Back: the next incremental sync still sees the change.
    slapd.restart().expect("slapd restarts");
    let out = sync(&config, slapd.service_password(), false).await;
    assert!(out.status.success(), "{}", text(&out));
    let now = snapshot(&slapd, &base).await;
    assert_eq!(now.len(), provisioned.len(), "no entry added or lost");
    let entry = now.get(&renamed).expect("the renamed worker's entry");
    assert_eq!(entry.get("sn").map(Vec::as_slice), Some(&["Downtime-Renamed".to_owned()][..]));
    emu.shutdown().await;
}
