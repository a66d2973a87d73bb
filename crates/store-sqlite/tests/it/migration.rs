//! A state file written by hrsync before flows opens with today's code and
//! migrates in place: its history, joins, escrow, wake-ups and watermark
//! read back as the inbound flow's, every table carries the flow, and no
//! other flow sees them.
//!
//! The fixture was written by the `hrsync` binary of main at 70c3b4e (schema
//! version 2) against its emulator: `fixtures/make_state_v2.sh` says how, and
//! what the 31 workers and three cycles in it are.

use std::io::Read;

use hrsync_store::*;
use hrsync_store_sqlite::SqliteStore;
use jiff::Timestamp;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).expect("in range")
}

/// A private directory removed on drop.
struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fixture, unpacked into a private directory (the committed file is
/// never opened, so the test can run again).
fn unpack(name: &str) -> (Dir, std::path::PathBuf) {
    let gz = include_bytes!("../fixtures/state-v2.sqlite.gz");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut bytes).expect("gunzip the fixture");
    let dir = std::env::temp_dir().join(format!("hrsync-store-v2-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("hrsync-state.sqlite");
    std::fs::write(&path, bytes).expect("write the fixture");
    (Dir(dir), path)
}

fn version(p: &std::path::Path) -> i64 {
    rusqlite::Connection::open(p)
        .expect("open")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version")
}

/// The nine workers the target refused in the full sync (`sn` taken).
const REFUSED: [&str; 9] =
    ["100006", "100013", "100020", "100022", "100023", "100024", "100025", "100027", "100029"];

#[test]
fn a_state_file_written_before_flows_reads_back_as_the_inbound_flow() {
    let (dir, path) = unpack("reads");
    assert_eq!(version(&path), 2, "the fixture is of the schema before flows");
    let mut s = SqliteStore::open(&path, INBOUND).expect("the old state opens");

    // History: three cycles, newest first, with their windows and summaries.
    let cycles = s.cycles(100).expect("cycles");
    assert_eq!(cycles.iter().map(|c| c.id).collect::<Vec<_>>(), [3, 2, 1]);
    assert!(cycles.iter().all(|c| c.status == CycleStatus::CompletedWithErrors), "{cycles:?}");
    assert_eq!(
        cycles.iter().map(|c| c.kind).collect::<Vec<_>>(),
        [CycleKind::Incremental, CycleKind::Incremental, CycleKind::Full]
    );
    assert_eq!(cycles[2].window, None);
    assert_eq!(cycles[2].started_at, t(1_796_297_509_329));
    assert!(cycles[2].finished_at.is_some_and(|f| f >= cycles[2].started_at));
    assert_eq!(cycles[1].window, Some((t(1_796_297_499_000), t(1_796_297_517_000))));
    assert_eq!(cycles[2].summary["counts"]["create"], 20, "{}", cycles[2].summary);
    assert_eq!(cycles[2].summary["counts"]["failed"], 9, "{}", cycles[2].summary);
    assert_eq!(cycles[1].summary["counts"]["update"], 1, "{}", cycles[1].summary);

    // The provisioning log: every worker of the full sync, then changes and
    // retries.
    assert_eq!(s.log(&LogQuery::default()).expect("log").len(), 56);
    let per_cycle: Vec<usize> = (1..=3)
        .map(|c| s.log(&LogQuery { cycle_id: Some(c), ..Default::default() }).expect("log").len())
        .collect();
    assert_eq!(per_cycle, [30, 13, 13]);
    let failures =
        s.log(&LogQuery { status: Some(LogStatus::Failure), ..Default::default() }).expect("log");
    assert_eq!(failures.len(), 9 + 8 + 8);
    assert!(failures.iter().all(|e| e.action == Action::Failed));
    // 100013: refused, renamed in HR, created by the retry, then unchanged.
    let fixed =
        s.log(&LogQuery { person_id: Some("100013".into()), ..Default::default() }).expect("log");
    let fixed: Vec<_> = fixed.iter().rev().collect();
    assert_eq!(
        fixed
            .iter()
            .map(|e| (e.cycle_id, e.action.as_str(), e.status.as_str()))
            .collect::<Vec<_>>(),
        // The old binary logged failures as `none`: read back as the typed `failed`.
        [(1, "failed", "failure"), (2, "create", "success"), (3, "skip", "skipped")]
    );
    assert_eq!(
        fixed[0].steps.iter().map(|s| (s.name.as_str(), s.status.as_str())).collect::<Vec<_>>(),
        [("import", "success"), ("scope", "success"), ("match", "success"), ("export", "failure")]
    );
    assert_eq!(
        fixed[0].error.as_deref(),
        Some(r#"create failed: an object with sn = "smith" already exists"#)
    );
    assert_eq!(fixed[1].target_id.as_deref(), Some("01a23bace62581c56420bb348469b365"));
    assert!(
        fixed[1]
            .modified
            .iter()
            .any(|c| c.attribute == "sn" && c.old.is_null() && c.new == "Fixture"),
        "{:?}",
        fixed[1].modified
    );
    // 100001: renamed in HR, an update of two attributes.
    let renamed =
        s.log(&LogQuery { person_id: Some("100001".into()), ..Default::default() }).expect("log");
    assert_eq!(renamed[1].action, Action::Update);
    assert_eq!(
        renamed[1]
            .modified
            .iter()
            .map(|c| (c.attribute.as_str(), c.old.as_str(), c.new.as_str()))
            .collect::<Vec<_>>(),
        [
            ("displayName", Some("Noah Lee"), Some("Noah Renamed")),
            ("sn", Some("Lee"), Some("Renamed"))
        ]
    );

    // Joins and the values last exported.
    assert_eq!(
        s.account_counts().expect("counts"),
        AccountCounts { active: 22, disabled: 0, deleted: 0 }
    );
    let state = s.load(&["100001", "100006", "100013", "100030", "nobody"]).expect("load");
    assert_eq!(state.len(), 4, "{:?}", state.keys().collect::<Vec<_>>());
    let join = state["100001"].join.as_ref().expect("joined");
    assert_eq!(join.person_id, "100001");
    assert_eq!(join.target_id, "01a23bacc9d77161f3681719ed4526fc");
    assert_eq!(join.status, AccountStatus::Active);
    assert_eq!(join.exported["sn"], "Renamed");
    assert_eq!(join.exported["c"], "FR");
    assert_eq!(join.exported["streetAddress"], "12 Rue de l'Élysée");
    assert_eq!(state["100013"].join.as_ref().expect("created").exported["l"], "東京");
    assert!(state["100013"].escrow.is_none(), "the fixed worker left escrow");
    assert!(state["100030"].join.is_some(), "the hire");
    assert_eq!(
        s.account_by_target("01a23bacc9d77161f3681719ed4526fc").expect("by target"),
        Some(join.clone())
    );
    let by_target = s
        .accounts_by_target(&[
            "01a23bacc9d77161f3681719ed4526fc",
            "01a23bace62581c56420bb348469b365",
            "no-such-object",
        ])
        .expect("by targets");
    assert_eq!(by_target.len(), 2);
    assert_eq!(by_target["01a23bace62581c56420bb348469b365"].person_id, "100013");

    // Escrow: the eight workers still refused, flagged after three attempts.
    assert!(state["100006"].join.is_none());
    let e = state["100006"].escrow.as_ref().expect("escrowed");
    assert_eq!((e.attempts, e.flagged), (3, true));
    assert_eq!(e.first_failed_at, t(1_796_297_509_329));
    assert_eq!(e.last_failed_at, t(1_796_297_521_196));
    assert_eq!(e.next_attempt_at, t(1_796_297_525_196));
    assert_eq!(e.last_error, r#"create failed: an object with sn = "williams" already exists"#);
    let escrows = s.escrows().expect("escrows");
    let mut ids: Vec<&str> = escrows.iter().map(|e| e.person_id.as_str()).collect();
    ids.sort_unstable();
    let still: Vec<&str> = REFUSED.iter().copied().filter(|p| *p != "100013").collect();
    assert_eq!(ids, still);
    assert!(escrows.iter().all(|e| e.flagged && e.last_error.contains("already exists")));
    assert_eq!(s.due_escrows(t(1_796_297_525_196), 100).expect("due").len(), 8);

    // Wake-ups and the watermark.
    assert_eq!(s.next_wakeup().expect("wake-up"), Some(t(1_796_338_800_000)));
    let due = s.due_wakeups(t(1_796_770_800_000)).expect("due");
    assert_eq!(
        due.iter().map(|w| (w.person_id.as_str(), w.reason.as_str())).collect::<Vec<_>>(),
        [
            ("100004", "end of last working day 2026-12-03 (userId 100004)"),
            ("100002", "end of last working day 2026-12-08 (userId 100002)"),
        ]
    );
    assert_eq!(
        s.watermark("successfactors:PerPerson").expect("watermark"),
        Some(t(1_796_297_521_196))
    );

    // The next cycle goes on where the old state stopped.
    let c = s.begin_cycle(CycleKind::Incremental, None, t(1_796_300_000_000)).expect("begin");
    assert_eq!(c, 4);
    s.commit(
        c,
        &[Outcome {
            person_id: "100006".into(),
            join: Change::Keep,
            escrow: Change::Clear,
            wakeups: Change::Keep,
            log: None,
        }],
    )
    .expect("commit");
    assert_eq!(s.escrows().expect("escrows").len(), 7);
    drop(s);
    assert_eq!(version(&path), 3, "migrated in place");

    // Another flow on the same file sees none of it.
    let w = SqliteStore::open(&path, "writeback").expect("another flow");
    assert!(w.cycles(10).expect("cycles").is_empty());
    assert!(w.log(&LogQuery::default()).expect("log").is_empty());
    assert!(w.escrows().expect("escrows").is_empty());
    assert_eq!(w.account_counts().expect("counts"), AccountCounts::default());
    assert!(w.load(&["100001", "100006"]).expect("load").is_empty());
    assert!(w.account_by_target("01a23bacc9d77161f3681719ed4526fc").expect("by target").is_none());
    assert_eq!(w.next_wakeup().expect("wake-up"), None);
    assert_eq!(w.watermark("successfactors:PerPerson").expect("watermark"), None);
    drop(w);
    drop(dir);
}

/// Every table of the migrated file keys its rows by flow, and every row
/// the old binary wrote is the inbound flow's.
#[test]
fn every_migrated_row_carries_the_inbound_flow() {
    let (_dir, path) = unpack("flows");
    let before: Vec<(String, i64)> = {
        let c = rusqlite::Connection::open(&path).expect("open");
        ["watermark", "account", "escrow", "wakeup", "cycle", "provisioning_log"]
            .iter()
            .map(|t| {
                let n: i64 = c
                    .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                    .expect("count");
                (t.to_string(), n)
            })
            .collect()
    };
    drop(SqliteStore::open(&path, INBOUND).expect("migrates"));
    let c = rusqlite::Connection::open(&path).expect("open");
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .expect("tables")
        .query_map([], |r| r.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    assert_eq!(
        tables,
        ["account", "cycle", "escrow", "lease", "provisioning_log", "wakeup", "watermark"]
    );
    for table in &tables {
        let has_flow: bool = c
            .query_row(
                &format!("SELECT count(*) FROM pragma_table_info('{table}') WHERE name = 'flow' AND \"notnull\" = 1"),
                [],
                |r| r.get::<_, i64>(0),
            )
            .expect("columns")
            == 1;
        assert!(has_flow, "{table} has a NOT NULL flow column");
    }
    for (table, n) in before {
        assert!(n > 0, "{table} held rows in the fixture");
        let (all, inbound): (i64, i64) = c
            .query_row(
                &format!("SELECT count(*), count(*) FILTER (WHERE flow = 'inbound') FROM {table}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("count");
        assert_eq!((all, inbound), (n, n), "{table}: every row kept, as the inbound flow's");
    }
    // Keys lead with the flow: the same worker may have a row in each flow.
    let account_pk: Vec<String> = c
        .prepare("SELECT name FROM pragma_table_info('account') WHERE pk > 0 ORDER BY pk")
        .expect("pk")
        .query_map([], |r| r.get(0))
        .expect("pk")
        .collect::<Result<_, _>>()
        .expect("pk");
    assert_eq!(account_pk, ["flow", "person_id"]);
}
