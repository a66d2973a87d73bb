//! The SQLite store against its contract: atomic batches, watermarks that move
//! only with their cycle, state that survives reopening the file.

use hrsync_store::*;
use hrsync_store_sqlite::SqliteStore;
use jiff::Timestamp;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn account(person: &str, target: &str, status: AccountStatus) -> Join {
    let mut exported = serde_json::Map::new();
    exported.insert("mail".into(), serde_json::json!(format!("{person}@example.com")));
    Join {
        person_id: person.into(),
        target_id: target.into(),
        status,
        exported,
        created_at: t("2026-01-01T00:00:00Z"),
        updated_at: t("2026-01-02T00:00:00Z"),
    }
}

fn log(action: &str, status: &str) -> LogEntry {
    let action = Action::parse(action).expect("a known action");
    let status = LogStatus::parse(status).expect("a known status");
    LogEntry {
        id: 0,
        cycle_id: 0,
        person_id: String::new(),
        at: t("2026-01-02T00:00:00Z"),
        action,
        status,
        target_id: None,
        steps: vec![Step {
            name: "import".into(),
            status: LogStatus::Success,
            detail: "1 record".into(),
        }],
        modified: vec![AttributeChange {
            attribute: "title".into(),
            old: serde_json::Value::Null,
            new: serde_json::json!("Engineer"),
        }],
        error: None,
    }
}

fn outcome(person: &str, acc: Change<Join>, action: &str) -> Outcome {
    Outcome {
        person_id: person.into(),
        join: acc,
        escrow: Change::Keep,
        wakeups: Change::Keep,
        log: Some(log(action, "success")),
    }
}

