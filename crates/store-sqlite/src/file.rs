//! The state file before and after it is opened: refusing a damaged, 0-byte,
//! missing or emptied state instead of silently starting over.
//!
//! A new state is created aside (`<file>.new-<pid>`), migrated, and linked
//! into place complete, so hrsync itself never leaves a 0-byte or
//! schema-less state behind, even when killed while creating it. Once the
//! state holds a cycle, a marker `<file>-history` is written beside it: a
//! state that is later missing or holds no cycle while the marker is there
//! was deleted, truncated or replaced, and is refused.

use std::path::{Path, PathBuf};

use hrsync_store::StoreError;
use rusqlite::Connection;
use rusqlite_migration::Migrations;

use crate::error::{self, Error, Result, corrupt};

/// The marker that records that the state at `path` has held cycles.
pub(crate) fn marker(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push("-history");
    path.with_file_name(name)
}

const MARKER_TEXT: &str = "This file records that the hrsync state file beside it (same name \
without -history) has held cycles. hrsync refuses to start over silently if that state goes \
missing or comes back empty. To start a new state on purpose, delete both.\n";

/// Before opening: refuse what must not be opened; create a missing state
/// complete. Returns whether the state was created now.
pub(crate) fn prepare(
    path: &Path,
    name: &str,
    migrations: fn() -> Migrations<'static>,
) -> std::result::Result<bool, StoreError> {
    let marker = marker(path);
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == 0 && !has_wal(path) => {
            if marker.exists() {
                Err(lost(
                    name,
                    &marker,
                    "is an empty file (0 bytes), but it held hrsync's history (truncated or replaced?)",
                ))
            } else {
                Err(StoreError::Corrupt {
                    store: name.to_owned(),
                    what: "file".into(),
                    key: "0 bytes".into(),
                    cause: "the state file is empty; hrsync never leaves one so (it was truncated \
                            or made by hand): restore it from a backup, or delete it to start a new state"
                        .into(),
                })
            }
        }
        Ok(_) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if marker.exists() {
                return Err(lost(
                    name,
                    &marker,
                    "is missing, but it held hrsync's history (deleted or moved?)",
                ));
            }
            create(path, name, migrations)
        }
        Err(e) => Err(StoreError::Unavailable {
            store: name.to_owned(),
            what: "reading the state file's metadata".into(),
            source: Box::new(e),
        }),
    }
}

/// A WAL with content beside a 0-byte database: the database's pages are
/// all in the WAL still (a new file killed before its first checkpoint).
fn has_wal(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

fn lost(name: &str, marker: &Path, what: &str) -> StoreError {
    StoreError::HistoryLost {
        store: name.to_owned(),
        detail: format!(
            "the state file {what}: its joins, escrow and wake-ups would be lost without a word. \
             Restore it from a backup. To start a new state on purpose (the next full sync \
             re-joins existing accounts by their matching attributes), delete {} as well.",
            marker.display()
        ),
    }
}

/// Create the state aside, migrated, and link it into place.
fn create(
    path: &Path,
    name: &str,
    migrations: fn() -> Migrations<'static>,
) -> std::result::Result<bool, StoreError> {
    let mut aside = path.as_os_str().to_os_string();
    aside.push(format!(".new-{}", std::process::id()));
    let aside = PathBuf::from(aside);
    let _ = std::fs::remove_file(&aside);
    let made = (|| -> std::result::Result<(), StoreError> {
        let mut conn =
            Connection::open(&aside).map_err(|e| error::sql(name, "creating the state file", e))?;
        migrations().to_latest(&mut conn).map_err(|e| StoreError::Unavailable {
            store: name.to_owned(),
            what: "creating the schema".into(),
            source: Box::new(e),
        })?;
        conn.close().map_err(|(_, e)| error::sql(name, "creating the state file", e))
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_file(&aside);
        return Err(e);
    }
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(true),
        // Another process created it meanwhile: open theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        // No hard links here (some network file systems): let SQLite create
        // it in place, as before.
        Err(e) => {
            tracing::debug!(message = "Creating the state file in place.", store = name, error = %e);
            Ok(true)
        }
    }
}

/// `PRAGMA quick_check`: the file's b-trees are sound (a page or two of
/// garbage, a bad header). Reads every page once.
pub(crate) fn quick_check(conn: &Connection, name: &str) -> Result<()> {
    let mut stmt = conn.prepare("PRAGMA quick_check(5)")?;
    let mut rows = stmt.query([])?;
    let mut problems = Vec::new();
    while let Some(row) = rows.next()? {
        let line: String = row.get(0).unwrap_or_else(|_| "unreadable check result".into());
        if line != "ok" {
            problems.push(line);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(corrupt(name, "file", "PRAGMA quick_check", problems.join("; ")))
    }
}

/// After migrating: a state with a marker must hold cycles; a state with
/// cycles gets its marker. Returns whether the marker exists.
pub(crate) fn check_history(conn: &Connection, path: &Path, name: &str) -> Result<bool> {
    let marker = marker(path);
    let has_cycles: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM cycle)", [], |r| r.get(0))?;
    match (marker.exists(), has_cycles) {
        (true, false) => Err(Error::Store(lost(
            name,
            &marker,
            "holds no cycle, but it held hrsync's history (replaced by an empty one?)",
        ))),
        (false, true) => Ok(write_marker(path)),
        (marked, _) => Ok(marked),
    }
}

/// Write the marker; a failure (read-only directory) is only logged.
/// Returns whether it exists now.
pub(crate) fn write_marker(path: &Path) -> bool {
    let marker = marker(path);
    match std::fs::write(&marker, MARKER_TEXT) {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(
                message = "Cannot write the state's history marker; a lost state will not be noticed.",
                marker = %marker.display(),
                %error,
            );
            false
        }
    }
}
