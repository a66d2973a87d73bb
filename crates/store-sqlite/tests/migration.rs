//! A state file written by hrsync before flows (main at 9c4b40e, schema
//! version 2: `fixtures/make_state_v2.rs` made it from 300 emulated workers,
//! ten of them refused by the target) opens with today's code: its history,
//! joins, escrow, wake-ups and watermark read back as the inbound flow's,
//! and no other flow sees them.

use std::io::Read;

use hrsync_store::*;
use hrsync_store_sqlite::SqliteStore;
use jiff::Timestamp;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).expect("in range")
}

/// The fixture, unpacked into a private directory.
fn unpack() -> (std::path::PathBuf, std::path::PathBuf) {
    let gz = include_bytes!("fixtures/state-v2.sqlite.gz");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut bytes).expect("gunzip the fixture");
    let dir = std::env::temp_dir().join(format!("hrsync-store-v2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("state.sqlite");
    std::fs::write(&path, bytes).expect("write the fixture");
    (dir, path)
}

#[test]
fn a_state_file_written_before_flows_reads_back_as_the_inbound_flow() {
    let (dir, path) = unpack();
    let version = |p: &std::path::Path| -> i64 {
        rusqlite::Connection::open(p)
            .expect("open")
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version")
    };
    assert_eq!(version(&path), 2, "the fixture is of the schema before flows");
    let mut s = SqliteStore::open(&path, INBOUND).expect("the old state opens");

    // History: five cycles, newest first, with their windows and summaries.
    let cycles = s.cycles(100).expect("cycles");
    assert_eq!(cycles.iter().map(|c| c.id).collect::<Vec<_>>(), [5, 4, 3, 2, 1]);
    assert!(cycles.iter().all(|c| c.status == CycleStatus::CompletedWithErrors), "{cycles:?}");
    assert_eq!(cycles[4].kind, CycleKind::Full);
    assert_eq!(cycles[4].window, None);
    assert_eq!(cycles[3].kind, CycleKind::Incremental);
    assert_eq!(cycles[3].window, Some((t(1_795_514_390_000), t(1_795_514_520_000))));
    assert_eq!(cycles[4].summary["counts"]["create"], 280, "{}", cycles[4].summary);
    // The provisioning log: every worker of the full sync, then the retries.
    let log = s.log(&LogQuery::default()).expect("log");
    assert_eq!(log.len(), 341);
    let per_cycle: Vec<usize> = (1..=5)
        .map(|c| s.log(&LogQuery { cycle_id: Some(c), ..Default::default() }).expect("log").len())
        .collect();
    assert_eq!(per_cycle, [300, 13, 10, 9, 9]);
    let refused =
        s.log(&LogQuery { person_id: Some("100014".into()), ..Default::default() }).expect("log");
    assert_eq!(refused.len(), 5, "one failure per cycle");
    let first = refused.last().expect("oldest");
    assert_eq!(
        (first.cycle_id, first.action.as_str(), first.status.as_str()),
        (1, "none", "failure")
    );
    assert_eq!(
        first.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["import", "scope", "match", "export"]
    );
    assert!(
        first.error.as_deref().is_some_and(|e| e.contains("constraint violation for 100014")),
        "{first:?}"
    );
    let created =
        s.log(&LogQuery { person_id: Some("100000".into()), ..Default::default() }).expect("log");
    assert_eq!(created[0].action, "create");
    assert!(created[0].modified.iter().any(|c| c.attribute == "c" && c.new == "FR"));
    assert_eq!(
        s.log(&LogQuery { status: Some("failure".into()), ..Default::default() })
            .expect("log")
            .len(),
        47
    );

    // Joins.
    assert_eq!(
        s.account_counts().expect("counts"),
        AccountCounts { active: 281, disabled: 0, deleted: 0 }
    );
    let state = s.load(&["100000", "100014", "nobody"]).expect("load");
    let join = state["100000"].account.as_ref().expect("joined");
    assert_eq!(join.target_id, "01a23ae3b9c32f358185d5cb9c2276ef");
    assert_eq!(join.status, AccountStatus::Active);
    assert_eq!(join.exported["c"], "FR");
    assert_eq!(join.exported["cn"], "민준 김");
    assert_eq!(
        s.account_by_target("01a23ae3b9c32f358185d5cb9c2276ef").expect("by target"),
        Some(join.clone())
    );
    // Escrow: the nine workers still refused, flagged after five attempts.
    let escrow = state["100014"].escrow.as_ref().expect("escrowed");
    assert_eq!((escrow.attempts, escrow.flagged), (5, true));
    assert!(state["100014"].account.is_none());
    let escrows = s.escrows().expect("escrows");
    assert_eq!(escrows.len(), 9);
    assert!(escrows.iter().all(|e| e.flagged && e.last_error.contains("constraint violation")));
    // Wake-ups and the watermark.
    assert_eq!(s.next_wakeup().expect("wake-up"), Some(t(1_795_564_800_000)));
    let due = s.due_wakeups(t(1_795_564_800_000)).expect("due");
    assert_eq!(
        due.iter().map(|w| w.person_id.as_str()).collect::<Vec<_>>(),
        ["100003", "100006", "100008"],
        "the three terminations, at the end of their last day"
    );
    assert_eq!(
        s.watermark("successfactors:PerPerson").expect("watermark"),
        Some(t(1_795_515_966_000))
    );

    // The next cycle goes on where the old state stopped.
    let c = s.begin_cycle(CycleKind::Incremental, None, t(1_795_516_000_000)).expect("begin");
    assert!(c > 5);
    s.commit(
        c,
        &[Outcome {
            person_id: "100014".into(),
            account: Change::Keep,
            escrow: Change::Clear,
            wakeups: Change::Keep,
            log: None,
        }],
    )
    .expect("commit");
    assert_eq!(s.escrows().expect("escrows").len(), 8);
    drop(s);
    assert_eq!(version(&path), 3, "migrated in place");

    // Another flow on the same file sees none of it.
    let w = SqliteStore::open(&path, "writeback").expect("another flow");
    assert!(w.cycles(10).expect("cycles").is_empty());
    assert!(w.log(&LogQuery::default()).expect("log").is_empty());
    assert!(w.escrows().expect("escrows").is_empty());
    assert_eq!(w.account_counts().expect("counts"), AccountCounts::default());
    assert!(w.load(&["100000"]).expect("load").is_empty());
    assert_eq!(w.next_wakeup().expect("wake-up"), None);
    assert_eq!(w.watermark("successfactors:PerPerson").expect("watermark"), None);
    drop(w);
    let _ = std::fs::remove_dir_all(dir);
}
