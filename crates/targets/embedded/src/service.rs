//! The SQLite file behind the embedded target: the lock that keeps a second
//! process out, opening (pragmas, schema, value index), the grouped write
//! transaction, and the statements the operations run.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use hrsync_sqlite_wal as wal;
use hrsync_target::{Attributes, TargetError, TargetObject};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::request_builder::{by_key, in_list, index_keys, object_keys};
use crate::target::EmbeddedTarget;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS object (
    id         TEXT PRIMARY KEY,
    enabled    INTEGER NOT NULL DEFAULT 1,
    attributes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// Layout of the value index, recorded in `meta` under `layout`. Files
/// without it (the first layout: a rowid table with separate `(name, value)`
/// and `(id)` indexes and a cascading foreign key) get the index rebuilt.
const LAYOUT: &str = "2";

/// One B-tree keyed by what lookups ask for: a write touches one tree per key
/// instead of three (table, value index, id index). Removing an object's
/// keys needs its old values, which every writer reads anyway.
const VALUE_INDEX: &str = "
DROP TABLE IF EXISTS value_index;
CREATE TABLE value_index (
    name  TEXT NOT NULL,
    value TEXT NOT NULL,
    id    TEXT NOT NULL,
    PRIMARY KEY (name, value, id)
) WITHOUT ROWID;
";

/// Most values one `IN (...)` lookup binds; longer lists are asked in chunks.
pub const LOOKUP_CHUNK: usize = 512;

pub(crate) const ADD_KEY: &str =
    "INSERT OR IGNORE INTO value_index (name, value, id) VALUES (?1, ?2, ?3)";
pub(crate) const REMOVE_KEY: &str =
    "DELETE FROM value_index WHERE name = ?1 AND value = ?2 AND id = ?3";

/// The lock file of a target file: `<path>.lock`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// How long an open waits for a lock that looks held (see [`lock`]).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Take the OS lock beside `path`, held for as long as the file stays open
/// (an OS lock: a killed process never leaves a stale one). Two configs
/// that share one target file would otherwise write it concurrently: each
/// checks uniqueness against what the other has not committed yet
/// (duplicates), or waits on the other's write transaction ("database is
/// locked").
fn lock(path: &Path) -> Result<File, TargetError> {
    let lock = lock_path(path);
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock).map_err(
            |e| TargetError::Unavailable {
                operation: "open",
                message: format!("cannot open the lock file {}: {e}", lock.display()),
            },
        )?;
    // A child process this process spawns shares the lock between its fork
    // and its exec (flock belongs to the open file, and the child holds a
    // copy of every descriptor for that instant): a lock released and
    // taken again meanwhile looks held by another hrsync. A holder that
    // really is another process still holds it after a short wait.
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    let mut attempt = file.try_lock();
    while matches!(attempt, Err(std::fs::TryLockError::WouldBlock))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
        attempt = file.try_lock();
    }
    match attempt {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(TargetError::Unavailable {
            operation: "open",
            message: format!(
                "the embedded target {} is in use by another hrsync (it holds the lock {}); one process writes a target file at a time, so two configs must not share one",
                path.display(),
                lock.display()
            ),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(TargetError::Unavailable {
            operation: "open",
            message: format!("cannot lock {}: {e}", lock.display()),
        }),
    }
}

pub(crate) fn unavailable(operation: &'static str, e: rusqlite::Error) -> TargetError {
    TargetError::Unavailable { operation, message: e.to_string() }
}

impl EmbeddedTarget {
    /// Open or create the directory at `path`.
    pub fn open(path: &Path, unique: &[&str]) -> Result<Self, TargetError> {
        Self::open_indexed(path, unique, &[])
    }

    /// Like [`EmbeddedTarget::open`], also indexing `indexed` (the matching
    /// attributes) so `find` on them is a lookup. When the set differs from
    /// the one the file was built with, the index is rebuilt. Fails when
    /// another process (or handle) has the file open for writing.
    pub fn open_indexed(
        path: &Path,
        unique: &[&str],
        indexed: &[&str],
    ) -> Result<Self, TargetError> {
        // Before any connection: a second opener must not touch the file
        // (not even to rebuild the index).
        let lock = lock(path)?;
        let conn = Connection::open(path).map_err(|e| unavailable("open", e))?;
        let mut t = Self::init(conn, unique, indexed)?;
        t.path = Some(path.to_owned());
        t.lock = Some(lock);
        let checkpoints = Connection::open(path).map_err(|e| unavailable("open", e))?;
        t._checkpointer =
            Some(wal::Checkpointer::start(checkpoints, wal::INTERVAL).map_err(|e| {
                TargetError::Unavailable {
                    operation: "open",
                    message: format!("starting the WAL checkpoint thread: {e}"),
                }
            })?);
        Ok(t)
    }

    /// A read-only handle on an existing file, beside a writer that may hold
    /// the lock: it sees what the writer has flushed. Its writes fail. The
    /// file's own value index answers lookups (no rebuild).
    pub fn open_read_only(path: &Path) -> Result<Self, TargetError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| unavailable("open", e))?;
        configure(&conn)?;
        let indexed: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'indexed'", [], |r| r.get(0))
            .optional()
            .map_err(|e| unavailable("open", e))?;
        let indexed = indexed
            .map(|v| v.split('\n').filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(EmbeddedTarget {
            _checkpointer: None,
            conn: Mutex::new(conn),
            unique: Vec::new(),
            indexed,
            path: Some(path.to_owned()),
            read_only: true,
            lock: None,
        })
    }

    /// A private in-memory directory.
    pub fn in_memory(unique: &[&str]) -> Result<Self, TargetError> {
        Self::in_memory_indexed(unique, &[])
    }

    /// A private in-memory directory that also indexes `indexed`.
    pub fn in_memory_indexed(unique: &[&str], indexed: &[&str]) -> Result<Self, TargetError> {
        let conn = Connection::open_in_memory().map_err(|e| unavailable("open", e))?;
        Self::init(conn, unique, indexed)
    }

    fn init(conn: Connection, unique: &[&str], indexed: &[&str]) -> Result<Self, TargetError> {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| unavailable("open", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| unavailable("open", e))?;
        // Checkpoints run on their own thread (see `wal`); this is the net.
        conn.pragma_update(None, "wal_autocheckpoint", wal::WRITER_AUTOCHECKPOINT)
            .map_err(|e| unavailable("open", e))?;
        configure(&conn)?;
        conn.execute_batch(SCHEMA).map_err(|e| unavailable("open", e))?;
        let unique: Vec<String> = unique.iter().map(|s| (*s).to_owned()).collect();
        let mut all: Vec<String> =
            unique.iter().cloned().chain(indexed.iter().map(|s| (*s).to_owned())).collect();
        all.sort();
        all.dedup();
        let t = EmbeddedTarget {
            _checkpointer: None,
            conn: Mutex::new(conn),
            unique,
            indexed: all,
            path: None,
            read_only: false,
            lock: None,
        };
        t.ensure_index()?;
        Ok(t)
    }

    /// Rebuild the value index when its layout or the indexed set changed
    /// since the file was last opened (an attribute indexed now must be found
    /// on objects written before).
    fn ensure_index(&self) -> Result<(), TargetError> {
        let mut conn = self.connection();
        let want = self.indexed.join("\n");
        let meta = |conn: &Connection, key: &str| -> Result<Option<String>, TargetError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(|e| unavailable("open", e))
        };
        let layout = meta(&conn, "layout")?;
        if layout.as_deref() == Some(LAYOUT)
            && meta(&conn, "indexed")?.as_deref() == Some(want.as_str())
        {
            return Ok(());
        }
        let tx = conn.transaction().map_err(|e| unavailable("open", e))?;
        if layout.as_deref() == Some(LAYOUT) {
            tx.execute("DELETE FROM value_index", []).map_err(|e| unavailable("open", e))?;
        } else {
            tx.execute_batch(VALUE_INDEX).map_err(|e| unavailable("open", e))?;
        }
        {
            let mut stmt = tx
                .prepare("SELECT id, attributes FROM object")
                .map_err(|e| unavailable("open", e))?;
            let mut rows = stmt.query([]).map_err(|e| unavailable("open", e))?;
            while let Some(row) = rows.next().map_err(|e| unavailable("open", e))? {
                let id: String = row.get(0).map_err(|e| unavailable("open", e))?;
                let attrs: String = row.get(1).map_err(|e| unavailable("open", e))?;
                let obj = object(id, true, &attrs, "open")?;
                let keys = object_keys(&self.indexed, &obj.attributes);
                index_object(&tx, ADD_KEY, &obj.id, &keys, "open")?;
            }
        }
        for (key, value) in [("layout", LAYOUT), ("indexed", want.as_str())] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map_err(|e| unavailable("open", e))?;
        }
        tx.commit().map_err(|e| unavailable("open", e))
    }

    /// The connection inside the open write transaction. Writes are grouped
    /// in one SQLite transaction until `flush`: one commit per page of
    /// workers instead of one per object (each commit rewrites the touched
    /// index pages). The engine flushes before it records the page's outcomes
    /// in its store, so a crash loses only writes the store never heard of.
    pub(crate) fn writer(
        &self,
        operation: &'static str,
    ) -> Result<MutexGuard<'_, Connection>, TargetError> {
        if self.read_only {
            let file = self.path.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
            return Err(TargetError::Rejected {
                operation,
                message: format!("the embedded target {file} was opened read-only"),
            });
        }
        let conn = self.connection();
        if conn.is_autocommit() {
            run(&conn, "BEGIN IMMEDIATE", operation)?;
        }
        Ok(conn)
    }

    pub(crate) fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (every write is its own transaction), so a poisoned lock is usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every object, for tests and the demo's summary.
    pub fn all(&self) -> Result<Vec<TargetObject>, TargetError> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare("SELECT id, enabled, attributes FROM object ORDER BY id")
            .map_err(|e| unavailable("list", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?))
            })
            .map_err(|e| unavailable("list", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, enabled, attrs) = row.map_err(|e| unavailable("list", e))?;
            out.push(object(id, enabled, &attrs, "list")?);
        }
        Ok(out)
    }
}

