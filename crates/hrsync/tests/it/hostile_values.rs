//! One hostile worker through a full sync with the built-in AD mapping
//! (issue 13 item 15): a worker with a 1 MB job title fails with the size
//! named, a worker with NUL, CR/LF and bidi controls in the name gets clean
//! AD names, every other worker is provisioned, and neither the target nor
//! the state file holds the oversized value.

use crate::common;

use common::{TempDir, hrsync, snapshot, text, write_config};
use sf_emulator::Emulator;
use sf_emulator::events::HrEvent;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hostile_worker_fails_and_the_others_provision() {
    let emu = Emulator::builder().workers(20).seed(11).start().await.expect("emulator");
    let active = emu.scenarios()[&sf_emulator::model::Scenario::Active].clone();
    let (dirty, huge) = (active[0].clone(), active[1].clone());
    emu.apply(&HrEvent::NameChange {
        person_id_external: dirty.clone(),
        effective: None,
        first_name: Some("Jo\0hn\r\n".into()),
        last_name: Some("\u{202e}Smith\u{200e}".into()),
        preferred_name: None,
    })
    .expect("name change");
    let title = "x".repeat(1024 * 1024);
    emu.apply(&HrEvent::Transfer {
        person_id_external: huge.clone(),
        effective: None,
        department: None,
        location: None,
        company: None,
        manager_id: None,
        job_title: Some(title.clone()),
    })
    .expect("transfer");
    let dir = TempDir::new("hostile-values");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    let c = config.clone();
    let out = tokio::task::spawn_blocking(move || hrsync(&c, &["sync", "--full"], &[]))
        .await
        .expect("task");
    let accounts = snapshot(&dir.0);
    assert!(!accounts.contains_key(&huge), "the oversized worker is not provisioned");
    let missing: Vec<&String> =
        active.iter().filter(|p| **p != huge && !accounts.contains_key(*p)).collect();
    assert!(
        missing.is_empty(),
        "every other active worker is provisioned: {missing:?} {}",
        text(&out)
    );
    let a = &accounts[&dirty];
    assert_eq!(a["sAMAccountName"], serde_json::json!("John.Smith"), "{a:?}");
    assert_eq!(a["userPrincipalName"], serde_json::json!("John.Smith@contoso.com"));
    assert_eq!(a["givenName"], serde_json::json!("John"));
    assert_eq!(a["sn"], serde_json::json!("Smith"));
    let c = config.clone();
    let logs =
        tokio::task::spawn_blocking(move || hrsync(&c, &["logs", "--status", "failure"], &[]))
            .await
            .expect("task");
    let logs_text = String::from_utf8_lossy(&logs.stdout).into_owned();
    assert!(
        logs_text.contains(&huge)
            && logs_text
                .contains("title: the value is 1048576 bytes of UTF-8, more than the 65536"),
        "{}",
        text(&logs)
    );
    for file in ["state.sqlite", "target.sqlite"] {
        let size = std::fs::metadata(dir.0.join(file)).map(|m| m.len()).unwrap_or(0);
        assert!(size < 1024 * 1024, "{file} is {size} bytes: the 1 MB title got in");
    }
    emu.shutdown().await;
}
