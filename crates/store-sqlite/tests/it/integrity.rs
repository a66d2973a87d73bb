//! A damaged, 0-byte, missing or emptied state file is refused at open,
//! naming the file, instead of passing one cycle and failing the next or
//! silently starting over (issue 13 item 18).

use hrsync_store::*;
use hrsync_store_sqlite::SqliteStore;
use jiff::Timestamp;
use std::path::Path;

/// A state with one finished cycle and some log rows (a few pages of them).
fn state_with_history(path: &Path) {
    let mut s = SqliteStore::open(path, INBOUND).unwrap();
    let now: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
    let c = s.begin_cycle(CycleKind::Full, None, now).unwrap();
    s.finish_cycle(
        c,
        CycleStatus::Completed,
        &serde_json::json!({"create": 0}),
        None,
        now,
        Some(("sf", now)),
    )
    .unwrap();
    // Closing the last connection folds the WAL into the file.
    drop(s);
}

fn refused(path: &Path) -> String {
    match SqliteStore::open(path, INBOUND) {
        Ok(_) => panic!("{} was opened", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_file_that_is_not_a_database_is_refused_naming_it() {
    let d = crate::sqlite::tempdir();
    let path = d.join("state.sqlite");
    std::fs::write(&path, b"this is not SQLite, just some text an editor saved\n".repeat(200))
        .unwrap();
    let e = refused(&path);
    assert!(e.contains(&path.display().to_string()), "{e}");
}

#[test]
fn a_damaged_state_is_refused_at_open_not_at_the_next_full_sync() {
    let d = crate::sqlite::tempdir();
    let path = d.join("state.sqlite");
    state_with_history(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8192, "the state spans several pages");
    // Overwrite the second page (a b-tree page) with garbage.
    for b in &mut bytes[4096..8192] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let _ = std::fs::remove_file(d.join("state.sqlite-wal"));
    let e = refused(&path);
    assert!(e.contains(&path.display().to_string()) && e.contains("corrupt"), "{e}");
}

#[test]
fn a_state_that_had_history_and_comes_back_empty_or_missing_is_refused() {
    let d = crate::sqlite::tempdir();
    let path = d.join("state.sqlite");
    state_with_history(&path);
    assert!(d.join("state.sqlite-history").exists(), "the history marker is written");

    // Truncated to 0 bytes.
    std::fs::write(&path, b"").unwrap();
    let _ = std::fs::remove_file(d.join("state.sqlite-wal"));
    let _ = std::fs::remove_file(d.join("state.sqlite-shm"));
    let e = refused(&path);
    assert!(e.contains(&path.display().to_string()), "{e}");

    // Deleted.
    std::fs::remove_file(&path).unwrap();
    let e = refused(&path);
    assert!(e.contains("history"), "{e}");
    assert!(!path.exists(), "a refused open creates nothing");

    // Replaced by a fresh state without cycles.
    let other = d.join("other.sqlite");
    drop(SqliteStore::open(&other, INBOUND).unwrap());
    std::fs::rename(&other, &path).unwrap();
    let e = refused(&path);
    assert!(e.contains("holds no cycle"), "{e}");

    // Starting over on purpose: delete the marker too.
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(d.join("state.sqlite-history")).unwrap();
    let s = SqliteStore::open(&path, INBOUND).unwrap();
    assert_eq!(s.watermark("sf").unwrap(), None);
}

#[test]
fn a_zero_byte_file_that_never_had_history_is_refused_too() {
    // hrsync never leaves a 0-byte state (a new one is linked into place
    // complete), so one was truncated or made by hand: say so.
    let d = crate::sqlite::tempdir();
    let path = d.join("state.sqlite");
    std::fs::write(&path, b"").unwrap();
    let e = refused(&path);
    assert!(e.contains(&path.display().to_string()), "{e}");
}