/// Connection settings every handle uses.
fn configure(conn: &Connection) -> Result<(), TargetError> {
    // Uniqueness and matching read the value index for every worker.
    conn.pragma_update(None, "cache_size", -32_768).map_err(|e| unavailable("open", e))?;
    // Per-object savepoints inside the grouped transaction journal into
    // a sub-journal: keep it in memory, not in a temp file.
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(|e| unavailable("open", e))?;
    // Every hot statement is cached, including one `IN (...)` lookup per
    // power-of-two list length.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Run a parameterless statement through the statement cache (transaction
/// control runs per object and per page).
pub(crate) fn run(
    conn: &Connection,
    sql: &str,
    operation: &'static str,
) -> Result<(), TargetError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(|e| unavailable(operation, e))
}

/// Run `f` so that its writes happen entirely or not at all, inside the
/// grouped transaction (a savepoint per object).
pub(crate) fn atomically<T>(
    conn: &Connection,
    operation: &'static str,
    f: impl FnOnce(&Connection) -> Result<T, TargetError>,
) -> Result<T, TargetError> {
    run(conn, "SAVEPOINT object", operation)?;
    match f(conn) {
        Ok(v) => {
            run(conn, "RELEASE object", operation)?;
            Ok(v)
        }
        Err(e) => {
            // The error that matters is `e`; a failed rollback leaves the
            // grouped transaction to fail at flush, which the engine reports.
            if let Err(rollback) = run(conn, "ROLLBACK TO object", operation)
                .and_then(|()| run(conn, "RELEASE object", operation))
            {
                tracing::warn!(message = "Embedded target: could not roll back a failed write.", error = %rollback);
            }
            Err(e)
        }
    }
}