#[test]
fn state_survives_reopen_and_watermark_moves_only_with_its_cycle() {
    let dir = tempdir();
    let path = dir.join("state.sqlite");
    {
        let mut s = SqliteStore::open(&path, INBOUND).unwrap();
        assert_eq!(s.watermark("sf").unwrap(), None);
        let c = s.begin_cycle(CycleKind::Full, None, t("2026-01-02T00:00:00Z")).unwrap();
        s.commit(
            c,
            &[outcome("p1", Change::Set(account("p1", "t1", AccountStatus::Active)), "create")],
        )
        .unwrap();
        // Committed work without a finished cycle: no watermark yet.
        assert_eq!(s.watermark("sf").unwrap(), None);
        s.finish_cycle(
            c,
            CycleStatus::Completed,
            &serde_json::json!({"create": 1}),
            None,
            t("2026-01-02T00:01:00Z"),
            Some(("sf", t("2026-01-02T00:00:00Z"))),
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path, INBOUND).unwrap();
    assert_eq!(s.watermark("sf").unwrap(), Some(t("2026-01-02T00:00:00Z")));
    let state = s.load(&["p1", "nobody"]).unwrap();
    assert_eq!(state.len(), 1);
    assert_eq!(state["p1"].join, Some(account("p1", "t1", AccountStatus::Active)));
    assert_eq!(s.account_by_target("t1").unwrap().map(|a| a.person_id), Some("p1".to_owned()));
    let cycles = s.cycles(10).unwrap();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].status, CycleStatus::Completed);
    assert_eq!(cycles[0].summary["create"], 1);
    let logs = s.log(&LogQuery { person_id: Some("p1".into()), ..Default::default() }).unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].modified[0].new, serde_json::json!("Engineer"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_failing_batch_leaves_nothing_behind() {
    let mut s = SqliteStore::in_memory(INBOUND).unwrap();
    // Cycle 999 does not exist: the log row violates its foreign key, which
    // must roll back the account written earlier in the same batch.
    let err = s.commit(
        999,
        &[outcome("p1", Change::Set(account("p1", "t1", AccountStatus::Active)), "create")],
    );
    assert!(err.is_err());
    assert!(s.load(&["p1"]).unwrap().is_empty());
}

#[test]
fn one_target_object_joins_one_worker() {
    let mut s = SqliteStore::in_memory(INBOUND).unwrap();
    let c = s.begin_cycle(CycleKind::Full, None, t("2026-01-02T00:00:00Z")).unwrap();
    s.commit(
        c,
        &[outcome("p1", Change::Set(account("p1", "t1", AccountStatus::Active)), "create")],
    )
    .unwrap();
    let dup = s.commit(
        c,
        &[outcome("p2", Change::Set(account("p2", "t1", AccountStatus::Active)), "create")],
    );
    assert!(dup.is_err(), "two workers joined to one target object must be refused");
}

#[test]
fn escrow_wakeups_and_aborted_cycles() {
    let mut s = SqliteStore::in_memory(INBOUND).unwrap();
    let c = s
        .begin_cycle(
            CycleKind::Incremental,
            Some((t("2026-01-01T00:00:00Z"), t("2026-01-02T00:00:00Z"))),
            t("2026-01-02T00:00:00Z"),
        )
        .unwrap();
    let esc = |p: &str, next: &str| Escrow {
        person_id: p.into(),
        attempts: 2,
        first_failed_at: t("2026-01-01T00:00:00Z"),
        last_failed_at: t("2026-01-02T00:00:00Z"),
        next_attempt_at: t(next),
        last_error: "target said no".into(),
        flagged: false,
    };
    s.commit(
        c,
        &[
            Outcome {
                person_id: "late".into(),
                join: Change::Keep,
                escrow: Change::Set(esc("late", "2026-01-05T00:00:00Z")),
                wakeups: Change::Keep,
                log: None,
            },
            Outcome {
                person_id: "due".into(),
                join: Change::Keep,
                escrow: Change::Set(esc("due", "2026-01-03T00:00:00Z")),
                wakeups: Change::Set(vec![
                    (t("2026-01-04T23:00:00Z"), "last day of work".into()),
                    (t("2026-02-01T00:00:00Z"), "job change".into()),
                ]),
                log: None,
            },
        ],
    )
    .unwrap();
    let due = s.due_escrows(t("2026-01-04T00:00:00Z"), 10).unwrap();
    assert_eq!(due.iter().map(|e| e.person_id.as_str()).collect::<Vec<_>>(), ["due"]);
    assert_eq!(s.escrows().unwrap().len(), 2);
    assert_eq!(s.next_wakeup().unwrap(), Some(t("2026-01-04T23:00:00Z")));
    assert_eq!(s.due_wakeups(t("2026-01-05T00:00:00Z")).unwrap()[0].reason, "last day of work");
    s.clear_wakeups(&["due"], t("2026-01-05T00:00:00Z")).unwrap();
    assert_eq!(s.next_wakeup().unwrap(), Some(t("2026-02-01T00:00:00Z")));
    // Clearing the escrow removes it; a replaced wake-up list drops the old ones.
    s.commit(
        c,
        &[Outcome {
            person_id: "due".into(),
            join: Change::Keep,
            escrow: Change::Clear,
            wakeups: Change::Set(vec![]),
            log: None,
        }],
    )
    .unwrap();
    assert_eq!(s.escrows().unwrap().len(), 1);
    assert_eq!(s.next_wakeup().unwrap(), None);
    // A cycle a crash left running is marked aborted at the next start.
    assert_eq!(s.abort_running_cycles(t("2026-01-06T00:00:00Z")).unwrap(), 1);
    assert_eq!(s.cycles(1).unwrap()[0].status, CycleStatus::Aborted);
}

#[test]
fn log_filters_and_counts() {
    let mut s = SqliteStore::in_memory(INBOUND).unwrap();
    let c1 = s.begin_cycle(CycleKind::Full, None, t("2026-01-02T00:00:00Z")).unwrap();
    let mut failed = outcome("p2", Change::Keep, "create");
    if let Some(l) = failed.log.as_mut() {
        l.status = LogStatus::Failure;
        l.error = Some("constraint violation".into());
    }
    s.commit(
        c1,
        &[outcome("p1", Change::Set(account("p1", "t1", AccountStatus::Active)), "create"), failed],
    )
    .unwrap();
    let c2 = s.begin_cycle(CycleKind::Incremental, None, t("2026-01-03T00:00:00Z")).unwrap();
    s.commit(
        c2,
        &[outcome("p1", Change::Set(account("p1", "t1", AccountStatus::Disabled)), "disable")],
    )
    .unwrap();
    assert_eq!(
        s.log(&LogQuery { status: Some(LogStatus::Failure), ..Default::default() }).unwrap().len(),
        1
    );
    let p1 = s.log(&LogQuery { person_id: Some("p1".into()), ..Default::default() }).unwrap();
    assert_eq!(p1.iter().map(|l| l.action.as_str()).collect::<Vec<_>>(), ["disable", "create"]);
    assert_eq!(s.log(&LogQuery { cycle_id: Some(c2), ..Default::default() }).unwrap().len(), 1);
    assert_eq!(s.log(&LogQuery { limit: 2, ..Default::default() }).unwrap().len(), 2);
    assert_eq!(s.account_counts().unwrap(), AccountCounts { active: 0, disabled: 1, deleted: 0 });
}

pub(crate) fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hrsync-store-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[test]
fn a_state_file_of_the_first_schema_migrates_and_keeps_its_log() {
    let dir = tempdir();
    let path = dir.join("state.sqlite");
    {
        // What the previous version left: schema 0001 (rusqlite_migration
        // counts in user_version) and log rows with steps and modified
        // attributes as JSON objects.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../../migrations/0001_initial.sql")).unwrap();
        conn.execute_batch(
            r#"PRAGMA user_version = 1;
            INSERT INTO cycle (kind, started_ms, status) VALUES ('full', 1767312000000, 'completed');
            INSERT INTO provisioning_log (cycle_id, person_id, at_ms, action, status, target_id, steps, modified, error)
            VALUES (1, 'p1', 1767312000000, 'create', 'success', 't1',
                '[{"name":"import","status":"success","detail":"1 record"}]',
                '[{"attribute":"title","old":null,"new":"Engineer"}]', NULL);
            INSERT INTO account (person_id, target_id, status, exported, created_ms, updated_ms)
            VALUES ('p1', 't1', 'active', '{"title":"Engineer"}', 1767312000000, 1767312000000);"#,
        )
        .unwrap();
    }
    let mut s = SqliteStore::open(&path, INBOUND).unwrap();
    let old = s.log(&LogQuery::default()).unwrap();
    assert_eq!(old.len(), 1);
    let mut want = log("create", "success");
    want.id = old[0].id;
    want.cycle_id = 1;
    want.person_id = "p1".into();
    want.at = t("2026-01-02T00:00:00Z");
    want.target_id = Some("t1".into());
    assert_eq!(old[0], want, "an entry written by the previous version reads back unchanged");
    assert_eq!(
        s.load(&["p1"]).unwrap()["p1"].join.as_ref().map(|a| a.exported["title"].clone()),
        Some(serde_json::json!("Engineer"))
    );

    // New entries (stored compactly) read back the same, after the old ones.
    let c = s.begin_cycle(CycleKind::Incremental, None, t("2026-01-03T00:00:00Z")).unwrap();
    let mut newer = outcome("p1", Change::Keep, "update");
    if let Some(l) = newer.log.as_mut() {
        l.modified.push(AttributeChange {
            attribute: "mail".into(),
            old: serde_json::json!(["a@x"]),
            new: serde_json::Value::Null,
        });
        l.error = Some("partly".into());
    }
    s.commit(c, std::slice::from_ref(&newer)).unwrap();
    let logs = s.log(&LogQuery { person_id: Some("p1".into()), ..Default::default() }).unwrap();
    assert_eq!(
        logs.iter().map(|l| l.action.as_str()).collect::<Vec<_>>(),
        ["update", "create"],
        "newest first"
    );
    assert!(logs[0].id > logs[1].id);
    let mut want = newer.log.unwrap();
    want.id = logs[0].id;
    want.cycle_id = c;
    want.person_id = "p1".into();
    assert_eq!(logs[0], want);
    drop(s);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3, "migrated to the latest schema");
    // Reopening an up-to-date file migrates nothing and loses nothing.
    let s = SqliteStore::open(&path, INBOUND).unwrap();
    assert_eq!(s.log(&LogQuery::default()).unwrap().len(), 2);
    std::fs::remove_dir_all(dir).ok();
}