pub(crate) fn object(
    id: String,
    enabled: bool,
    attrs: &str,
    operation: &'static str,
) -> Result<TargetObject, TargetError> {
    let attributes: Attributes = serde_json::from_str(attrs).map_err(|e| {
        TargetError::Unavailable { operation, message: format!("corrupt object {id}: {e}") }
    })?;
    Ok(TargetObject { id, name: None, attributes, enabled: Some(enabled) })
}

pub(crate) fn to_json(attrs: &Attributes, operation: &'static str) -> Result<String, TargetError> {
    serde_json::to_string(attrs)
        .map_err(|e| TargetError::Rejected { operation, message: e.to_string() })
}

/// Run `sql` ([`ADD_KEY`] or [`REMOVE_KEY`]) for each of an object's keys.
pub(crate) fn index_object<'a>(
    conn: &Connection,
    sql: &str,
    id: &str,
    keys: impl IntoIterator<Item = &'a (&'a str, String)>,
    operation: &'static str,
) -> Result<(), TargetError> {
    let mut stmt = conn.prepare_cached(sql).map_err(|e| unavailable(operation, e))?;
    for (name, key) in keys {
        stmt.execute(params![name, key, id]).map_err(|e| unavailable(operation, e))?;
    }
    Ok(())
}

/// Insert a new object with an id of the database's choosing: opaque but
/// time-ordered (milliseconds, then 80 random bits, as UUIDv7), so new ids
/// append to the id index, here and in the engine's store, instead of
/// touching a random page each.
pub(crate) fn insert(conn: &Connection, enabled: bool, json: &str) -> Result<String, TargetError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO object (id, enabled, attributes) VALUES \
             (printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)) || lower(hex(randomblob(10))), ?1, ?2) \
             RETURNING id",
        )
        .map_err(|e| unavailable("create", e))?;
    insert.query_row(params![enabled, json], |r| r.get(0)).map_err(|e| unavailable("create", e))
}

pub(crate) fn store(
    conn: &Connection,
    id: &str,
    json: &str,
    enabled: bool,
) -> Result<(), TargetError> {
    conn.prepare_cached("UPDATE object SET attributes = ?2, enabled = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, json, enabled]))
        .map(drop)
        .map_err(|e| unavailable("update", e))
}

pub(crate) fn remove(conn: &Connection, id: &str) -> Result<(), TargetError> {
    conn.prepare_cached("DELETE FROM object WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .map(drop)
        .map_err(|e| unavailable("delete", e))
}

/// Whether an object other than `except` has `key` (already lower case) in
/// the value index for `attribute`.
pub(crate) fn key_taken(
    conn: &Connection,
    attribute: &str,
    key: &str,
    except: Option<&str>,
) -> Result<bool, TargetError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT 1 FROM value_index WHERE name = ?1 AND value = ?2 AND id IS NOT ?3 LIMIT 1",
        )
        .map_err(|e| unavailable("uniqueness check", e))?;
    stmt.exists(params![attribute, key, except]).map_err(|e| unavailable("uniqueness check", e))
}

/// Run an `IN (...)` lookup on `attribute` for `keys`, chunked, calling `row`
/// for every result row.
pub(crate) fn lookup_in(
    conn: &Connection,
    sql_head: &str,
    sql_tail: &str,
    attribute: &str,
    keys: &[&String],
    operation: &'static str,
    mut row: impl FnMut(&rusqlite::Row<'_>) -> Result<(), TargetError>,
) -> Result<(), TargetError> {
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        let (sql, slots) = in_list(sql_head, sql_tail, chunk.len(), LOOKUP_CHUNK);
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| unavailable(operation, e))?;
        stmt.raw_bind_parameter(1, attribute).map_err(|e| unavailable(operation, e))?;
        for i in 0..slots {
            let value = chunk.get(i).map(|k| k.as_str());
            stmt.raw_bind_parameter(i + 2, value).map_err(|e| unavailable(operation, e))?;
        }
        let mut rows = stmt.raw_query();
        while let Some(r) = rows.next().map_err(|e| unavailable(operation, e))? {
            row(r)?;
        }
    }
    Ok(())
}

/// Objects whose `attribute` has one of `keys` (lower case), read one by
/// one: for attributes outside the value index. Objects come in id order.
pub(crate) fn scan(
    conn: &Connection,
    attribute: &str,
    keys: &HashMap<String, Vec<&String>>,
    except: Option<&str>,
    operation: &'static str,
) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
    let mut stmt = conn
        .prepare_cached("SELECT id, enabled, attributes FROM object ORDER BY id")
        .map_err(|e| unavailable(operation, e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?))
        })
        .map_err(|e| unavailable(operation, e))?;
    let mut out: HashMap<String, Vec<TargetObject>> = HashMap::new();
    for row in rows {
        let (id, enabled, attrs) = row.map_err(|e| unavailable(operation, e))?;
        if except == Some(id.as_str()) {
            continue;
        }
        let obj = object(id, enabled, &attrs, operation)?;
        let Some(value) = obj.attributes.get(attribute) else { continue };
        let mut hits: Vec<String> =
            index_keys(value).into_iter().filter(|k| keys.contains_key(k)).collect();
        hits.sort();
        hits.dedup();
        for key in hits {
            out.entry(key).or_default().push(obj.clone());
        }
    }
    Ok(out)
}

/// [`scan`] for one value.
pub(crate) fn scan_one(
    conn: &Connection,
    attribute: &str,
    value: &str,
    except: Option<&str>,
    operation: &'static str,
) -> Result<bool, TargetError> {
    let given = [value.to_owned()];
    Ok(!scan(conn, attribute, &by_key(&given), except, operation)?.is_empty())
}

pub(crate) fn load(
    conn: &Connection,
    id: &str,
    operation: &'static str,
) -> Result<Option<TargetObject>, TargetError> {
    let mut stmt = conn
        .prepare_cached("SELECT enabled, attributes FROM object WHERE id = ?1")
        .map_err(|e| unavailable(operation, e))?;
    let row: Option<(bool, String)> = stmt
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(|e| unavailable(operation, e))?;
    row.map(|(enabled, attrs)| object(id.to_owned(), enabled, &attrs, operation)).transpose()
}
